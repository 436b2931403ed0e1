package convert

import (
	"encoding/binary"
	"fmt"
	"math"

	"scope/models/convert/tflite"
)

// constant is a tensor whose value is known at conversion time: a weight, a bias, a
// shape, or the folded result of DEQUANTIZE or DENSIFY. Floats are kept as float32 and
// integers as int64 whatever their TFLite width; typ remembers the TFLite type.
type constant struct {
	typ   tflite.TensorType
	shape []int64
	f     []float32 // float types
	i     []int64   // integer and bool types
}

func (c *constant) isFloat() bool {
	return c.f != nil || c.typ == tflite.Float32 || c.typ == tflite.Float16
}

func (c *constant) len() int64 { return numel(c.shape) }

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// decodeConstant reads a dense constant buffer of the given type and shape.
func decodeConstant(typ tflite.TensorType, shape []int64, data []byte) (*constant, error) {
	n := numel(shape)
	size := int64(typ.Size())
	if size == 0 {
		return nil, fmt.Errorf("constant of type %s is not supported", typ)
	}
	if n < 0 || int64(len(data)) != n*size {
		return nil, fmt.Errorf("constant of shape %v and type %s needs %d bytes, buffer has %d", shape, typ, n*size, len(data))
	}
	c := &constant{typ: typ, shape: shape}
	le := binary.LittleEndian
	switch typ {
	case tflite.Float32:
		c.f = make([]float32, n)
		for k := range c.f {
			c.f[k] = math.Float32frombits(le.Uint32(data[4*k:]))
		}
	case tflite.Float16:
		c.f = make([]float32, n)
		for k := range c.f {
			c.f[k] = halfToFloat(le.Uint16(data[2*k:]))
		}
	case tflite.Float64:
		c.f = make([]float32, n)
		for k := range c.f {
			c.f[k] = float32(math.Float64frombits(le.Uint64(data[8*k:])))
		}
	case tflite.Int32:
		c.i = make([]int64, n)
		for k := range c.i {
			c.i[k] = int64(int32(le.Uint32(data[4*k:])))
		}
	case tflite.Int64:
		c.i = make([]int64, n)
		for k := range c.i {
			c.i[k] = int64(le.Uint64(data[8*k:]))
		}
	case tflite.Int16:
		c.i = make([]int64, n)
		for k := range c.i {
			c.i[k] = int64(int16(le.Uint16(data[2*k:])))
		}
	case tflite.Int8:
		c.i = make([]int64, n)
		for k := range c.i {
			c.i[k] = int64(int8(data[k]))
		}
	case tflite.Uint8, tflite.Bool:
		c.i = make([]int64, n)
		for k := range c.i {
			c.i[k] = int64(data[k])
		}
	default:
		return nil, fmt.Errorf("constant of type %s is not supported", typ)
	}
	return c, nil
}

// halfToFloat converts an IEEE 754 binary16 value to float32 exactly.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf, nan
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// subnormal: value = mant * 2^-24
	f := float32(mant) * (1.0 / (1 << 24))
	if sign != 0 {
		f = -f
	}
	return f
}

// dequantize returns the float values of an integer constant: scale * (q - zero_point),
// per tensor or per channel along q.Dim.
func dequantize(c *constant, q *tflite.Quantization) (*constant, error) {
	if c.i == nil {
		return nil, fmt.Errorf("dequantizing a %s constant", c.typ)
	}
	out := &constant{typ: tflite.Float32, shape: c.shape, f: make([]float32, len(c.i))}
	if len(q.Scale) == 1 {
		s, z := q.Scale[0], q.ZeroPoint[0]
		for k, v := range c.i {
			out.f[k] = s * float32(v-z)
		}
		return out, nil
	}
	d := int(q.Dim)
	if d < 0 || d >= len(c.shape) || c.shape[d] != int64(len(q.Scale)) {
		return nil, fmt.Errorf("%d per-channel scales along dimension %d of shape %v", len(q.Scale), d, c.shape)
	}
	inner := numel(c.shape[d+1:])
	ch := c.shape[d]
	for k, v := range c.i {
		j := (int64(k) / inner) % ch
		out.f[k] = q.Scale[j] * float32(v-q.ZeroPoint[j])
	}
	return out, nil
}

