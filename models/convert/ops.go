package convert

import (
	"fmt"
	"math"
	"sort"

	"scope/models/convert/onnxpb"
	"scope/models/convert/tflite"
)

type handler func(c *converter, op *tflite.Operator) error

// handlers maps each supported builtin operator to its conversion.
var handlers = map[tflite.Builtin]handler{
	tflite.OpConv2D:            (*converter).conv2D,
	tflite.OpDepthwiseConv2D:   (*converter).depthwiseConv2D,
	tflite.OpMaxPool2D:         (*converter).pool,
	tflite.OpAveragePool2D:     (*converter).pool,
	tflite.OpAdd:               (*converter).binary,
	tflite.OpMul:               (*converter).binary,
	tflite.OpSub:               (*converter).binary,
	tflite.OpDiv:               (*converter).binary,
	tflite.OpPad:               (*converter).pad,
	tflite.OpPadV2:             (*converter).pad,
	tflite.OpReshape:           (*converter).reshape,
	tflite.OpSqueeze:           (*converter).reshape,
	tflite.OpExpandDims:        (*converter).reshape,
	tflite.OpConcatenation:     (*converter).concatenation,
	tflite.OpRelu:              (*converter).unary,
	tflite.OpRelu6:             (*converter).unary,
	tflite.OpReluN1To1:         (*converter).unary,
	tflite.OpLogistic:          (*converter).unary,
	tflite.OpTanh:              (*converter).unary,
	tflite.OpHardSwish:         (*converter).unary,
	tflite.OpExp:               (*converter).unary,
	tflite.OpAbs:               (*converter).unary,
	tflite.OpSqrt:              (*converter).unary,
	tflite.OpRsqrt:             (*converter).unary,
	tflite.OpNeg:               (*converter).unary,
	tflite.OpPrelu:             (*converter).prelu,
	tflite.OpLeakyRelu:         (*converter).leakyRelu,
	tflite.OpMaximum:           (*converter).binary,
	tflite.OpMinimum:           (*converter).binary,
	tflite.OpMean:              (*converter).mean,
	tflite.OpFullyConnected:    (*converter).fullyConnected,
	tflite.OpStridedSlice:      (*converter).stridedSlice,
	tflite.OpDepthToSpace:      (*converter).depthToSpace,
	tflite.OpResizeBilinear:    (*converter).resizeBilinear,
	tflite.OpDequantize:        (*converter).dequantize,
	tflite.OpQuantize:          (*converter).quantize,
	tflite.OpDensify:           (*converter).densify,
	tflite.OpSoftmax:           (*converter).softmax,
	tflite.OpTranspose:         (*converter).transpose,
	tflite.OpSum:               (*converter).mean,
	tflite.OpReduceMax:         (*converter).mean,
	tflite.OpReduceMin:         (*converter).mean,
	tflite.OpLog:               (*converter).unary,
	tflite.OpSquare:            (*converter).unary,
	tflite.OpPow:               (*converter).binary,
	tflite.OpSquaredDifference: (*converter).binary,
	tflite.OpBatchMatMul:       (*converter).batchMatMul,
	tflite.OpGather:            (*converter).gather,
	tflite.OpSlice:             (*converter).slice,
	tflite.OpGelu:              (*converter).gelu,
	tflite.OpCast:              (*converter).cast,
}

func (c *converter) operator(op *tflite.Operator) error {
	code := c.m.OperatorCodes[op.OpcodeIndex]
	for _, i := range op.Inputs {
		if i >= 0 && c.vals[i].konst == nil && c.vals[i].names == [2]string{} {
			return fmt.Errorf("%w: %s at operator %d reads tensor %d (%s) before any operator computes it",
				tflite.ErrMalformed, code.Name(), c.op, i, c.vals[i].name)
		}
	}
	h := handlers[code.Builtin]
	if err := h(c, op); err != nil {
		return fmt.Errorf("%s at operator %d: %w", code.Name(), c.op, err)
	}
	return nil
}

func (c *converter) builtin(op *tflite.Operator) tflite.Builtin {
	return c.m.OperatorCodes[op.OpcodeIndex].Builtin
}

// in returns input k of op, nil when absent or omitted (-1).
func (c *converter) in(op *tflite.Operator, k int) *value {
	if k >= len(op.Inputs) || op.Inputs[k] < 0 {
		return nil
	}
	return c.vals[op.Inputs[k]]
}

