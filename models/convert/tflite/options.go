package tflite

import "fmt"

// Conv2DOptions are the options of CONV_2D.
type Conv2DOptions struct {
	Padding              Padding
	StrideW, StrideH     int32
	Activation           Activation
	DilationW, DilationH int32
}

// DepthwiseConv2DOptions are the options of DEPTHWISE_CONV_2D.
type DepthwiseConv2DOptions struct {
	Padding              Padding
	StrideW, StrideH     int32
	DepthMultiplier      int32
	Activation           Activation
	DilationW, DilationH int32
}

// Pool2DOptions are the options of MAX_POOL_2D and AVERAGE_POOL_2D.
type Pool2DOptions struct {
	Padding          Padding
	StrideW, StrideH int32
	FilterW, FilterH int32
	Activation       Activation
}

// FullyConnectedOptions are the options of FULLY_CONNECTED.
type FullyConnectedOptions struct {
	Activation    Activation
	WeightsFormat uint8 // 0: default; 1: shuffled 4x16 int8
	KeepNumDims   bool
}

// ConcatenationOptions are the options of CONCATENATION.
type ConcatenationOptions struct {
	Axis       int32
	Activation Activation
}

// ResizeBilinearOptions are the options of RESIZE_BILINEAR.
type ResizeBilinearOptions struct {
	AlignCorners     bool
	HalfPixelCenters bool
}

// StridedSliceOptions are the options of STRIDED_SLICE.
type StridedSliceOptions struct {
	BeginMask, EndMask, EllipsisMask, NewAxisMask, ShrinkAxisMask int32
	Offset                                                        bool
}

// opts returns the operator's options table after checking that it is of the union
// member want; ok is false when the operator has no options (all fields default).
func (op *Operator) opts(want uint8, name string) (table, bool, error) {
	if !op.hasOptions {
		return table{}, false, nil
	}
	if op.OptionsType != want {
		return table{}, false, fmt.Errorf("%w: options are of union type %d, want %d (%s)", ErrMalformed, op.OptionsType, want, name)
	}
	return op.options, true, nil
}

// Conv2D decodes CONV_2D options.
func (op *Operator) Conv2D() (o Conv2DOptions, err error) {
	o = Conv2DOptions{StrideW: 1, StrideH: 1, DilationW: 1, DilationH: 1}
	t, ok, err := op.opts(optConv2D, "Conv2DOptions")
	if !ok {
		return o, err
	}
	var r reader
	o.Padding = Padding(r.u8(t, 0, 0))
	o.StrideW = r.i32(t, 1, 1)
	o.StrideH = r.i32(t, 2, 1)
	o.Activation = Activation(r.u8(t, 3, 0))
	o.DilationW = r.i32(t, 4, 1)
	o.DilationH = r.i32(t, 5, 1)
	return o, r.err
}

// DepthwiseConv2D decodes DEPTHWISE_CONV_2D options.
func (op *Operator) DepthwiseConv2D() (o DepthwiseConv2DOptions, err error) {
	o = DepthwiseConv2DOptions{StrideW: 1, StrideH: 1, DilationW: 1, DilationH: 1}
	t, ok, err := op.opts(optDepthwiseConv2D, "DepthwiseConv2DOptions")
	if !ok {
		return o, err
	}
	var r reader
	o.Padding = Padding(r.u8(t, 0, 0))
	o.StrideW = r.i32(t, 1, 1)
	o.StrideH = r.i32(t, 2, 1)
	o.DepthMultiplier = r.i32(t, 3, 0)
	o.Activation = Activation(r.u8(t, 4, 0))
	o.DilationW = r.i32(t, 5, 1)
	o.DilationH = r.i32(t, 6, 1)
	return o, r.err
}

// Pool2D decodes MAX_POOL_2D and AVERAGE_POOL_2D options.
func (op *Operator) Pool2D() (o Pool2DOptions, err error) {
	o = Pool2DOptions{StrideW: 1, StrideH: 1, FilterW: 1, FilterH: 1}
	t, ok, err := op.opts(optPool2D, "Pool2DOptions")
	if !ok {
		return o, err
	}
	var r reader
	o.Padding = Padding(r.u8(t, 0, 0))
	o.StrideW = r.i32(t, 1, 0)
	o.StrideH = r.i32(t, 2, 0)
	o.FilterW = r.i32(t, 3, 0)
	o.FilterH = r.i32(t, 4, 0)
	o.Activation = Activation(r.u8(t, 5, 0))
	return o, r.err
}

// FullyConnected decodes FULLY_CONNECTED options.
func (op *Operator) FullyConnected() (o FullyConnectedOptions, err error) {
	t, ok, err := op.opts(optFullyConnected, "FullyConnectedOptions")
	if !ok {
		return o, err
	}
	var r reader
	o.Activation = Activation(r.u8(t, 0, 0))
	o.WeightsFormat = r.u8(t, 1, 0)
	o.KeepNumDims = r.u8(t, 2, 0) != 0
	return o, r.err
}