// permute returns the constant transposed by perm (out dim i = in dim perm[i]).
func (c *constant) permute(perm []int) *constant {
	r := len(c.shape)
	outShape := make([]int64, r)
	for i, p := range perm {
		outShape[i] = c.shape[p]
	}
	inStride := strides(c.shape)
	n := c.len()
	out := &constant{typ: c.typ, shape: outShape}
	if c.f != nil {
		out.f = make([]float32, n)
	} else {
		out.i = make([]int64, n)
	}
	if r == 4 && c.f != nil {
		// The weights' case, as plain loops: s0..s3 step through the source.
		s0, s1, s2, s3 := inStride[perm[0]], inStride[perm[1]], inStride[perm[2]], inStride[perm[3]]
		k := 0
		for a := range outShape[0] {
			for b := range outShape[1] {
				for d := range outShape[2] {
					base := a*s0 + b*s1 + d*s2
					for e := range outShape[3] {
						out.f[k] = c.f[base+e*s3]
						k++
					}
				}
			}
		}
		return out
	}
	idx := make([]int64, r)
	for k := int64(0); k < n; k++ {
		src := int64(0)
		for i := range r {
			src += idx[i] * inStride[perm[i]]
		}
		if c.f != nil {
			out.f[k] = c.f[src]
		} else {
			out.i[k] = c.i[src]
		}
		for i := r - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < outShape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

func strides(shape []int64) []int64 {
	s := make([]int64, len(shape))
	acc := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// densify expands a sparse constant (TFLite's TACO-style SparsityParameters) to a dense
// buffer of the given shape. elem is the element size in bytes; values are the stored
// non-zero (block) values, in traversal order.
func densify(shape []int64, elem int, sp *tflite.Sparsity, values []byte) ([]byte, error) {
	if elem <= 0 {
		// A type without a fixed size (string, or one this reader does not know): a
		// fuzzed file divided by zero below.
		return nil, fmt.Errorf("a sparse tensor needs a type with a fixed element size")
	}
	n := len(shape)
	order := sp.TraversalOrder
	k := len(order) - n
	if k < 0 || len(sp.Dims) != len(order) || len(sp.BlockMap) != k {
		return nil, fmt.Errorf("sparsity has %d traversal dimensions, %d metadata entries and %d block dimensions for a rank-%d tensor",
			len(order), len(sp.Dims), len(sp.BlockMap), n)
	}
	seen := make([]bool, n+k)
	for _, o := range order {
		if o < 0 || int(o) >= n+k || seen[o] {
			return nil, fmt.Errorf("traversal order %v is not a permutation of 0..%d", order, n+k-1)
		}
		seen[o] = true
	}
	blockSize := make([]int64, k)
	for j, b := range sp.BlockMap {
		if b < 0 || int(b) >= n {
			return nil, fmt.Errorf("block map %v refers to dimension %d of %d", sp.BlockMap, b, n)
		}
		for l, o := range order {
			if int(o) == n+j {
				blockSize[j] = int64(sp.Dims[l].DenseSize)
			}
		}
		if blockSize[j] <= 0 || shape[b]%blockSize[j] != 0 {
			return nil, fmt.Errorf("block size %d does not divide dimension %d (%d)", blockSize[j], b, shape[b])
		}
	}
	total := numel(shape)
	// A sparse file must not make us allocate without bound: real sparse weights are
	// at most a few times smaller than dense ones.
	if total*int64(elem) > 1<<28 || total > 1024*int64(len(values)/max(elem, 1)+1) {
		return nil, fmt.Errorf("dense shape %v is too large for %d stored bytes", shape, len(values))
	}
	out := make([]byte, total*int64(elem))
	st := strides(shape)
	coord := make([]int64, n+k)
	used := 0
	var walk func(level int, prev int64) error
	walk = func(level int, prev int64) error {
		if level == len(order) {
			pos := int64(0)
			for i := range n {
				c := coord[i]
				for j, b := range sp.BlockMap {
					if int(b) == i {
						c = c*blockSize[j] + coord[n+j]
					}
				}
				if c < 0 || c >= shape[i] {
					return fmt.Errorf("sparse index %d outside dimension %d of size %d", c, i, shape[i])
				}
				pos += c * st[i]
			}
			if (used+1)*elem > len(values) {
				return fmt.Errorf("sparse tensor has %d bytes of values, the index needs more", len(values))
			}
			copy(out[pos*int64(elem):], values[used*elem:(used+1)*elem])
			used++
			return nil
		}
		d := sp.Dims[level]
		dim := order[level]
		switch d.Format {
		case tflite.Dense:
			size := int64(d.DenseSize)
			if size <= 0 || size > total {
				return fmt.Errorf("dense dimension %d has size %d", level, size)
			}
			for x := int64(0); x < size; x++ {
				coord[dim] = x
				if err := walk(level+1, prev*size+x); err != nil {
					return err
				}
			}
		case tflite.SparseCSR:
			if prev < 0 || prev+1 >= int64(len(d.Segments)) {
				return fmt.Errorf("sparse dimension %d: segment %d of %d", level, prev, len(d.Segments)-1)
			}
			lo, hi := int64(d.Segments[prev]), int64(d.Segments[prev+1])
			if lo < 0 || hi < lo || hi > int64(len(d.Indices)) {
				return fmt.Errorf("sparse dimension %d: segment [%d, %d) outside %d indices", level, lo, hi, len(d.Indices))
			}
			for x := lo; x < hi; x++ {
				coord[dim] = int64(d.Indices[x])
				if err := walk(level+1, x); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("dimension %d has unknown storage type %d", level, d.Format)
		}
		return nil
	}
	if err := walk(0, 0); err != nil {
		return nil, err
	}
	if used*elem != len(values) {
		return nil, fmt.Errorf("sparse tensor has %d values, its index uses %d", len(values)/elem, used)
	}
	return out, nil
}