// args checks that op has at least nin inputs (not omitted) and nout outputs and returns
// the first output.
func (c *converter) args(op *tflite.Operator, nin, nout int) (*value, error) {
	if len(op.Inputs) < nin || len(op.Outputs) < nout {
		return nil, fmt.Errorf("%w: %d inputs and %d outputs, want at least %d and %d", tflite.ErrMalformed, len(op.Inputs), len(op.Outputs), nin, nout)
	}
	for k := range nin {
		if op.Inputs[k] < 0 {
			return nil, fmt.Errorf("%w: input %d is omitted", tflite.ErrMalformed, k)
		}
	}
	for _, o := range op.Outputs {
		if o < 0 {
			return nil, fmt.Errorf("%w: an output is omitted", tflite.ErrMalformed)
		}
		if c.vals[o].konst != nil {
			return nil, fmt.Errorf("%w: output tensor %q is a constant", tflite.ErrMalformed, c.vals[o].name)
		}
	}
	if nout == 0 {
		return nil, nil
	}
	return c.vals[op.Outputs[0]], nil
}

// constInts returns the integer values of a constant input (a shape, axes, paddings).
func constInts(v *value, what string) ([]int64, error) {
	if v == nil || v.konst == nil || v.konst.i == nil {
		return nil, fmt.Errorf("%w: %s must be a constant integer tensor", ErrUnsupported, what)
	}
	return v.konst.i, nil
}

// need4 checks that v is a rank-4 tensor.
func need4(v *value, what string) error {
	if len(v.shape) != 4 {
		return fmt.Errorf("%w: %s %q has shape %v, want rank 4 (NHWC)", tflite.ErrMalformed, what, v.name, v.shape)
	}
	return nil
}

// samePads returns TensorFlow's SAME padding of one spatial dimension.
func samePads(in, k, stride, dil int64) (before, after int64) {
	eff := (k-1)*dil + 1
	out := (in + stride - 1) / stride
	total := max((out-1)*stride+eff-in, 0)
	return total / 2, total - total/2
}

func spatialPads(p tflite.Padding, in *value, kh, kw, sh, sw, dh, dw int64) ([]int64, error) {
	switch p {
	case tflite.PaddingValid:
		return []int64{0, 0, 0, 0}, nil
	case tflite.PaddingSame:
		t, b := samePads(in.shape[1], kh, sh, dh)
		l, r := samePads(in.shape[2], kw, sw, dw)
		return []int64{t, l, b, r}, nil
	}
	return nil, fmt.Errorf("%w: padding mode %d", tflite.ErrMalformed, p)
}

func positive(what string, v ...int32) error {
	for _, x := range v {
		if x <= 0 {
			return fmt.Errorf("%w: %s %d must be positive", tflite.ErrMalformed, what, x)
		}
	}
	return nil
}

func (c *converter) conv2D(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	o, err := op.Conv2D()
	if err != nil {
		return err
	}
	x, w, b := c.in(op, 0), c.in(op, 1), c.in(op, 2)
	if err := firstErr(need4(x, "input"), need4(w, "filter"), need4(out, "output"), positive("stride or dilation", o.StrideH, o.StrideW, o.DilationH, o.DilationW)); err != nil {
		return err
	}
	if x.shape[3] == 0 || w.shape[3] == 0 || x.shape[3]%w.shape[3] != 0 {
		return fmt.Errorf("%w: input has %d channels, filter %d", tflite.ErrMalformed, x.shape[3], w.shape[3])
	}
	pads, err := spatialPads(o.Padding, x, w.shape[1], w.shape[2], int64(o.StrideH), int64(o.StrideW), int64(o.DilationH), int64(o.DilationW))
	if err != nil {
		return err
	}
	// OHWI -> OIHW is the same permutation as NHWC -> NCHW.
	ins := []string{c.get(x, nchw), c.get(w, nchw)}
	if b != nil {
		ins = append(ins, c.get(b, nhwc))
	}
	y := c.g.node("Conv", ins, c.tmp(out, nchw),
		attrInts("kernel_shape", w.shape[1], w.shape[2]),
		attrInts("strides", int64(o.StrideH), int64(o.StrideW)),
		attrInts("dilations", int64(o.DilationH), int64(o.DilationW)),
		attrInts("pads", pads...),
		attrInt("group", x.shape[3]/w.shape[3]))
	return c.set(out, nchw, y, o.Activation)
}

