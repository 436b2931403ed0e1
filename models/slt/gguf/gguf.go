// Package gguf reads, checks and writes GGUF files (the format llama.cpp loads) in pure Go.
//
// ggml aborts the whole process on some malformed files, so every GGUF is checked here before
// llama.cpp sees it: Open reads the header, the key/value metadata and the tensor table, and
// verifies that counts, strings, shapes, types and data offsets are consistent and that every
// tensor's bytes lie inside the file. A truncated or corrupt file becomes an error that names
// the file and what is wrong.
//
// Write produces a GGUF (version 3, little-endian, 32-byte alignment) from metadata and tensors
// held in memory; it is used for LoRA adapters, quantised models and test models.
package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// ErrFormat is wrapped by every error that describes a malformed file.
var ErrFormat = errors.New("malformed GGUF")

// ValueType is the type tag of a metadata value.
type ValueType uint32

const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
)

// DefaultAlignment is the data alignment used when general.alignment is absent.
const DefaultAlignment = 32

// KV is one metadata entry. Value holds one of uint8, int8, uint16, int16, uint32, int32,
// float32, bool, string, uint64, int64, float64, or a slice of one of these.
type KV struct {
	Key   string
	Value any
}

// TensorInfo describes one tensor of a file: its name, shape (innermost dimension first, as
// ggml orders it), element type and where its bytes are.
type TensorInfo struct {
	Name   string
	Shape  []uint64
	Type   TensorType
	Offset uint64 // from the start of the data section
	Size   uint64 // bytes
}

// Elements is the number of values in the tensor.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is the checked header and tensor table of a GGUF file.
type File struct {
	Path       string
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset int64 // file offset of the data section
	FileSize   int64
}

