// Package convert turns TensorFlow Lite models into ONNX models that give the same
// numbers under ONNX Runtime, SCOPE's one network runtime.
//
// Data enters as a .tflite flatbuffer (read by package tflite) and leaves as a serialised
// onnx.ModelProto (types in package onnxpb), opset 17. The public inputs and outputs keep
// their TFLite names, types and NHWC layout, so callers feed images as MediaPipe does;
// inside, convolutions, pooling, resizing and depth-to-space run in ONNX's NCHW layout.
// Every value is materialised lazily in the layout its consumers ask for, so a chain of
// layout-aware and elementwise operators needs no transposes at all: a model gets one
// Transpose after each image input and one before each spatial output, and a transpose
// that only moves unit dimensions becomes a Reshape.
//
// Constants are resolved at conversion time: fp16 weights behind DEQUANTIZE are folded
// into fp32 initializers and sparse weights behind DENSIFY are densified. Quantised
// models are written in ONNX's QDQ form: int8/uint8 weights and int32 biases stay
// integer behind DequantizeLinear (per channel where TFLite's are), and every quantised
// activation is rounded onto its TFLite grid after its operator (QuantizeLinear +
// DequantizeLinear). ONNX Runtime turns these patterns into integer kernels, which keeps
// each operator within one quantisation step of TFLite's. (Folding int8 weights to
// float would not: ONNX Runtime re-quantises float weights it finds between Q/DQ pairs,
// per tensor, and loses the per-channel scales.)
//
// Shapes are static: the TFLite tensors' shapes (batch 1 for MediaPipe's models) are
// written into the ONNX graph. An operator the converter does not know gives an error
// "unsupported: <op> at operator <n>" (ErrUnsupported).
package convert

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"scope/models/convert/onnxpb"
	"scope/models/convert/tflite"
)

// ErrUnsupported is wrapped by the error for a model with an operator or tensor type the
// converter does not handle.
var ErrUnsupported = errors.New("unsupported")

// ProducerVersion is written into every converted model; change it whenever the
// converter's output changes, so Cached converts again.
const ProducerVersion = "2"

// Opset is the ONNX operator set the converter writes (the newest of Debian's onnx 1.12).
const Opset = 17

// layout says how a rank-4 value's dimensions are ordered in the ONNX graph.
type layout int

const (
	nhwc layout = iota // TFLite's order; also the only layout of other ranks
	nchw               // ONNX's order for spatial operators
)

var (
	toNCHW = []int{0, 3, 1, 2} // perm taking NHWC to NCHW
	toNHWC = []int{0, 2, 3, 1} // perm taking NCHW to NHWC
	// axisNCHW[a] is where NHWC axis a sits in NCHW.
	axisNCHW = []int64{0, 2, 3, 1}
)

// value is one TFLite tensor as the converter sees it.
type value struct {
	idx   int32
	name  string // TFLite name
	typ   tflite.TensorType
	shape []int64 // TFLite (NHWC) shape
	// names holds the ONNX value name in each layout; "" until materialised.
	names [2]string
	konst *constant
	// kq is set for a quantised integer constant (int8/uint8 weights, int32 biases):
	// it enters the graph as an integer initializer and a DequantizeLinear, the QDQ
	// form that ONNX Runtime runs with integer kernels, as TFLite does.
	kq *tflite.Quantization
	// quant is set for quantised activations: the ONNX graph carries them as float
	// values that lie on this grid.
	quant *tflite.Quantization
}

type converter struct {
	m      *tflite.Model
	sg     *tflite.Subgraph
	g      graph
	vals   []*value
	op     int // index of the operator being converted, for errors
	consts map[float32]string
}