func (c *converter) depthwiseConv2D(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	o, err := op.DepthwiseConv2D()
	if err != nil {
		return err
	}
	x, w, b := c.in(op, 0), c.in(op, 1), c.in(op, 2)
	if err := firstErr(need4(x, "input"), need4(w, "filter"), need4(out, "output"), positive("stride or dilation", o.StrideH, o.StrideW, o.DilationH, o.DilationW)); err != nil {
		return err
	}
	cin := x.shape[3]
	if cin == 0 || w.shape[3]%cin != 0 || w.shape[0] != 1 {
		return fmt.Errorf("%w: depthwise filter %v for %d input channels", tflite.ErrMalformed, w.shape, cin)
	}
	pads, err := spatialPads(o.Padding, x, w.shape[1], w.shape[2], int64(o.StrideH), int64(o.StrideW), int64(o.DilationH), int64(o.DilationW))
	if err != nil {
		return err
	}
	// [1, H, W, C*M] -> [C*M, 1, H, W]: output channel c*M+m belongs to group c.
	ins := []string{c.get(x, nchw), c.permuted(w, []int{3, 0, 1, 2}, "_oihw")}
	if b != nil {
		ins = append(ins, c.get(b, nhwc))
	}
	y := c.g.node("Conv", ins, c.tmp(out, nchw),
		attrInts("kernel_shape", w.shape[1], w.shape[2]),
		attrInts("strides", int64(o.StrideH), int64(o.StrideW)),
		attrInts("dilations", int64(o.DilationH), int64(o.DilationW)),
		attrInts("pads", pads...),
		attrInt("group", cin))
	return c.set(out, nchw, y, o.Activation)
}

// permuted returns v transposed by perm: a permuted initializer for a constant, else a
// Transpose node.
func (c *converter) permuted(v *value, perm []int, suffix string) string {
	if v.konst != nil {
		return c.constant(v, perm, c.baseName(v, nhwc)+suffix)
	}
	return c.g.node("Transpose", []string{c.get(v, nhwc)}, c.g.name(c.baseName(v, nhwc)+suffix), attrInts("perm", ints64(perm)...))
}

func (c *converter) pool(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	o, err := op.Pool2D()
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	if err := firstErr(need4(x, "input"), need4(out, "output"), positive("filter size or stride", o.FilterH, o.FilterW, o.StrideH, o.StrideW)); err != nil {
		return err
	}
	pads, err := spatialPads(o.Padding, x, int64(o.FilterH), int64(o.FilterW), int64(o.StrideH), int64(o.StrideW), 1, 1)
	if err != nil {
		return err
	}
	attrs := []*onnxpb.AttributeProto{
		attrInts("kernel_shape", int64(o.FilterH), int64(o.FilterW)),
		attrInts("strides", int64(o.StrideH), int64(o.StrideW)),
		attrInts("pads", pads...),
	}
	kind := "MaxPool"
	if c.builtin(op) == tflite.OpAveragePool2D {
		kind = "AveragePool"
		attrs = append(attrs, attrInt("count_include_pad", 0)) // TFLite averages the valid cells only
	}
	y := c.g.node(kind, []string{c.get(x, nchw)}, c.tmp(out, nchw), attrs...)
	return c.set(out, nchw, y, o.Activation)
}

// pickLayout chooses the layout of an elementwise operator: NCHW when every operand is
// rank 4 or a constant that broadcasts to rank 4, and one of them already is NCHW.
func (c *converter) pickLayout(out *value, vs ...*value) layout {
	if len(out.shape) != 4 {
		return nhwc
	}
	have := false
	for _, v := range vs {
		if v.konst != nil {
			if len(v.shape) > 4 {
				return nhwc
			}
			continue
		}
		if len(v.shape) != 4 {
			return nhwc
		}
		if v.names[nchw] != "" {
			have = true
		}
	}
	if have {
		return nchw
	}
	return nhwc
}

func (c *converter) binary(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	b := c.builtin(op)
	act := tflite.ActNone
	if b == tflite.OpAdd || b == tflite.OpMul || b == tflite.OpSub || b == tflite.OpDiv {
		if act, err = op.FusedActivation(b); err != nil {
			return err
		}
	}
	x, y := c.in(op, 0), c.in(op, 1)
	l := c.pickLayout(out, x, y)
	if b == tflite.OpSquaredDifference {
		d := c.g.node("Sub", []string{c.get(x, l), c.get(y, l)}, c.g.name(c.baseName(out, l)+"_diff"))
		return c.set(out, l, c.g.node("Mul", []string{d, d}, c.tmp(out, l)), act)
	}
	kind := map[tflite.Builtin]string{tflite.OpAdd: "Add", tflite.OpMul: "Mul", tflite.OpSub: "Sub", tflite.OpDiv: "Div",
		tflite.OpMaximum: "Max", tflite.OpMinimum: "Min", tflite.OpPow: "Pow"}[b]
	z := c.g.node(kind, []string{c.get(x, l), c.get(y, l)}, c.tmp(out, l))
	return c.set(out, l, z, act)
}