// Get returns the value of key.
func (f *File) Get(key string) (any, bool) {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// String returns the string value of key, or "" when it is absent or not a string.
func (f *File) String(key string) string {
	v, _ := f.Get(key)
	s, _ := v.(string)
	return s
}

// Uint returns an unsigned integer value of key (any integer type), and whether it exists.
func (f *File) Uint(key string) (uint64, bool) {
	v, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// Tensor returns the tensor named name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// ReadTensor reads the bytes of t from r, the file f was read from.
func (f *File) ReadTensor(r io.ReaderAt, t TensorInfo) ([]byte, error) {
	b := make([]byte, t.Size)
	if _, err := r.ReadAt(b, f.DataOffset+int64(t.Offset)); err != nil {
		return nil, fmt.Errorf("%s: reading tensor %q: %w", f.Path, t.Name, err)
	}
	return b, nil
}

// Open reads and checks the GGUF file at path. It reads only the header and tensor table.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a GGUF file", path)
	}
	f, err := Read(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Path = path
	return f, nil
}

// Read reads and checks a GGUF file of size bytes from r.
func Read(r io.Reader, size int64) (*File, error) {
	d := &decoder{r: bufio.NewReaderSize(r, 1<<16), size: size}
	f := &File{FileSize: size, Alignment: DefaultAlignment}
	magic := d.bytes(4, "magic")
	if d.err == nil && string(magic) != "GGUF" {
		return nil, fmt.Errorf("%w: not a GGUF file (magic %q, want \"GGUF\")", ErrFormat, magic)
	}
	f.Version = d.u32("version")
	if d.err == nil && (f.Version < 2 || f.Version > 3) {
		return nil, fmt.Errorf("%w: unsupported GGUF version %d (want 2 or 3)", ErrFormat, f.Version)
	}
	nTensors := d.u64("tensor count")
	nKV := d.u64("metadata count")
	if d.err != nil {
		return nil, d.err
	}
	// Each tensor entry takes at least 8+4+8+4+8 bytes, each key/value at least 8+4+1.
	if nTensors > uint64(size)/32 || nKV > uint64(size)/13 {
		return nil, fmt.Errorf("%w: header claims %d tensors and %d metadata entries, more than a %d-byte file can hold (truncated or corrupt)", ErrFormat, nTensors, nKV, size)
	}
	seen := make(map[string]bool, nKV)
	for i := uint64(0); i < nKV && d.err == nil; i++ {
		key := d.str("metadata key")
		if d.err != nil {
			break
		}
		if key == "" || seen[key] {
			return nil, fmt.Errorf("%w: metadata entry %d has an empty or duplicate key %q", ErrFormat, i, key)
		}
		seen[key] = true
		t := ValueType(d.u32("type of " + key))
		v := d.value(t, key, true)
		f.KV = append(f.KV, KV{key, v})
	}
	if d.err != nil {
		return nil, d.err
	}
	if a, ok := f.Get("general.alignment"); ok {
		al, isU32 := a.(uint32)
		if !isU32 || al == 0 || al&(al-1) != 0 {
			return nil, fmt.Errorf("%w: general.alignment must be a power of two uint32, got %v", ErrFormat, a)
		}
		f.Alignment = uint64(al)
	}
	names := make(map[string]bool, nTensors)
	for i := uint64(0); i < nTensors && d.err == nil; i++ {
		var t TensorInfo
		t.Name = d.str("tensor name")
		nd := d.u32("dimension count of " + t.Name)
		if d.err != nil {
			break
		}
		if names[t.Name] || t.Name == "" {
			return nil, fmt.Errorf("%w: tensor %d has an empty or duplicate name %q", ErrFormat, i, t.Name)
		}
		names[t.Name] = true
		if nd == 0 || nd > 4 {
			return nil, fmt.Errorf("%w: tensor %q has %d dimensions (want 1 to 4)", ErrFormat, t.Name, nd)
		}
		n := uint64(1)
		for j := uint32(0); j < nd; j++ {
			dim := d.u64("shape of " + t.Name)
			if d.err == nil && (dim == 0 || dim > math.MaxInt64/n) {
				return nil, fmt.Errorf("%w: tensor %q has an invalid or overflowing dimension %d", ErrFormat, t.Name, dim)
			}
			n *= dim
			t.Shape = append(t.Shape, dim)
		}
		t.Type = TensorType(d.u32("type of " + t.Name))
		t.Offset = d.u64("offset of " + t.Name)
		if d.err != nil {
			break
		}
		tt, ok := typeTraits[t.Type]
		if !ok {
			return nil, fmt.Errorf("%w: tensor %q has unknown type %d", ErrFormat, t.Name, uint32(t.Type))
		}
		if t.Shape[0]%tt.block != 0 {
			return nil, fmt.Errorf("%w: tensor %q of type %s has %d values per row, not a multiple of its block size %d", ErrFormat, t.Name, t.Type, t.Shape[0], tt.block)
		}
		t.Size = n / tt.block * tt.size
		f.Tensors = append(f.Tensors, t)
	}
	if d.err != nil {
		return nil, d.err
	}
	f.DataOffset = int64(pad(uint64(d.off), f.Alignment))
	var want uint64
	for _, t := range f.Tensors {
		if t.Offset != want {
			return nil, fmt.Errorf("%w: tensor %q starts at data offset %d, expected %d", ErrFormat, t.Name, t.Offset, want)
		}
		end := uint64(f.DataOffset) + t.Offset + t.Size
		if end > uint64(size) {
			return nil, fmt.Errorf("%w: tensor %q needs bytes up to %d but the file has %d (truncated?)", ErrFormat, t.Name, end, size)
		}
		want = pad(t.Offset+t.Size, f.Alignment)
	}
	return f, nil
}

func pad(n, a uint64) uint64 { return (n + a - 1) / a * a }

type decoder struct {
	r    *bufio.Reader
	off  int64
	size int64
	err  error
	buf  [8]byte
}

func (d *decoder) fail(what string, err error) {
	if d.err != nil {
		return
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		d.err = fmt.Errorf("%w: file ends at byte %d while reading %s (truncated?)", ErrFormat, d.size, what)
		return
	}
	d.err = fmt.Errorf("reading %s at byte %d: %w", what, d.off, err)
}

func (d *decoder) bytes(n int64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || d.off+n > d.size {
		d.fail(what, io.ErrUnexpectedEOF)
		return nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.fail(what, err)
		return nil
	}
	d.off += n
	return b
}

func (d *decoder) fixed(n int, what string) []byte {
	if d.err != nil {
		return d.buf[:n]
	}
	if _, err := io.ReadFull(d.r, d.buf[:n]); err != nil {
		d.fail(what, err)
		return d.buf[:n]
	}
	d.off += int64(n)
	return d.buf[:n]
}

func (d *decoder) u32(what string) uint32 { return binary.LittleEndian.Uint32(d.fixed(4, what)) }
func (d *decoder) u64(what string) uint64 { return binary.LittleEndian.Uint64(d.fixed(8, what)) }

func (d *decoder) str(what string) string {
	n := d.u64("length of " + what)
	if d.err != nil {
		return ""
	}
	if n > uint64(d.size-d.off) {
		d.err = fmt.Errorf("%w: %s at byte %d claims %d bytes, past the end of the file (truncated?)", ErrFormat, what, d.off, n)
		return ""
	}
	return string(d.bytes(int64(n), what))
}

var scalarSize = map[ValueType]int64{
	TypeUint8: 1, TypeInt8: 1, TypeBool: 1, TypeUint16: 2, TypeInt16: 2,
	TypeUint32: 4, TypeInt32: 4, TypeFloat32: 4, TypeUint64: 8, TypeInt64: 8, TypeFloat64: 8,
}

func (d *decoder) value(t ValueType, key string, allowArray bool) any {
	switch t {
	case TypeUint8:
		return d.fixed(1, key)[0]
	case TypeInt8:
		return int8(d.fixed(1, key)[0])
	case TypeBool:
		b := d.fixed(1, key)[0]
		if d.err == nil && b > 1 {
			d.err = fmt.Errorf("%w: %s: bool value %d", ErrFormat, key, b)
		}
		return b == 1
	case TypeUint16:
		return binary.LittleEndian.Uint16(d.fixed(2, key))
	case TypeInt16:
		return int16(binary.LittleEndian.Uint16(d.fixed(2, key)))
	case TypeUint32:
		return d.u32(key)
	case TypeInt32:
		return int32(d.u32(key))
	case TypeFloat32:
		return math.Float32frombits(d.u32(key))
	case TypeUint64:
		return d.u64(key)
	case TypeInt64:
		return int64(d.u64(key))
	case TypeFloat64:
		return math.Float64frombits(d.u64(key))
	case TypeString:
		return d.str(key)
	case TypeArray:
		if !allowArray {
			break
		}
		et := ValueType(d.u32("element type of " + key))
		n := d.u64("length of " + key)
		if d.err != nil {
			return nil
		}
		min := scalarSize[et]
		if et == TypeString {
			min = 8
		}
		if min == 0 {
			d.err = fmt.Errorf("%w: %s: array of unsupported element type %d", ErrFormat, key, et)
			return nil
		}
		if n > uint64(d.size-d.off)/uint64(min) {
			d.err = fmt.Errorf("%w: %s: array of %d elements does not fit in the file (truncated?)", ErrFormat, key, n)
			return nil
		}
		return d.array(et, int(n), key)
	}
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s has unknown value type %d", ErrFormat, key, t)
	}
	return nil
}