// Convert converts the main subgraph of m to an ONNX model.
func Convert(m *tflite.Model) (*onnxpb.ModelProto, error) {
	if len(m.Subgraphs) == 0 {
		return nil, fmt.Errorf("%w: model has no subgraphs", tflite.ErrMalformed)
	}
	c := &converter{m: m, sg: &m.Subgraphs[0], g: graph{used: map[string]bool{}}, consts: map[float32]string{}}
	if err := c.checkSupported(); err != nil {
		return nil, err
	}
	// Public names are reserved first, so no inner value takes them.
	for _, i := range append(append([]int32{}, c.sg.Inputs...), c.sg.Outputs...) {
		name := c.sg.Tensors[i].Name
		if name == "" || c.g.used[name] {
			return nil, fmt.Errorf("%w: model input or output tensor %d has the name %q, empty or shared with another", ErrUnsupported, i, name)
		}
		c.g.used[name] = true
	}
	for i := range c.sg.Tensors {
		v, err := c.newValue(int32(i))
		if err != nil {
			return nil, err
		}
		c.vals = append(c.vals, v)
	}
	graph := &onnxpb.GraphProto{Name: ptr(strings.TrimSuffix(c.sg.Name, "\x00"))}
	if graph.GetName() == "" {
		graph.Name = ptr("main")
	}
	for _, i := range c.sg.Inputs {
		in, err := c.input(c.vals[i])
		if err != nil {
			return nil, err
		}
		graph.Input = append(graph.Input, in)
	}
	for k := range c.sg.Operators {
		c.op = k
		if err := c.operator(&c.sg.Operators[k]); err != nil {
			return nil, err
		}
	}
	for _, i := range c.sg.Outputs {
		out, err := c.output(c.vals[i])
		if err != nil {
			return nil, err
		}
		graph.Output = append(graph.Output, out)
	}
	graph.Node = c.g.nodes
	graph.Initializer = c.g.inits
	return &onnxpb.ModelProto{
		IrVersion:       ptr(int64(8)),
		ProducerName:    ptr("scope convert"),
		ProducerVersion: ptr(ProducerVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: ptr(""), Version: ptr(int64(Opset))}},
		Graph:           graph,
		DocString:       ptr("Converted from TFLite by scope convert. " + m.Description),
	}, nil
}

// ConvertBytes converts a .tflite file's bytes to a serialised ONNX model.
func ConvertBytes(b []byte) ([]byte, *onnxpb.ModelProto, error) {
	m, err := tflite.Parse(b)
	if err != nil {
		return nil, nil, err
	}
	mp, err := Convert(m)
	if err != nil {
		return nil, nil, err
	}
	out, err := proto.Marshal(mp)
	if err != nil {
		return nil, nil, fmt.Errorf("writing ONNX protobuf: %w", err)
	}
	return out, mp, nil
}

// checkSupported lists every operator the converter cannot handle in one error.
func (c *converter) checkSupported() error {
	var first string
	more := map[string]int{}
	nmore := 0
	for k, op := range c.sg.Operators {
		code := c.m.OperatorCodes[op.OpcodeIndex]
		if _, ok := handlers[code.Builtin]; ok && code.Builtin != tflite.OpCustom {
			continue
		}
		if first == "" {
			first = fmt.Sprintf("%s at operator %d", code.Name(), k)
			continue
		}
		more[code.Name()]++
		nmore++
	}
	if first == "" {
		return nil
	}
	if nmore == 0 {
		return fmt.Errorf("%w: %s", ErrUnsupported, first)
	}
	var list []string
	for n, k := range more {
		list = append(list, fmt.Sprintf("%s x%d", n, k))
	}
	sort.Strings(list)
	return fmt.Errorf("%w: %s (and %d more unsupported operators: %s)", ErrUnsupported, first, nmore, strings.Join(list, ", "))
}