func (c *converter) unary(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	l := c.pickLayout(out, x)
	xn := c.get(x, l)
	var y string
	switch c.builtin(op) {
	case tflite.OpRelu:
		y = c.g.node("Relu", []string{xn}, c.tmp(out, l))
	case tflite.OpRelu6:
		y = c.clip(xn, 0, 6)
	case tflite.OpReluN1To1:
		y = c.clip(xn, -1, 1)
	case tflite.OpLogistic:
		y = c.g.node("Sigmoid", []string{xn}, c.tmp(out, l))
	case tflite.OpTanh:
		y = c.g.node("Tanh", []string{xn}, c.tmp(out, l))
	case tflite.OpHardSwish:
		y = c.g.node("HardSwish", []string{xn}, c.tmp(out, l))
	case tflite.OpExp:
		y = c.g.node("Exp", []string{xn}, c.tmp(out, l))
	case tflite.OpAbs:
		y = c.g.node("Abs", []string{xn}, c.tmp(out, l))
	case tflite.OpSqrt:
		y = c.g.node("Sqrt", []string{xn}, c.tmp(out, l))
	case tflite.OpNeg:
		y = c.g.node("Neg", []string{xn}, c.tmp(out, l))
	case tflite.OpLog:
		y = c.g.node("Log", []string{xn}, c.tmp(out, l))
	case tflite.OpSquare:
		y = c.g.node("Mul", []string{xn, xn}, c.tmp(out, l))
	case tflite.OpRsqrt:
		s := c.g.node("Sqrt", []string{xn}, c.g.name(xn+"_sqrt"))
		y = c.g.node("Reciprocal", []string{s}, c.tmp(out, l))
	}
	return c.set(out, l, y, tflite.ActNone)
}

func (c *converter) prelu(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	x, alpha := c.in(op, 0), c.in(op, 1)
	l := c.pickLayout(out, x, alpha)
	y := c.g.node("PRelu", []string{c.get(x, l), c.get(alpha, l)}, c.tmp(out, l))
	return c.set(out, l, y, tflite.ActNone)
}

func (c *converter) leakyRelu(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	alpha, err := op.LeakyReluAlpha()
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	l := c.pickLayout(out, x)
	y := c.g.node("LeakyRelu", []string{c.get(x, l)}, c.tmp(out, l), attrFloat("alpha", alpha))
	return c.set(out, l, y, tflite.ActNone)
}

func (c *converter) pad(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	p, err := constInts(c.in(op, 1), "paddings")
	if err != nil {
		return err
	}
	r := len(x.shape)
	if len(p) != 2*r {
		return fmt.Errorf("%w: %d paddings for a rank-%d input", tflite.ErrMalformed, len(p), r)
	}
	l := c.pickLayout(out, x)
	pads := make([]int64, 2*r)
	for d := range r {
		j := int64(d)
		if l == nchw {
			j = axisNCHW[d]
		}
		pads[j], pads[int64(r)+j] = p[2*d], p[2*d+1]
	}
	ins := []string{c.get(x, l), c.g.int64s(c.baseName(out, l)+"_pads", pads...)}
	if cv := c.in(op, 2); cv != nil && c.builtin(op) == tflite.OpPadV2 {
		ins = append(ins, c.get(cv, nhwc))
	}
	y := c.g.node("Pad", ins, c.tmp(out, l), attrString("mode", "constant"))
	return c.set(out, l, y, tflite.ActNone)
}

// reshape handles RESHAPE, SQUEEZE and EXPAND_DIMS: the output tensor's static shape is
// the target.
func (c *converter) reshape(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	if numel(x.shape) != numel(out.shape) {
		return fmt.Errorf("%w: reshaping %v to %v", tflite.ErrMalformed, x.shape, out.shape)
	}
	// A reshape between rank-4 tensors that keeps N and C and only regroups size-1
	// spatial dimensions could stay NCHW; in general the element order is NHWC's.
	if len(x.shape) == 4 && len(out.shape) == 4 && x.names[nchw] != "" && x.shape[0] == out.shape[0] && x.shape[3] == out.shape[3] &&
		(x.shape[1] == 1 || x.shape[2] == 1) && (out.shape[1] == 1 || out.shape[2] == 1) {
		y := c.g.node("Reshape", []string{c.get(x, nchw), c.g.int64s(c.baseName(out, nchw)+"_shape", permShape(out.shape, toNCHW)...)}, c.tmp(out, nchw))
		return c.set(out, nchw, y, tflite.ActNone)
	}
	y := c.g.node("Reshape", []string{c.get(x, nhwc), c.g.int64s(c.baseName(out, nhwc)+"_shape", out.shape...)}, c.tmp(out, nhwc))
	return c.set(out, nhwc, y, tflite.ActNone)
}

func (c *converter) transpose(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	perm, err := constInts(c.in(op, 1), "permutation")
	if err != nil {
		return err
	}
	if len(perm) != len(x.shape) {
		return fmt.Errorf("%w: permutation %v for rank %d", tflite.ErrMalformed, perm, len(x.shape))
	}
	y := c.g.node("Transpose", []string{c.get(x, nhwc)}, c.tmp(out, nhwc), attrInts("perm", perm...))
	return c.set(out, nhwc, y, tflite.ActNone)
}

