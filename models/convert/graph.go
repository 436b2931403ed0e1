package convert

import (
	"encoding/binary"
	"fmt"
	"math"

	"scope/models/convert/onnxpb"
	"scope/models/convert/tflite"
)

// graph accumulates the ONNX nodes and initializers of the model being written.
type graph struct {
	nodes []*onnxpb.NodeProto
	inits []*onnxpb.TensorProto
	used  map[string]bool
	seq   int
}

// name returns a value name starting with base that no other value has.
func (g *graph) name(base string) string {
	if base == "" {
		base = "v"
	}
	n := base
	for g.used[n] {
		g.seq++
		n = fmt.Sprintf("%s_%d", base, g.seq)
	}
	g.used[n] = true
	return n
}

// node appends a node with one output, out (a name from g.name), and returns out.
func (g *graph) node(op string, inputs []string, out string, attrs ...*onnxpb.AttributeProto) string {
	g.nodes = append(g.nodes, &onnxpb.NodeProto{
		OpType:    &op,
		Name:      ptr(fmt.Sprintf("%s_%d", op, len(g.nodes))),
		Input:     inputs,
		Output:    []string{out},
		Attribute: attrs,
	})
	return out
}

// initializer adds a constant and returns its name.
func (g *graph) initializer(base string, c *constant) string {
	name := g.name(base)
	t := &onnxpb.TensorProto{Name: &name, Dims: c.shape}
	switch {
	case c.f != nil:
		t.DataType = ptr(int32(onnxpb.TensorProto_FLOAT))
		raw := make([]byte, 4*len(c.f))
		for k, v := range c.f {
			binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
		}
		t.RawData = raw
	case c.typ == tflite.Int8 || c.typ == tflite.Uint8 || c.typ == tflite.Int32:
		t.DataType = ptr(int32(onnxDType(c.typ)))
		size := c.typ.Size()
		raw := make([]byte, size*len(c.i))
		for k, v := range c.i {
			switch size {
			case 1:
				raw[k] = byte(v)
			case 4:
				binary.LittleEndian.PutUint32(raw[4*k:], uint32(int32(v)))
			}
		}
		t.RawData = raw
	default:
		t.DataType = ptr(int32(onnxpb.TensorProto_INT64))
		raw := make([]byte, 8*len(c.i))
		for k, v := range c.i {
			binary.LittleEndian.PutUint64(raw[8*k:], uint64(v))
		}
		t.RawData = raw
	}
	g.inits = append(g.inits, t)
	return name
}

// int64s adds a 1-D int64 initializer.
func (g *graph) int64s(base string, v ...int64) string {
	return g.initializer(base, &constant{typ: tflite.Int64, shape: []int64{int64(len(v))}, i: v})
}

// scalar adds a float32 scalar initializer.
func (g *graph) scalar(base string, v float32) string {
	return g.initializer(base, &constant{typ: tflite.Float32, shape: []int64{}, f: []float32{v}})
}

func onnxDType(t tflite.TensorType) onnxpb.TensorProto_DataType {
	switch t {
	case tflite.Float32:
		return onnxpb.TensorProto_FLOAT
	case tflite.Float16:
		return onnxpb.TensorProto_FLOAT16
	case tflite.Int32:
		return onnxpb.TensorProto_INT32
	case tflite.Uint8:
		return onnxpb.TensorProto_UINT8
	case tflite.Int64:
		return onnxpb.TensorProto_INT64
	case tflite.Bool:
		return onnxpb.TensorProto_BOOL
	case tflite.Int16:
		return onnxpb.TensorProto_INT16
	case tflite.Int8:
		return onnxpb.TensorProto_INT8
	case tflite.Float64:
		return onnxpb.TensorProto_DOUBLE
	}
	return onnxpb.TensorProto_UNDEFINED
}

func ptr[T any](v T) *T { return &v }

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: ptr(onnxpb.AttributeProto_INT), I: &v}
}

func attrFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: ptr(onnxpb.AttributeProto_FLOAT), F: &v}
}

func attrInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: ptr(onnxpb.AttributeProto_INTS), Ints: v}
}

func attrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: &name, Type: ptr(onnxpb.AttributeProto_STRING), S: []byte(v)}
}

func valueInfo(name string, t tflite.TensorType, shape []int64) *onnxpb.ValueInfoProto {
	dims := make([]*onnxpb.TensorShapeProto_Dimension, len(shape))
	for i, d := range shape {
		dims[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}}
	}
	return &onnxpb.ValueInfoProto{
		Name: &name,
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: ptr(int32(onnxDType(t))),
			Shape:    &onnxpb.TensorShapeProto{Dim: dims},
		}}},
	}
}