func (c *converter) newValue(i int32) (*value, error) {
	t := &c.sg.Tensors[i]
	v := &value{idx: i, name: t.Name, typ: t.Type}
	for _, d := range t.Shape {
		if d < 0 {
			return nil, fmt.Errorf("%w: tensor %d (%s) has shape %v", tflite.ErrMalformed, i, t.Name, t.Shape)
		}
		v.shape = append(v.shape, int64(d))
	}
	if numel(v.shape) > 1<<31 {
		return nil, fmt.Errorf("%w: tensor %d (%s) has shape %v, too large", tflite.ErrMalformed, i, t.Name, t.Shape)
	}
	var data []byte
	if t.Buffer != 0 && int(t.Buffer) < len(c.m.Buffers) {
		data = c.m.Buffers[t.Buffer]
	}
	if len(data) == 0 {
		if t.Quant != nil && isQuantType(t.Type) {
			v.quant = t.Quant
		}
		return v, nil
	}
	if t.Sparsity != nil {
		dense, err := densify(v.shape, t.Type.Size(), t.Sparsity, data)
		if err != nil {
			return nil, fmt.Errorf("densifying tensor %d (%s): %w", i, t.Name, err)
		}
		data = dense
	}
	k, err := decodeConstant(t.Type, v.shape, data)
	if err != nil {
		return nil, fmt.Errorf("tensor %d (%s): %w", i, t.Name, err)
	}
	if t.Quant != nil && k.i != nil && t.Type != tflite.Int64 && t.Type != tflite.Bool {
		if _, err := dequantize(k, t.Quant); err != nil { // checks the parameters
			return nil, fmt.Errorf("tensor %d (%s): %w", i, t.Name, err)
		}
		if qdqType(t.Type, t.Quant) {
			v.kq = t.Quant
		} else if k, err = dequantize(k, t.Quant); err != nil { // the graph computes in float
			return nil, fmt.Errorf("tensor %d (%s): %w", i, t.Name, err)
		}
	}
	v.konst = k
	return v, nil
}

func isQuantType(t tflite.TensorType) bool {
	return t == tflite.Int8 || t == tflite.Uint8 || t == tflite.Int16
}

// internalType is the element type a value has inside the ONNX graph.
func (v *value) internalType() tflite.TensorType {
	if v.quant != nil || v.typ == tflite.Float16 {
		return tflite.Float32
	}
	return v.typ
}

func (c *converter) input(v *value) (*onnxpb.ValueInfoProto, error) {
	if onnxDType(v.typ) == onnxpb.TensorProto_UNDEFINED {
		return nil, fmt.Errorf("%w: input %q has type %s", ErrUnsupported, v.name, v.typ)
	}
	info := valueInfo(v.name, v.typ, v.shape)
	switch {
	case v.quant != nil:
		scale, zp, err := c.quantParams(v)
		if err != nil {
			return nil, err
		}
		v.names[nhwc] = c.g.node("DequantizeLinear", []string{v.name, scale, zp}, c.g.name(v.name+"_float"))
	case v.typ == tflite.Float16:
		v.names[nhwc] = c.g.node("Cast", []string{v.name}, c.g.name(v.name+"_float"), attrInt("to", int64(onnxpb.TensorProto_FLOAT)))
	default:
		v.names[nhwc] = v.name
	}
	return info, nil
}

func (c *converter) output(v *value) (*onnxpb.ValueInfoProto, error) {
	if onnxDType(v.typ) == onnxpb.TensorProto_UNDEFINED {
		return nil, fmt.Errorf("%w: output %q has type %s", ErrUnsupported, v.name, v.typ)
	}
	info := valueInfo(v.name, v.typ, v.shape)
	if v.konst == nil && v.names[nhwc] == "" && v.names[nchw] == "" {
		return nil, fmt.Errorf("%w: output %q is not computed by any operator", tflite.ErrMalformed, v.name)
	}
	x := c.get(v, nhwc)
	switch {
	case v.quant != nil:
		scale, zp, err := c.quantParams(v)
		if err != nil {
			return nil, err
		}
		c.g.node("QuantizeLinear", []string{x, scale, zp}, v.name)
	case v.typ == tflite.Float16:
		c.g.node("Cast", []string{x}, v.name, attrInt("to", int64(onnxpb.TensorProto_FLOAT16)))
	case x == v.name:
	case !c.rename(x, v.name):
		c.g.node("Identity", []string{x}, v.name)
	}
	return info, nil
}