func (c *converter) concatenation(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	o, err := op.Concatenation()
	if err != nil {
		return err
	}
	var xs []*value
	for k := range op.Inputs {
		x := c.in(op, k)
		if x == nil || len(x.shape) != len(out.shape) {
			return fmt.Errorf("%w: input %d does not match the output's rank %d", tflite.ErrMalformed, k, len(out.shape))
		}
		xs = append(xs, x)
	}
	r := int64(len(out.shape))
	axis := int64(o.Axis)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return fmt.Errorf("%w: axis %d of rank %d", tflite.ErrMalformed, o.Axis, r)
	}
	l := c.pickLayout(out, xs...)
	for _, x := range xs {
		if x.konst != nil && len(x.shape) != 4 {
			l = nhwc
		}
	}
	if l == nchw {
		axis = axisNCHW[axis]
	}
	var ins []string
	for _, x := range xs {
		ins = append(ins, c.get(x, l))
	}
	y := c.g.node("Concat", ins, c.tmp(out, l), attrInt("axis", axis))
	return c.set(out, l, y, o.Activation)
}

// mean handles MEAN, SUM, REDUCE_MAX and REDUCE_MIN.
func (c *converter) mean(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	keep, err := op.KeepDims()
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	axes, err := constInts(c.in(op, 1), "axes")
	if err != nil {
		return err
	}
	r := int64(len(x.shape))
	reduced := map[int64]bool{}
	for _, a := range axes {
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r {
			return fmt.Errorf("%w: axis %d of rank %d", tflite.ErrMalformed, a, r)
		}
		reduced[a] = true
	}
	l := nhwc
	if r == 4 && x.names[nchw] != "" {
		// Without keep_dims the result's dimensions come out in NCHW's order; that is
		// NHWC's order unless C survives together with H or W.
		if keep || !(!reduced[3] && (!reduced[1] || !reduced[2])) {
			l = nchw
		}
	}
	var onnxAxes []int64
	for a := range int64(r) {
		if reduced[a] {
			if l == nchw {
				onnxAxes = append(onnxAxes, axisNCHW[a])
			} else {
				onnxAxes = append(onnxAxes, a)
			}
		}
	}
	outL := nhwc
	if keep {
		outL = l
	}
	k := int64(0)
	if keep {
		k = 1
	}
	var y string
	if len(onnxAxes) == 0 { // TFLite reduces over nothing: a copy
		y = c.g.node("Identity", []string{c.get(x, l)}, c.tmp(out, outL))
	} else if b := c.builtin(op); b == tflite.OpSum { // opset 13+: axes is an input
		y = c.g.node("ReduceSum", []string{c.get(x, l), c.g.int64s(c.baseName(out, outL)+"_axes", onnxAxes...)}, c.tmp(out, outL), attrInt("keepdims", k))
	} else {
		kind := map[tflite.Builtin]string{tflite.OpMean: "ReduceMean", tflite.OpReduceMax: "ReduceMax", tflite.OpReduceMin: "ReduceMin"}[b]
		y = c.g.node(kind, []string{c.get(x, l)}, c.tmp(out, outL), attrInts("axes", onnxAxes...), attrInt("keepdims", k))
	}
	return c.set(out, outL, y, tflite.ActNone)
}

func (c *converter) fullyConnected(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	o, err := op.FullyConnected()
	if err != nil {
		return err
	}
	if o.WeightsFormat != 0 {
		return fmt.Errorf("%w: shuffled weights format %d", ErrUnsupported, o.WeightsFormat)
	}
	x, w, b := c.in(op, 0), c.in(op, 1), c.in(op, 2)
	if len(w.shape) != 2 || w.shape[1] == 0 || numel(x.shape)%w.shape[1] != 0 {
		return fmt.Errorf("%w: weights %v for input %v", tflite.ErrMalformed, w.shape, x.shape)
	}
	xn := c.get(x, nhwc)
	if len(x.shape) != 2 || x.shape[1] != w.shape[1] {
		xn = c.g.node("Reshape", []string{xn, c.g.int64s(xn+"_2d", -1, w.shape[1])}, c.g.name(xn+"_2d"))
	}
	ins := []string{xn, c.get(w, nhwc)}
	if b != nil {
		ins = append(ins, c.get(b, nhwc))
	}
	y := c.g.node("Gemm", ins, c.tmp(out, nhwc), attrInt("transB", 1))
	if len(out.shape) != 2 {
		y = c.g.node("Reshape", []string{y, c.g.int64s(y+"_shape", out.shape...)}, c.g.name(y+"_nd"))
	}
	return c.set(out, nhwc, y, o.Activation)
}

