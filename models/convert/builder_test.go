package convert

import (
	"encoding/binary"
	"math"

	flatbuffers "github.com/google/flatbuffers/go"

	"scope/models/convert/tflite"
)

// tfl builds small TFLite flatbuffers for tests, with the same schema facts the reader
// uses (field ids as in schema.fbs).
type tfl struct {
	tensors []tflTensor
	ops     []tflOp
	inputs  []int32
	outputs []int32
}

type tflTensor struct {
	name     string
	shape    []int32
	typ      tflite.TensorType
	data     []byte
	scale    []float32
	zero     []int64
	qdim     int32
	sparsity *tflite.Sparsity
}

type tflOp struct {
	code    tflite.Builtin
	custom  string
	inputs  []int32
	outputs []int32
	optType uint8
	opts    []optField
}

// optField is one field of an options table: an int32, a byte or an int32 vector.
type optField struct {
	id   int
	i32  int32
	u8   uint8
	ints []int32
	kind byte // 'i', 'b', 'v', 'f'
	f32  float32
}

func oi(id int, v int32) optField    { return optField{id: id, i32: v, kind: 'i'} }
func ob(id int, v uint8) optField    { return optField{id: id, u8: v, kind: 'b'} }
func ov(id int, v ...int32) optField { return optField{id: id, ints: v, kind: 'v'} }
func of(id int, v float32) optField  { return optField{id: id, f32: v, kind: 'f'} }

// tensor adds a tensor and returns its index.
func (m *tfl) tensor(name string, typ tflite.TensorType, shape []int32, data []byte) int32 {
	m.tensors = append(m.tensors, tflTensor{name: name, shape: shape, typ: typ, data: data})
	return int32(len(m.tensors) - 1)
}

func (m *tfl) f32(name string, shape []int32, v ...float32) int32 {
	var data []byte
	if v != nil {
		data = f32bytes(v)
	}
	return m.tensor(name, tflite.Float32, shape, data)
}

func (m *tfl) i32(name string, shape []int32, v ...int32) int32 {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(x))
	}
	return m.tensor(name, tflite.Int32, shape, data)
}

func (m *tfl) quant(t int32, scale float32, zero int64) {
	m.tensors[t].scale, m.tensors[t].zero = []float32{scale}, []int64{zero}
}

func (m *tfl) op(code tflite.Builtin, in, out []int32, optType uint8, opts ...optField) {
	m.ops = append(m.ops, tflOp{code: code, inputs: in, outputs: out, optType: optType, opts: opts})
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func ivec(b *flatbuffers.Builder, v []int32) flatbuffers.UOffsetT {
	b.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependInt32(v[i])
	}
	return b.EndVector(len(v))
}

func tvec(b *flatbuffers.Builder, v []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	b.StartVector(4, len(v), 4)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependUOffsetT(v[i])
	}
	return b.EndVector(len(v))
}