// rename gives the value old, made by a node of this graph, the name new.
func (c *converter) rename(old, new string) bool {
	found := false
	for _, n := range c.g.nodes {
		for k, o := range n.Output {
			if o == old {
				n.Output[k] = new
				found = true
			}
		}
	}
	if !found {
		return false
	}
	for _, n := range c.g.nodes {
		for k, in := range n.Input {
			if in == old {
				n.Input[k] = new
			}
		}
	}
	for _, v := range c.vals {
		for l := range v.names {
			if v.names[l] == old {
				v.names[l] = new
			}
		}
	}
	return true
}

// quantParams adds the scale and zero point initializers of a per-tensor quantised value.
func (c *converter) quantParams(v *value) (scale, zp string, err error) {
	q := v.quant
	if v.typ != tflite.Int8 && v.typ != tflite.Uint8 {
		return "", "", fmt.Errorf("%w: tensor %q is quantised %s; ONNX opset %d quantises to int8 and uint8 only", ErrUnsupported, v.name, v.typ, Opset)
	}
	if len(q.Scale) != 1 {
		return "", "", fmt.Errorf("%w: tensor %q is quantised per channel (%d scales); only weights may be", ErrUnsupported, v.name, len(q.Scale))
	}
	scale = c.g.initializer(v.name+"_scale", &constant{typ: tflite.Float32, shape: []int64{}, f: []float32{q.Scale[0]}})
	zp = c.g.initializer(v.name+"_zero_point", &constant{typ: v.typ, shape: []int64{}, i: []int64{q.ZeroPoint[0]}})
	return scale, zp, nil
}

// get returns the ONNX name of v in layout l, adding an initializer, a Transpose or a
// Reshape the first time it is asked for.
func (c *converter) get(v *value, l layout) string {
	if len(v.shape) != 4 && v.konst == nil {
		l = nhwc
	}
	if v.names[l] != "" {
		return v.names[l]
	}
	if v.konst != nil {
		perm := []int{0, 1, 2, 3}[:len(v.konst.shape)]
		if l == nchw {
			perm = toNCHW
		}
		v.names[l] = c.constant(v, perm, c.baseName(v, l))
		return v.names[l]
	}
	from, perm := v.names[1-l], toNHWC
	if l == nchw {
		perm = toNCHW
	}
	// The stored shape of the source layout.
	src := v.shape
	if l == nhwc {
		src = permShape(v.shape, toNCHW)
	}
	out := c.g.name(c.baseName(v, l))
	if unitOnlyPerm(src, perm) {
		dst := permShape(src, perm)
		c.g.node("Reshape", []string{from, c.g.int64s(out+"_shape", dst...)}, out)
	} else {
		c.g.node("Transpose", []string{from}, out, attrInts("perm", ints64(perm)...))
	}
	v.names[l] = out
	return out
}

func (c *converter) baseName(v *value, l layout) string {
	n := v.name
	if n == "" {
		n = fmt.Sprintf("t%d", v.idx)
	}
	if l == nchw {
		n += "_nchw"
	}
	return n
}

// set records name as v's value in layout l, after the fused activation and, for a
// quantised value, the rounding onto its grid.
func (c *converter) set(v *value, l layout, name string, act tflite.Activation) error {
	if len(v.shape) != 4 {
		l = nhwc
	}
	name, err := c.activation(name, act)
	if err != nil {
		return err
	}
	if v.quant != nil {
		scale, zp, err := c.quantParams(v)
		if err != nil {
			return err
		}
		q := c.g.node("QuantizeLinear", []string{name, scale, zp}, c.g.name(c.baseName(v, l)+"_q"))
		name = c.g.node("DequantizeLinear", []string{q, scale, zp}, c.g.name(c.baseName(v, l)))
	}
	v.names = [2]string{}
	v.names[l] = name
	return nil
}

// tmp returns a fresh name for an operator's result in layout l.
func (c *converter) tmp(v *value, l layout) string {
	if len(v.shape) != 4 {
		l = nhwc
	}
	return c.g.name(c.baseName(v, l))
}