func (c *converter) stridedSlice(op *tflite.Operator) error {
	out, err := c.args(op, 4, 1)
	if err != nil {
		return err
	}
	o, err := op.StridedSlice()
	if err != nil {
		return err
	}
	if o.EllipsisMask != 0 || o.NewAxisMask != 0 {
		return fmt.Errorf("%w: ellipsis or new-axis mask", ErrUnsupported)
	}
	x := c.in(op, 0)
	begin, err1 := constInts(c.in(op, 1), "begin")
	end, err2 := constInts(c.in(op, 2), "end")
	step, err3 := constInts(c.in(op, 3), "strides")
	if err := firstErr(err1, err2, err3); err != nil {
		return err
	}
	r := len(x.shape)
	if len(begin) != len(end) || len(begin) != len(step) || len(begin) > r {
		return fmt.Errorf("%w: begin, end and strides of lengths %d, %d, %d for rank %d", tflite.ErrMalformed, len(begin), len(end), len(step), r)
	}
	starts, ends, steps, err := sliceBounds(x.shape, begin, end, step, o)
	if err != nil {
		return err
	}
	l := nhwc
	if r == 4 && o.ShrinkAxisMask == 0 && x.names[nchw] != "" {
		l = nchw
	}
	var axes, s, e, st []int64
	for d := range r {
		full := steps[d] == 1 && starts[d] == 0 && ends[d] >= x.shape[d]
		if full {
			continue
		}
		a := int64(d)
		if l == nchw {
			a = axisNCHW[d]
		}
		axes, s, e, st = append(axes, a), append(s, starts[d]), append(e, ends[d]), append(st, steps[d])
	}
	y := c.get(x, l)
	if len(axes) > 0 {
		base := c.baseName(out, l)
		y = c.g.node("Slice", []string{y, c.g.int64s(base+"_starts", s...), c.g.int64s(base+"_ends", e...),
			c.g.int64s(base+"_axes", axes...), c.g.int64s(base+"_steps", st...)}, c.tmp(out, l))
	}
	switch {
	case o.ShrinkAxisMask != 0: // l is NHWC here
		y = c.g.node("Reshape", []string{y, c.g.int64s(c.baseName(out, l)+"_shape", out.shape...)}, c.tmp(out, l))
	case len(axes) == 0:
		y = c.g.node("Identity", []string{y}, c.tmp(out, l))
	}
	return c.set(out, l, y, tflite.ActNone)
}

// sliceBounds resolves STRIDED_SLICE's begin, end, strides and masks against a static
// shape into ONNX Slice starts, ends and steps (one per dimension), as TFLite's kernel
// resolves them.
func sliceBounds(shape, begin, end, step []int64, o tflite.StridedSliceOptions) (starts, ends, steps []int64, err error) {
	for d, dim := range shape {
		if d >= len(begin) {
			starts, ends, steps = append(starts, 0), append(ends, dim), append(steps, 1)
			continue
		}
		s := step[d]
		bit := int32(1) << d
		shrink := o.ShrinkAxisMask&bit != 0
		if s == 0 {
			return nil, nil, nil, fmt.Errorf("%w: stride 0 in dimension %d", tflite.ErrMalformed, d)
		}
		clamp := func(v int64) int64 {
			if v < 0 {
				v += dim
			}
			if s > 0 {
				return min(max(v, 0), dim)
			}
			return min(max(v, -1), dim-1)
		}
		var b, e int64
		if o.BeginMask&bit != 0 && !shrink {
			b = map[bool]int64{true: 0, false: dim - 1}[s > 0]
		} else {
			b = clamp(begin[d])
		}
		switch {
		case shrink:
			b = begin[d]
			if b < 0 {
				b += dim
			}
			if b < 0 || b >= dim {
				return nil, nil, nil, fmt.Errorf("%w: index %d outside dimension %d of size %d", tflite.ErrMalformed, begin[d], d, dim)
			}
			e, s = b+1, 1
		case o.EndMask&bit != 0:
			e = map[bool]int64{true: dim, false: -1}[s > 0]
		case o.Offset:
			e = clamp(b + end[d])
		default:
			e = clamp(end[d])
		}
		if s < 0 && e < 0 {
			e = math.MinInt64 // "before index 0": ONNX clamps it to -1 for negative steps
		}
		starts, ends, steps = append(starts, b), append(ends, e), append(steps, s)
	}
	return starts, ends, steps, nil
}