func (d *decoder) array(et ValueType, n int, key string) any {
	switch et {
	case TypeString:
		out := make([]string, n)
		for i := range out {
			out[i] = d.str(key)
		}
		return out
	case TypeFloat32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(d.u32(key))
		}
		return out
	case TypeInt32:
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(d.u32(key))
		}
		return out
	case TypeUint32:
		out := make([]uint32, n)
		for i := range out {
			out[i] = d.u32(key)
		}
		return out
	}
	// Rare element types: keep them generically as []any.
	out := make([]any, n)
	for i := range out {
		out[i] = d.value(et, key, false)
	}
	return out
}

// Tensor is a tensor to write: its data must hold exactly the bytes its type and shape need.
type Tensor struct {
	Name  string
	Shape []uint64 // innermost dimension first
	Type  TensorType
	Data  []byte
}

// Write writes a GGUF version 3 file with the given metadata and tensors to w. Tensors are
// written in the order given; metadata in the order given.
func Write(w io.Writer, kv []KV, tensors []Tensor) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	e := &encoder{w: bw}
	e.raw([]byte("GGUF"))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kv)))
	align := uint64(DefaultAlignment)
	for _, x := range kv {
		if x.Key == "general.alignment" {
			a, ok := x.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("general.alignment must be a power-of-two uint32, got %v", x.Value)
			}
			align = uint64(a)
		}
		e.str(x.Key)
		if err := e.value(x.Value, true); err != nil {
			return fmt.Errorf("metadata %q: %w", x.Key, err)
		}
	}
	var off uint64
	for _, t := range tensors {
		tt, ok := typeTraits[t.Type]
		if !ok {
			return fmt.Errorf("tensor %q: unknown type %d", t.Name, uint32(t.Type))
		}
		if len(t.Shape) == 0 || len(t.Shape) > 4 {
			return fmt.Errorf("tensor %q: %d dimensions (want 1 to 4)", t.Name, len(t.Shape))
		}
		info := TensorInfo{Shape: t.Shape}
		if t.Shape[0]%tt.block != 0 {
			return fmt.Errorf("tensor %q: row length %d is not a multiple of %s's block size %d", t.Name, t.Shape[0], t.Type, tt.block)
		}
		if want := info.Elements() / tt.block * tt.size; uint64(len(t.Data)) != want {
			return fmt.Errorf("tensor %q: %d bytes of data, shape %v of %s needs %d", t.Name, len(t.Data), t.Shape, t.Type, want)
		}
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(off)
		off = pad(off+uint64(len(t.Data)), align)
	}
	e.pad(align)
	for _, t := range tensors {
		e.raw(t.Data)
		e.pad(align)
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

type encoder struct {
	w   *bufio.Writer
	n   uint64
	err error
}

func (e *encoder) raw(b []byte) {
	if e.err != nil {
		return
	}
	_, e.err = e.w.Write(b)
	e.n += uint64(len(b))
}

func (e *encoder) u32(v uint32) { e.raw(binary.LittleEndian.AppendUint32(nil, v)) }
func (e *encoder) u64(v uint64) { e.raw(binary.LittleEndian.AppendUint64(nil, v)) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.raw([]byte(s)) }
func (e *encoder) pad(a uint64) { e.raw(make([]byte, pad(e.n, a)-e.n)) }

func (e *encoder) value(v any, top bool) error {
	le := binary.LittleEndian
	typed := func(t ValueType, b []byte) {
		if top {
			e.u32(uint32(t))
		}
		e.raw(b)
	}
	switch x := v.(type) {
	case uint8:
		typed(TypeUint8, []byte{x})
	case int8:
		typed(TypeInt8, []byte{byte(x)})
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		typed(TypeBool, []byte{b})
	case uint16:
		typed(TypeUint16, le.AppendUint16(nil, x))
	case int16:
		typed(TypeInt16, le.AppendUint16(nil, uint16(x)))
	case uint32:
		typed(TypeUint32, le.AppendUint32(nil, x))
	case int32:
		typed(TypeInt32, le.AppendUint32(nil, uint32(x)))
	case float32:
		typed(TypeFloat32, le.AppendUint32(nil, math.Float32bits(x)))
	case uint64:
		typed(TypeUint64, le.AppendUint64(nil, x))
	case int64:
		typed(TypeInt64, le.AppendUint64(nil, uint64(x)))
	case float64:
		typed(TypeFloat64, le.AppendUint64(nil, math.Float64bits(x)))
	case string:
		if top {
			e.u32(uint32(TypeString))
		}
		e.str(x)
	case []string:
		e.arrayHeader(TypeString, len(x))
		for _, s := range x {
			e.str(s)
		}
	case []float32:
		e.arrayHeader(TypeFloat32, len(x))
		for _, f := range x {
			e.u32(math.Float32bits(f))
		}
	case []int32:
		e.arrayHeader(TypeInt32, len(x))
		for _, i := range x {
			e.u32(uint32(i))
		}
	case []uint32:
		e.arrayHeader(TypeUint32, len(x))
		for _, i := range x {
			e.u32(i)
		}
	case []any:
		if len(x) == 0 {
			e.arrayHeader(TypeUint8, 0)
			return nil
		}
		et, err := valueType(x[0])
		if err != nil {
			return err
		}
		e.arrayHeader(et, len(x))
		for _, y := range x {
			if t, _ := valueType(y); t != et {
				return fmt.Errorf("array mixes element types")
			}
			if err := e.value(y, false); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unsupported metadata value type %T", v)
	}
	return nil
}

func (e *encoder) arrayHeader(t ValueType, n int) {
	e.u32(uint32(TypeArray))
	e.u32(uint32(t))
	e.u64(uint64(n))
}

func valueType(v any) (ValueType, error) {
	switch v.(type) {
	case uint8:
		return TypeUint8, nil
	case int8:
		return TypeInt8, nil
	case bool:
		return TypeBool, nil
	case uint16:
		return TypeUint16, nil
	case int16:
		return TypeInt16, nil
	case uint32:
		return TypeUint32, nil
	case int32:
		return TypeInt32, nil
	case float32:
		return TypeFloat32, nil
	case uint64:
		return TypeUint64, nil
	case int64:
		return TypeInt64, nil
	case float64:
		return TypeFloat64, nil
	case string:
		return TypeString, nil
	}
	return 0, fmt.Errorf("unsupported array element type %T", v)
}

// SortedKeys returns the metadata keys in lexical order (for printing).
func (f *File) SortedKeys() []string {
	keys := make([]string, len(f.KV))
	for i, kv := range f.KV {
		keys[i] = kv.Key
	}
	sort.Strings(keys)
	return keys
}

// Rewrite reads the GGUF at src, lets edit change its metadata and tensors, and writes
// the result to dst (which may be src: the file is replaced by a rename).
func Rewrite(src, dst string, edit func(kv []KV, ts []Tensor) ([]KV, []Tensor)) error {
	f, err := Open(src)
	if err != nil {
		return err
	}
	r, err := os.Open(src)
	if err != nil {
		return err
	}
	defer r.Close()
	var ts []Tensor
	for _, ti := range f.Tensors {
		data, err := f.ReadTensor(r, ti)
		if err != nil {
			return err
		}
		ts = append(ts, Tensor{Name: ti.Name, Shape: append([]uint64(nil), ti.Shape...), Type: ti.Type, Data: data})
	}
	kv, ts := edit(append([]KV(nil), f.KV...), ts)
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".rewrite-*.gguf")
	if err != nil {
		return err
	}
	err = Write(tmp, kv, ts)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}