// Concatenation decodes CONCATENATION options.
func (op *Operator) Concatenation() (o ConcatenationOptions, err error) {
	t, ok, err := op.opts(optConcatenation, "ConcatenationOptions")
	if !ok {
		return o, err
	}
	var r reader
	o.Axis = r.i32(t, 0, 0)
	o.Activation = Activation(r.u8(t, 1, 0))
	return o, r.err
}

// FusedActivation decodes the one option of ADD, MUL, SUB and DIV.
func (op *Operator) FusedActivation(b Builtin) (Activation, error) {
	want := map[Builtin]uint8{OpAdd: optAdd, OpMul: optMul, OpSub: optSub, OpDiv: optDiv}[b]
	t, ok, err := op.opts(want, b.String()+" options")
	if !ok {
		return ActNone, err
	}
	var r reader
	a := Activation(r.u8(t, 0, 0))
	return a, r.err
}

// ResizeBilinear decodes RESIZE_BILINEAR options.
func (op *Operator) ResizeBilinear() (o ResizeBilinearOptions, err error) {
	t, ok, err := op.opts(optResizeBilinear, "ResizeBilinearOptions")
	if !ok {
		return o, err
	}
	var r reader
	o.AlignCorners = r.u8(t, 2, 0) != 0
	o.HalfPixelCenters = r.u8(t, 3, 0) != 0
	return o, r.err
}

// ReshapeNewShape decodes RESHAPE's new_shape option (nil when absent).
func (op *Operator) ReshapeNewShape() ([]int32, error) {
	t, ok, err := op.opts(optReshape, "ReshapeOptions")
	if !ok {
		return nil, err
	}
	return t.int32s(0)
}

// KeepDims decodes the keep_dims option of MEAN and the other reducers.
func (op *Operator) KeepDims() (bool, error) {
	t, ok, err := op.opts(optReducer, "ReducerOptions")
	if !ok {
		return false, err
	}
	return t.bool(0)
}

// StridedSlice decodes STRIDED_SLICE options.
func (op *Operator) StridedSlice() (o StridedSliceOptions, err error) {
	t, ok, err := op.opts(optStridedSlice, "StridedSliceOptions")
	if !ok {
		return o, err
	}
	var r reader
	o.BeginMask = r.i32(t, 0, 0)
	o.EndMask = r.i32(t, 1, 0)
	o.EllipsisMask = r.i32(t, 2, 0)
	o.NewAxisMask = r.i32(t, 3, 0)
	o.ShrinkAxisMask = r.i32(t, 4, 0)
	o.Offset = r.u8(t, 5, 0) != 0
	return o, r.err
}

// DepthToSpaceBlock decodes DEPTH_TO_SPACE's block_size.
func (op *Operator) DepthToSpaceBlock() (int32, error) {
	t, ok, err := op.opts(optDepthToSpace, "DepthToSpaceOptions")
	if !ok {
		return 0, err
	}
	return t.int32(0, 0)
}

// SoftmaxBeta decodes SOFTMAX's beta.
func (op *Operator) SoftmaxBeta() (float32, error) {
	t, ok, err := op.opts(optSoftmax, "SoftmaxOptions")
	if !ok {
		return 1, err
	}
	return t.float32(0, 0)
}

// reader keeps the first error of a run of field reads.
type reader struct{ err error }

func (r *reader) u8(t table, id int, def uint8) uint8 {
	v, err := t.uint8(id, def)
	if r.err == nil {
		r.err = err
	}
	return v
}

func (r *reader) i32(t table, id int, def int32) int32 {
	v, err := t.int32(id, def)
	if r.err == nil {
		r.err = err
	}
	return v
}

// LeakyReluAlpha decodes LEAKY_RELU's alpha.
func (op *Operator) LeakyReluAlpha() (float32, error) {
	t, ok, err := op.opts(optLeakyRelu, "LeakyReluOptions")
	if !ok {
		return 0, err
	}
	return t.float32(0, 0)
}

// GatherOptions are the options of GATHER.
type GatherOptions struct {
	Axis, BatchDims int32
}

// Gather decodes GATHER options.
func (op *Operator) Gather() (o GatherOptions, err error) {
	t, ok, err := op.opts(optGather, "GatherOptions")
	if !ok {
		return o, err
	}
	var r reader
	o.Axis = r.i32(t, 0, 0)
	o.BatchDims = r.i32(t, 1, 0)
	return o, r.err
}

// BatchMatMulAdjoint decodes BATCH_MATMUL's adj_x and adj_y.
func (op *Operator) BatchMatMulAdjoint() (adjX, adjY bool, err error) {
	t, ok, err := op.opts(optBatchMatMul, "BatchMatMulOptions")
	if !ok {
		return false, false, err
	}
	var r reader
	adjX, adjY = r.u8(t, 0, 0) != 0, r.u8(t, 1, 0) != 0
	return adjX, adjY, r.err
}

// GeluApproximate decodes GELU's approximate flag (tanh form when set).
func (op *Operator) GeluApproximate() (bool, error) {
	t, ok, err := op.opts(optGelu, "GeluOptions")
	if !ok {
		return false, err
	}
	return t.bool(0)
}