func (c *converter) depthToSpace(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	bs, err := op.DepthToSpaceBlock()
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	if err := firstErr(need4(x, "input"), positive("block size", bs)); err != nil {
		return err
	}
	if x.shape[3]%int64(bs*bs) != 0 {
		return fmt.Errorf("%w: %d channels for block size %d", tflite.ErrMalformed, x.shape[3], bs)
	}
	// TensorFlow's depth_to_space reads channels as (block row, block column, channel):
	// ONNX's DCR mode.
	y := c.g.node("DepthToSpace", []string{c.get(x, nchw)}, c.tmp(out, nchw), attrInt("blocksize", int64(bs)), attrString("mode", "DCR"))
	return c.set(out, nchw, y, tflite.ActNone)
}

func (c *converter) resizeBilinear(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	o, err := op.ResizeBilinear()
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	if err := firstErr(need4(x, "input"), need4(out, "output")); err != nil {
		return err
	}
	size, err := constInts(c.in(op, 1), "size")
	if err != nil {
		return err
	}
	if len(size) != 2 || size[0] != out.shape[1] || size[1] != out.shape[2] {
		return fmt.Errorf("%w: size %v for output %v", tflite.ErrMalformed, size, out.shape)
	}
	mode := "asymmetric" // in = out * in_size / out_size
	switch {
	case o.AlignCorners && o.HalfPixelCenters:
		return fmt.Errorf("%w: align_corners together with half_pixel_centers", ErrUnsupported)
	case o.AlignCorners:
		mode = "align_corners"
	case o.HalfPixelCenters:
		mode = "half_pixel"
	}
	sizes := c.g.int64s(c.baseName(out, nchw)+"_sizes", x.shape[0], x.shape[3], size[0], size[1])
	y := c.g.node("Resize", []string{c.get(x, nchw), "", "", sizes}, c.tmp(out, nchw),
		attrString("mode", "linear"), attrString("coordinate_transformation_mode", mode))
	return c.set(out, nchw, y, tflite.ActNone)
}

func (c *converter) dequantize(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	if x.konst != nil { // fp16 or int8 weights: fold into an fp32 initializer
		f := x.konst.f
		if x.kq != nil {
			k, err := dequantize(x.konst, x.kq)
			if err != nil {
				return err
			}
			f = k.f
		}
		if f == nil {
			return fmt.Errorf("%w: dequantizing constant %q of type %s without quantization parameters", tflite.ErrMalformed, x.name, x.typ)
		}
		if numel(x.konst.shape) != numel(out.shape) {
			return fmt.Errorf("%w: dequantizing %v into %v", tflite.ErrMalformed, x.konst.shape, out.shape)
		}
		out.konst = &constant{typ: tflite.Float32, shape: out.shape, f: f}
		return nil
	}
	// A quantised activation already travels as its float value.
	l := c.pickLayout(out, x)
	y := c.g.node("Identity", []string{c.get(x, l)}, c.tmp(out, l))
	return c.set(out, l, y, tflite.ActNone)
}

func (c *converter) quantize(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	l := c.pickLayout(out, x)
	y := c.g.node("Identity", []string{c.get(x, l)}, c.tmp(out, l))
	return c.set(out, l, y, tflite.ActNone) // set rounds onto out's grid
}

func (c *converter) densify(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	if x.konst == nil {
		return fmt.Errorf("%w: DENSIFY of a tensor that is not a constant", ErrUnsupported)
	}
	if numel(x.konst.shape) != numel(out.shape) {
		return fmt.Errorf("%w: densifying %v into %v", tflite.ErrMalformed, x.konst.shape, out.shape)
	}
	k := *x.konst // the reader densified it already
	k.shape = out.shape
	out.konst = &k
	return nil
}

func (c *converter) softmax(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	beta, err := op.SoftmaxBeta()
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	xn := c.get(x, nhwc)
	if beta != 1 {
		xn = c.g.node("Mul", []string{xn, c.scalar(beta)}, c.g.name(xn+"_beta"))
	}
	y := c.g.node("Softmax", []string{xn}, c.tmp(out, nhwc), attrInt("axis", -1))
	return c.set(out, nhwc, y, tflite.ActNone)
}

func (c *converter) batchMatMul(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	adjX, adjY, err := op.BatchMatMulAdjoint()
	if err != nil {
		return err
	}
	x, y := c.in(op, 0), c.in(op, 1)
	if len(x.shape) < 2 || len(y.shape) < 2 {
		return fmt.Errorf("%w: BATCH_MATMUL of shapes %v and %v", tflite.ErrMalformed, x.shape, y.shape)
	}
	// adjoint: swap the last two dimensions
	swap := func(v *value, name string) string {
		perm := make([]int64, len(v.shape))
		for i := range perm {
			perm[i] = int64(i)
		}
		n := len(perm)
		perm[n-2], perm[n-1] = perm[n-1], perm[n-2]
		return c.g.node("Transpose", []string{name}, c.g.name(name+"_adj"), attrInts("perm", perm...))
	}
	xn, yn := c.get(x, nhwc), c.get(y, nhwc)
	if adjX {
		xn = swap(x, xn)
	}
	if adjY {
		yn = swap(y, yn)
	}
	return c.set(out, nhwc, c.g.node("MatMul", []string{xn, yn}, c.tmp(out, nhwc)), tflite.ActNone)
}