func (m *tfl) bytes() []byte {
	b := flatbuffers.NewBuilder(1024)
	// Operator codes: one per distinct (code, custom).
	type key struct {
		code   tflite.Builtin
		custom string
	}
	codeIdx := map[key]uint32{}
	var codes []flatbuffers.UOffsetT
	for _, op := range m.ops {
		k := key{op.code, op.custom}
		if _, ok := codeIdx[k]; ok {
			continue
		}
		var cs flatbuffers.UOffsetT
		if op.custom != "" {
			cs = b.CreateString(op.custom)
		}
		b.StartObject(4)
		b.PrependByteSlot(0, byte(min(op.code, 127)), 0)
		if op.custom != "" {
			b.PrependUOffsetTSlot(1, cs, 0)
		}
		b.PrependInt32Slot(2, 1, 1)
		b.PrependInt32Slot(3, int32(op.code), 0)
		codeIdx[k] = uint32(len(codes))
		codes = append(codes, b.EndObject())
	}
	// Buffers: 0 is the empty sentinel.
	bufs := []flatbuffers.UOffsetT{}
	b.StartObject(3)
	bufs = append(bufs, b.EndObject())
	bufIdx := make([]uint32, len(m.tensors))
	for i, t := range m.tensors {
		if t.data == nil {
			continue
		}
		d := b.CreateByteVector(t.data)
		b.StartObject(3)
		b.PrependUOffsetTSlot(0, d, 0)
		bufIdx[i] = uint32(len(bufs))
		bufs = append(bufs, b.EndObject())
	}
	var tensors []flatbuffers.UOffsetT
	for i, t := range m.tensors {
		name := b.CreateString(t.name)
		shape := ivec(b, t.shape)
		var q, sp flatbuffers.UOffsetT
		if t.scale != nil {
			b.StartVector(4, len(t.scale), 4)
			for k := len(t.scale) - 1; k >= 0; k-- {
				b.PrependFloat32(t.scale[k])
			}
			sc := b.EndVector(len(t.scale))
			b.StartVector(8, len(t.zero), 8)
			for k := len(t.zero) - 1; k >= 0; k-- {
				b.PrependInt64(t.zero[k])
			}
			zp := b.EndVector(len(t.zero))
			b.StartObject(7)
			b.PrependUOffsetTSlot(2, sc, 0)
			b.PrependUOffsetTSlot(3, zp, 0)
			b.PrependInt32Slot(6, t.qdim, 0)
			q = b.EndObject()
		}
		if s := t.sparsity; s != nil {
			var dims []flatbuffers.UOffsetT
			for _, d := range s.Dims {
				var seg, idx flatbuffers.UOffsetT
				if d.Format == tflite.SparseCSR {
					sv := ivec(b, d.Segments)
					b.StartObject(1)
					b.PrependUOffsetTSlot(0, sv, 0)
					seg = b.EndObject()
					iv := ivec(b, d.Indices)
					b.StartObject(1)
					b.PrependUOffsetTSlot(0, iv, 0)
					idx = b.EndObject()
				}
				b.StartObject(6)
				b.PrependByteSlot(0, byte(d.Format), 0)
				b.PrependInt32Slot(1, d.DenseSize, 0)
				if seg != 0 {
					b.PrependByteSlot(2, 1, 0) // Int32Vector
					b.PrependUOffsetTSlot(3, seg, 0)
					b.PrependByteSlot(4, 1, 0)
					b.PrependUOffsetTSlot(5, idx, 0)
				}
				dims = append(dims, b.EndObject())
			}
			order := ivec(b, s.TraversalOrder)
			dm := tvec(b, dims)
			b.StartObject(3)
			b.PrependUOffsetTSlot(0, order, 0)
			b.PrependUOffsetTSlot(2, dm, 0)
			sp = b.EndObject()
		}
		b.StartObject(9)
		b.PrependUOffsetTSlot(0, shape, 0)
		b.PrependByteSlot(1, byte(t.typ), 0)
		b.PrependUint32Slot(2, bufIdx[i], 0)
		b.PrependUOffsetTSlot(3, name, 0)
		if q != 0 {
			b.PrependUOffsetTSlot(4, q, 0)
		}
		if sp != 0 {
			b.PrependUOffsetTSlot(6, sp, 0)
		}
		tensors = append(tensors, b.EndObject())
	}
	var ops []flatbuffers.UOffsetT
	for _, op := range m.ops {
		var opts flatbuffers.UOffsetT
		if op.optType != 0 {
			vecs := map[int]flatbuffers.UOffsetT{}
			maxID := 0
			for _, f := range op.opts {
				if f.kind == 'v' {
					vecs[f.id] = ivec(b, f.ints)
				}
				maxID = max(maxID, f.id)
			}
			b.StartObject(maxID + 1)
			for _, f := range op.opts {
				switch f.kind {
				case 'i':
					b.PrependInt32Slot(f.id, f.i32, -12345) // never equal: always written
				case 'b':
					b.PrependByteSlot(f.id, f.u8, 0xee)
				case 'f':
					b.PrependFloat32Slot(f.id, f.f32, -12345)
				case 'v':
					b.PrependUOffsetTSlot(f.id, vecs[f.id], 0)
				}
			}
			opts = b.EndObject()
		}
		in, out := ivec(b, op.inputs), ivec(b, op.outputs)
		b.StartObject(13)
		b.PrependUint32Slot(0, codeIdx[key{op.code, op.custom}], 0)
		b.PrependUOffsetTSlot(1, in, 0)
		b.PrependUOffsetTSlot(2, out, 0)
		if opts != 0 {
			b.PrependByteSlot(3, op.optType, 0)
			b.PrependUOffsetTSlot(4, opts, 0)
		}
		ops = append(ops, b.EndObject())
	}
	tv, iv, ov, opv := tvec(b, tensors), ivec(b, m.inputs), ivec(b, m.outputs), tvec(b, ops)
	name := b.CreateString("main")
	b.StartObject(5)
	b.PrependUOffsetTSlot(0, tv, 0)
	b.PrependUOffsetTSlot(1, iv, 0)
	b.PrependUOffsetTSlot(2, ov, 0)
	b.PrependUOffsetTSlot(3, opv, 0)
	b.PrependUOffsetTSlot(4, name, 0)
	sg := b.EndObject()
	cv, sgv, bv := tvec(b, codes), tvec(b, []flatbuffers.UOffsetT{sg}), tvec(b, bufs)
	desc := b.CreateString("test model")
	b.StartObject(8)
	b.PrependUint32Slot(0, 3, 0)
	b.PrependUOffsetTSlot(1, cv, 0)
	b.PrependUOffsetTSlot(2, sgv, 0)
	b.PrependUOffsetTSlot(3, desc, 0)
	b.PrependUOffsetTSlot(4, bv, 0)
	root := b.EndObject()
	b.FinishWithFileIdentifier(root, []byte("TFL3"))
	return b.FinishedBytes()
}