func (c *converter) activation(x string, a tflite.Activation) (string, error) {
	switch a {
	case tflite.ActNone:
		return x, nil
	case tflite.ActRelu:
		return c.g.node("Relu", []string{x}, c.g.name(x+"_relu")), nil
	case tflite.ActRelu6:
		return c.clip(x, 0, 6), nil
	case tflite.ActReluN1To1:
		return c.clip(x, -1, 1), nil
	case tflite.ActTanh:
		return c.g.node("Tanh", []string{x}, c.g.name(x+"_tanh")), nil
	}
	return "", fmt.Errorf("%w: fused activation %d at operator %d", ErrUnsupported, a, c.op)
}

func (c *converter) clip(x string, lo, hi float32) string {
	return c.g.node("Clip", []string{x, c.scalar(lo), c.scalar(hi)}, c.g.name(x+"_clip"))
}

// scalar returns a shared float32 scalar initializer.
func (c *converter) scalar(v float32) string {
	if n, ok := c.consts[v]; ok {
		return n
	}
	n := c.g.scalar(fmt.Sprintf("const_%g", v), v)
	c.consts[v] = n
	return n
}

// padRank left-pads a constant's shape with ones to rank r (numpy broadcasting).
func padRank(k *constant, r int) *constant {
	if len(k.shape) >= r {
		return k
	}
	s := make([]int64, r-len(k.shape), r)
	for i := range s {
		s[i] = 1
	}
	out := *k
	out.shape = append(s, k.shape...)
	return &out
}

func permShape(s []int64, perm []int) []int64 {
	out := make([]int64, len(perm))
	for i, p := range perm {
		out[i] = s[p]
	}
	return out
}

// unitOnlyPerm says whether transposing shape by perm keeps the order of the
// dimensions larger than one, so the data does not move and a Reshape does.
func unitOnlyPerm(shape []int64, perm []int) bool {
	last := -1
	for _, p := range perm {
		if shape[p] == 1 {
			continue
		}
		if p < last {
			return false
		}
		last = p
	}
	return true
}

func ints64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// qdqType says whether a quantised constant of type t can stay integer in the graph:
// DequantizeLinear (opset 17) takes int8, uint8 and int32 with a zero point of 0.
func qdqType(t tflite.TensorType, q *tflite.Quantization) bool {
	switch t {
	case tflite.Int8, tflite.Uint8:
		return true
	case tflite.Int32:
		for _, z := range q.ZeroPoint {
			if z != 0 {
				return false
			}
		}
		return true
	}
	return false
}

// constant adds constant v, left-padded with unit dimensions to len(perm) and
// transposed by perm, and returns its float (or integer, for shapes) name. A quantised
// constant becomes an integer initializer and a DequantizeLinear.
func (c *converter) constant(v *value, perm []int, base string) string {
	k := padRank(v.konst, len(perm))
	pad := len(k.shape) - len(v.konst.shape)
	k = k.permute(perm)
	if v.kq == nil {
		return c.g.initializer(base, k)
	}
	q := v.kq
	data := c.g.initializer(base+"_quantized", k)
	if len(q.Scale) == 1 {
		scale := c.g.initializer(base+"_scale", &constant{typ: tflite.Float32, shape: []int64{}, f: q.Scale})
		zp := c.g.initializer(base+"_zero_point", &constant{typ: v.konst.typ, shape: []int64{}, i: q.ZeroPoint})
		return c.g.node("DequantizeLinear", []string{data, scale, zp}, c.g.name(base))
	}
	axis := 0
	for i, p := range perm {
		if p == int(q.Dim)+pad {
			axis = i
		}
	}
	n := []int64{int64(len(q.Scale))}
	scale := c.g.initializer(base+"_scale", &constant{typ: tflite.Float32, shape: n, f: q.Scale})
	zp := c.g.initializer(base+"_zero_point", &constant{typ: v.konst.typ, shape: n, i: q.ZeroPoint})
	return c.g.node("DequantizeLinear", []string{data, scale, zp}, c.g.name(base), attrInt("axis", int64(axis)))
}