func (c *converter) gather(op *tflite.Operator) error {
	out, err := c.args(op, 2, 1)
	if err != nil {
		return err
	}
	o, err := op.Gather()
	if err != nil {
		return err
	}
	if o.BatchDims != 0 {
		return fmt.Errorf("%w: GATHER with batch_dims %d", ErrUnsupported, o.BatchDims)
	}
	x, idx := c.in(op, 0), c.in(op, 1)
	axis := int64(o.Axis)
	if axis < 0 {
		axis += int64(len(x.shape))
	}
	if axis < 0 || axis >= int64(len(x.shape)) {
		return fmt.Errorf("%w: GATHER axis %d of rank %d", tflite.ErrMalformed, o.Axis, len(x.shape))
	}
	y := c.g.node("Gather", []string{c.get(x, nhwc), c.get(idx, nhwc)}, c.tmp(out, nhwc), attrInt("axis", axis))
	return c.set(out, nhwc, y, tflite.ActNone)
}

func (c *converter) slice(op *tflite.Operator) error {
	out, err := c.args(op, 3, 1)
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	begin, err1 := constInts(c.in(op, 1), "begin")
	size, err2 := constInts(c.in(op, 2), "size")
	if err := firstErr(err1, err2); err != nil {
		return err
	}
	if len(begin) != len(x.shape) || len(size) != len(x.shape) {
		return fmt.Errorf("%w: SLICE begin %v and size %v for shape %v", tflite.ErrMalformed, begin, size, x.shape)
	}
	ends := make([]int64, len(size))
	for i, s := range size {
		if s < 0 { // -1: to the end
			ends[i] = x.shape[i]
		} else {
			ends[i] = begin[i] + s
		}
	}
	base := c.baseName(out, nhwc)
	y := c.g.node("Slice", []string{c.get(x, nhwc), c.g.int64s(base+"_starts", begin...), c.g.int64s(base+"_ends", ends...)}, c.tmp(out, nhwc))
	return c.set(out, nhwc, y, tflite.ActNone)
}

// gelu writes GELU with elementwise nodes (ONNX has Gelu only from opset 20).
func (c *converter) gelu(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	approx, err := op.GeluApproximate()
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	l := c.pickLayout(out, x)
	xn := c.get(x, l)
	base := c.baseName(out, l)
	var inner string
	if approx { // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
		x3 := c.g.node("Mul", []string{xn, c.g.node("Mul", []string{xn, xn}, c.g.name(base+"_x2"))}, c.g.name(base+"_x3"))
		s := c.g.node("Add", []string{xn, c.g.node("Mul", []string{x3, c.scalar(0.044715)}, c.g.name(base+"_cx3"))}, c.g.name(base+"_sum"))
		inner = c.g.node("Tanh", []string{c.g.node("Mul", []string{s, c.scalar(float32(math.Sqrt(2 / math.Pi)))}, c.g.name(base+"_scaled"))}, c.g.name(base+"_tanh"))
	} else { // erf(x / sqrt(2))
		inner = c.g.node("Erf", []string{c.g.node("Mul", []string{xn, c.scalar(float32(1 / math.Sqrt2))}, c.g.name(base+"_scaled"))}, c.g.name(base+"_erf"))
	}
	half := c.g.node("Mul", []string{xn, c.scalar(0.5)}, c.g.name(base+"_half"))
	y := c.g.node("Mul", []string{half, c.g.node("Add", []string{inner, c.scalar(1)}, c.g.name(base+"_1p"))}, c.tmp(out, l))
	return c.set(out, l, y, tflite.ActNone)
}

func (c *converter) cast(op *tflite.Operator) error {
	out, err := c.args(op, 1, 1)
	if err != nil {
		return err
	}
	x := c.in(op, 0)
	to := onnxDType(out.internalType())
	if to == onnxpb.TensorProto_UNDEFINED || x.quant != nil || out.quant != nil {
		return fmt.Errorf("%w: CAST from %s to %s", ErrUnsupported, x.typ, out.typ)
	}
	l := c.pickLayout(out, x)
	y := c.g.node("Cast", []string{c.get(x, l)}, c.tmp(out, l), attrInt("to", int64(to)))
	return c.set(out, l, y, tflite.ActNone)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// SupportedOperators lists the TFLite builtin operators the converter handles, sorted.
func SupportedOperators() []string {
	var names []string
	for b := range handlers {
		names = append(names, b.String())
	}
	sort.Strings(names)
	return names
}
