package convert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"scope/models/convert/tflite"
	"scope/tools/mpref/mpref"
)

// Options union members of schema.fbs's BuiltinOptions, for the test models.
const (
	uConv2D = 1
	uDW     = 2
	uPool   = 5
	uFC     = 8
	uConcat = 10
	uAdd    = 11
	uResize = 15
	uReduce = 27
	uSlice  = 32
	uD2S    = 94
	uPad    = 22
)

func seq(n int, from float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = from + float32(i)
	}
	return v
}

func fill(n int, x float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = x
	}
	return v
}

func shape64(s []int32) []int64 {
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = int64(d)
	}
	return out
}

// unaryModel is in -> op -> out, with extra constant inputs made by consts.
func unaryModel(code tflite.Builtin, inShape, outShape []int32, optType uint8, opts []optField, consts func(m *tfl) []int32) *tfl {
	m := &tfl{}
	x := m.f32("x", inShape)
	ins := []int32{x}
	if consts != nil {
		ins = append(ins, consts(m)...)
	}
	y := m.f32("y", outShape)
	m.op(code, ins, []int32{y}, optType, opts...)
	m.inputs, m.outputs = []int32{x}, []int32{y}
	return m
}

// opCase is a small model, its input and the output worked out by hand.
type opCase struct {
	name  string
	model *tfl
	in    []float32
	want  []float32
}

func operatorCases() []opCase {
	ones9 := fill(9, 1)
	return []opCase{
		{"conv SAME stride 2 pads only after", unaryModel(tflite.OpConv2D, []int32{1, 4, 4, 1}, []int32{1, 2, 2, 1}, uConv2D,
			[]optField{ob(0, 0), oi(1, 2), oi(2, 2)}, func(m *tfl) []int32 {
				return []int32{m.f32("w", []int32{1, 3, 3, 1}, ones9...), m.f32("b", []int32{1}, 0)}
			}), seq(16, 1), []float32{54, 45, 72, 54}},
		{"conv VALID stride 1", unaryModel(tflite.OpConv2D, []int32{1, 4, 4, 1}, []int32{1, 2, 2, 1}, uConv2D,
			[]optField{ob(0, 1), oi(1, 1), oi(2, 1)}, func(m *tfl) []int32 {
				return []int32{m.f32("w", []int32{1, 3, 3, 1}, ones9...), m.f32("b", []int32{1}, 0)}
			}), seq(16, 1), []float32{54, 63, 90, 99}},
		{"conv dilation 2", unaryModel(tflite.OpConv2D, []int32{1, 5, 5, 1}, []int32{1, 3, 3, 1}, uConv2D,
			[]optField{ob(0, 1), oi(1, 1), oi(2, 1), oi(4, 2), oi(5, 2)}, func(m *tfl) []int32 {
				return []int32{m.f32("w", []int32{1, 2, 2, 1}, 1, 1, 1, 1), m.f32("b", []int32{1}, 0)}
			}), seq(25, 1), []float32{28, 32, 36, 48, 52, 56, 68, 72, 76}},
		{"conv OHWI weights, bias, fused RELU", unaryModel(tflite.OpConv2D, []int32{1, 1, 2, 2}, []int32{1, 1, 2, 2}, uConv2D,
			// out ch0 = x0 + x1 + 1, ch1 = x0 - x1 - 1, then relu
			[]optField{ob(0, 1), oi(1, 1), oi(2, 1), ob(3, 1)}, func(m *tfl) []int32 {
				return []int32{m.f32("w", []int32{2, 1, 1, 2}, 1, 1, 1, -1), m.f32("b", []int32{2}, 1, -1)}
			}), []float32{1, 2, 5, 3}, []float32{4, 0, 9, 1}},
		{"depthwise multiplier 2", unaryModel(tflite.OpDepthwiseConv2D, []int32{1, 1, 1, 2}, []int32{1, 1, 1, 4}, uDW,
			[]optField{ob(0, 1), oi(1, 1), oi(2, 1), oi(3, 2)}, func(m *tfl) []int32 {
				return []int32{m.f32("w", []int32{1, 1, 1, 4}, 1, 2, 3, 4), m.f32("b", []int32{4}, 0.5, 0.5, 0.5, 0.5)}
			}), []float32{3, 5}, []float32{3.5, 6.5, 15.5, 20.5}},
		{"depthwise SAME 3x3 with RELU6", unaryModel(tflite.OpDepthwiseConv2D, []int32{1, 2, 2, 1}, []int32{1, 2, 2, 1}, uDW,
			[]optField{ob(0, 0), oi(1, 1), oi(2, 1), oi(3, 1), ob(4, 3)}, func(m *tfl) []int32 {
				return []int32{m.f32("w", []int32{1, 3, 3, 1}, ones9...), m.f32("b", []int32{1}, 0)}
			}), []float32{1, 2, 3, -1}, []float32{5, 5, 5, 5}},
		{"max pool SAME 2x2 stride 2", unaryModel(tflite.OpMaxPool2D, []int32{1, 3, 3, 1}, []int32{1, 2, 2, 1}, uPool,
			[]optField{ob(0, 0), oi(1, 2), oi(2, 2), oi(3, 2), oi(4, 2)}, nil), seq(9, 1), []float32{5, 6, 8, 9}},
		{"average pool SAME ignores padding", unaryModel(tflite.OpAveragePool2D, []int32{1, 3, 3, 1}, []int32{1, 2, 2, 1}, uPool,
			[]optField{ob(0, 0), oi(1, 2), oi(2, 2), oi(3, 2), oi(4, 2)}, nil), seq(9, 1), []float32{3, 4.5, 7.5, 9}},
		{"resize bilinear asymmetric", unaryModel(tflite.OpResizeBilinear, []int32{1, 1, 2, 1}, []int32{1, 1, 4, 1}, uResize,
			nil, func(m *tfl) []int32 { return []int32{m.i32("size", []int32{2}, 1, 4)} }), []float32{0, 1}, []float32{0, 0.5, 1, 1}},
		{"resize bilinear align_corners", unaryModel(tflite.OpResizeBilinear, []int32{1, 1, 2, 1}, []int32{1, 1, 4, 1}, uResize,
			[]optField{ob(2, 1)}, func(m *tfl) []int32 { return []int32{m.i32("size", []int32{2}, 1, 4)} }), []float32{0, 1}, []float32{0, 1. / 3, 2. / 3, 1}},
		{"resize bilinear half_pixel_centers", unaryModel(tflite.OpResizeBilinear, []int32{1, 1, 2, 1}, []int32{1, 1, 4, 1}, uResize,
			[]optField{ob(3, 1)}, func(m *tfl) []int32 { return []int32{m.i32("size", []int32{2}, 1, 4)} }), []float32{0, 1}, []float32{0, 0.25, 0.75, 1}},
		{"pad top and right", unaryModel(tflite.OpPad, []int32{1, 1, 2, 1}, []int32{1, 2, 3, 1}, 0, nil, func(m *tfl) []int32 {
			return []int32{m.i32("pads", []int32{4, 2}, 0, 0, 1, 0, 0, 1, 0, 0)}
		}), []float32{1, 2}, []float32{0, 0, 0, 1, 2, 0}},
		{"strided slice negative stride", unaryModel(tflite.OpStridedSlice, []int32{3, 4}, []int32{2, 3}, uSlice, nil, func(m *tfl) []int32 {
			return []int32{m.i32("b", []int32{2}, 1, -1), m.i32("e", []int32{2}, 3, 0), m.i32("s", []int32{2}, 1, -1)}
		}), seq(12, 0), []float32{7, 6, 5, 11, 10, 9}},
		{"strided slice end mask", unaryModel(tflite.OpStridedSlice, []int32{3, 4}, []int32{2, 4}, uSlice, []optField{oi(1, 2)}, func(m *tfl) []int32 {
			return []int32{m.i32("b", []int32{2}, 1, -1), m.i32("e", []int32{2}, 3, 0), m.i32("s", []int32{2}, 1, -1)}
		}), seq(12, 0), []float32{7, 6, 5, 4, 11, 10, 9, 8}},
		{"strided slice shrink axis", unaryModel(tflite.OpStridedSlice, []int32{3, 4}, []int32{4}, uSlice, []optField{oi(4, 1)}, func(m *tfl) []int32 {
			return []int32{m.i32("b", []int32{2}, 2, 0), m.i32("e", []int32{2}, 3, 4), m.i32("s", []int32{2}, 1, 1)}
		}), seq(12, 0), []float32{8, 9, 10, 11}},
		{"strided slice stride 2 with begin mask", unaryModel(tflite.OpStridedSlice, []int32{1, 1, 5, 1}, []int32{1, 1, 3, 1}, uSlice, []optField{oi(0, 15)}, func(m *tfl) []int32 {
			return []int32{m.i32("b", []int32{4}, 0, 0, 3, 0), m.i32("e", []int32{4}, 1, 1, 5, 1), m.i32("s", []int32{4}, 1, 1, 2, 1)}
		}), seq(5, 0), []float32{0, 2, 4}},
		{"strided slice of everything after a convolution", func() *tfl {
			m := unaryModel(tflite.OpConv2D, []int32{1, 2, 2, 1}, []int32{1, 2, 2, 1}, uConv2D, []optField{ob(0, 1), oi(1, 1), oi(2, 1)},
				func(m *tfl) []int32 { return []int32{m.f32("w", []int32{1, 1, 1, 1}, 2), m.f32("b", []int32{1}, 0)} })
			y := m.outputs[0]
			z := m.f32("z", []int32{1, 2, 2, 1})
			m.op(tflite.OpStridedSlice, []int32{y, m.i32("b", []int32{4}, 0, 0, 0, 0), m.i32("e", []int32{4}, 1, 2, 2, 1),
				m.i32("s", []int32{4}, 1, 1, 1, 1)}, []int32{z}, uSlice)
			m.outputs = []int32{z}
			return m
		}(), []float32{1, 2, 3, 4}, []float32{2, 4, 6, 8}},
		{"concatenation on channels after convolutions", func() *tfl {
			m := unaryModel(tflite.OpConv2D, []int32{1, 1, 2, 2}, []int32{1, 1, 2, 1}, uConv2D, []optField{ob(0, 1), oi(1, 1), oi(2, 1)},
				func(m *tfl) []int32 {
					return []int32{m.f32("w", []int32{1, 1, 1, 2}, 1, 10), m.f32("b", []int32{1}, 0)}
				})
			y := m.outputs[0]
			z := m.f32("z", []int32{1, 1, 2, 3})
			m.op(tflite.OpConcatenation, []int32{y, m.inputs[0]}, []int32{z}, uConcat, oi(0, -1))
			m.outputs = []int32{z}
			return m
		}(), []float32{1, 2, 3, 4}, []float32{21, 1, 2, 43, 3, 4}},
		{"pad and mean keep_dims after a convolution", func() *tfl {
			m := unaryModel(tflite.OpConv2D, []int32{1, 1, 2, 1}, []int32{1, 1, 2, 1}, uConv2D, []optField{ob(0, 1), oi(1, 1), oi(2, 1)},
				func(m *tfl) []int32 { return []int32{m.f32("w", []int32{1, 1, 1, 1}, 1), m.f32("b", []int32{1}, 0)} })
			y := m.outputs[0]
			p := m.f32("p", []int32{1, 2, 2, 1})
			m.op(tflite.OpPad, []int32{y, m.i32("pads", []int32{4, 2}, 0, 0, 0, 1, 0, 0, 0, 0)}, []int32{p}, uPad)
			z := m.f32("z", []int32{1, 2, 1, 1})
			m.op(tflite.OpMean, []int32{p, m.i32("axes", []int32{1}, 2)}, []int32{z}, uReduce, ob(0, 1))
			m.outputs = []int32{z}
			return m
		}(), []float32{2, 4}, []float32{3, 0}},
		{"batch matmul adj_y", unaryModel(tflite.OpBatchMatMul, []int32{1, 2, 3}, []int32{1, 2, 1}, 101, []optField{ob(1, 1)}, func(m *tfl) []int32 {
			return []int32{m.f32("y", []int32{1, 1, 3}, 1, 0, -1)}
		}), seq(6, 1), []float32{-2, -2}},
		{"gather rows", unaryModel(tflite.OpGather, []int32{3, 2}, []int32{2, 2}, 23, []optField{oi(0, 0)}, func(m *tfl) []int32 {
			return []int32{m.i32("idx", []int32{2}, 2, 0)}
		}), seq(6, 0), []float32{4, 5, 0, 1}},
		{"slice to the end", unaryModel(tflite.OpSlice, []int32{3, 4}, []int32{2, 3}, 0, nil, func(m *tfl) []int32 {
			return []int32{m.i32("begin", []int32{2}, 1, 1), m.i32("size", []int32{2}, 2, -1)}
		}), seq(12, 0), []float32{5, 6, 7, 9, 10, 11}},
		{"sum over channels", unaryModel(tflite.OpSum, []int32{1, 2, 2, 2}, []int32{1, 2, 2}, uReduce, []optField{ob(0, 0)}, func(m *tfl) []int32 {
			return []int32{m.i32("axes", []int32{1}, -1)}
		}), seq(8, 1), []float32{3, 7, 11, 15}},
		{"reduce max over H and W", unaryModel(tflite.OpReduceMax, []int32{1, 2, 2, 2}, []int32{1, 2}, uReduce, []optField{ob(0, 0)}, func(m *tfl) []int32 {
			return []int32{m.i32("axes", []int32{2}, 1, 2)}
		}), seq(8, 1), []float32{7, 8}},
		{"gelu", unaryModel(tflite.OpGelu, []int32{3}, []int32{3}, 116, []optField{ob(0, 0)}, nil),
			[]float32{0, 1, -1}, []float32{0, 0.8413447, -0.1586553}}, // x * Phi(x)
		{"gelu tanh approximation", unaryModel(tflite.OpGelu, []int32{2}, []int32{2}, 116, []optField{ob(0, 1)}, nil),
			[]float32{0, 1}, []float32{0, float32(0.5 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(1+0.044715))))}},
		{"squared difference", unaryModel(tflite.OpSquaredDifference, []int32{2}, []int32{2}, 0, nil, func(m *tfl) []int32 {
			return []int32{m.f32("c", []int32{2}, 3, 3)}
		}), []float32{1, 5}, []float32{4, 4}},
		{"pow", unaryModel(tflite.OpPow, []int32{2}, []int32{2}, 0, nil, func(m *tfl) []int32 {
			return []int32{m.f32("c", []int32{2}, 3, 2)}
		}), []float32{2, 3}, []float32{8, 9}},
		{"log and square", func() *tfl {
			m := unaryModel(tflite.OpLog, []int32{2}, []int32{2}, 0, nil, nil)
			z := m.f32("z", []int32{2})
			m.op(tflite.OpSquare, []int32{m.outputs[0]}, []int32{z}, 0)
			m.outputs = []int32{z}
			return m
		}(), []float32{1, float32(math.E * math.E)}, []float32{0, 4}},
		{"cast truncates toward zero", func() *tfl {
			m := &tfl{}
			x := m.f32("x", []int32{3})
			y := m.tensor("y", tflite.Int32, []int32{3}, nil)
			m.op(tflite.OpCast, []int32{x}, []int32{y}, 0)
			m.inputs, m.outputs = []int32{x}, []int32{y}
			return m
		}(), []float32{1.7, -1.7, 3}, []float32{1, -1, 3}},
		{"abs", unaryModel(tflite.OpAbs, []int32{2}, []int32{2}, 0, nil, nil), []float32{-2, 3}, []float32{2, 3}},
		{"exp", unaryModel(tflite.OpExp, []int32{2}, []int32{2}, 0, nil, nil), []float32{0, float32(math.Ln2)}, []float32{1, 2}},
		{"neg", unaryModel(tflite.OpNeg, []int32{2}, []int32{2}, 0, nil, nil), []float32{1, -2}, []float32{-1, 2}},
		{"sqrt", unaryModel(tflite.OpSqrt, []int32{2}, []int32{2}, 0, nil, nil), []float32{4, 9}, []float32{2, 3}},
		{"rsqrt", unaryModel(tflite.OpRsqrt, []int32{2}, []int32{2}, 0, nil, nil), []float32{4, 0.25}, []float32{0.5, 2}},
		{"tanh", unaryModel(tflite.OpTanh, []int32{2}, []int32{2}, 0, nil, nil), []float32{0, float32(math.Atanh(0.5))}, []float32{0, 0.5}},
		{"relu_n1_to_1", unaryModel(tflite.OpReluN1To1, []int32{3}, []int32{3}, 0, nil, nil), []float32{-3, 0.5, 3}, []float32{-1, 0.5, 1}},
		{"hard swish", unaryModel(tflite.OpHardSwish, []int32{4}, []int32{4}, 0, nil, nil), []float32{-4, 0, 1, 4}, []float32{0, 0, 4. / 6, 4}},
		{"leaky relu", unaryModel(tflite.OpLeakyRelu, []int32{2}, []int32{2}, 75, []optField{of(0, 0.1)}, nil), []float32{-10, 5}, []float32{-1, 5}},
		{"softmax", unaryModel(tflite.OpSoftmax, []int32{1, 2}, []int32{1, 2}, 9, []optField{of(0, 1)}, nil), []float32{0, float32(math.Log(3))}, []float32{0.25, 0.75}},
		{"softmax beta 2", unaryModel(tflite.OpSoftmax, []int32{1, 2}, []int32{1, 2}, 9, []optField{of(0, 2)}, nil), []float32{0, float32(math.Log(3) / 2)}, []float32{0.25, 0.75}},
		{"sub", unaryModel(tflite.OpSub, []int32{2}, []int32{2}, 28, nil, func(m *tfl) []int32 { return []int32{m.f32("c", []int32{2}, 1, 2)} }),
			[]float32{5, 5}, []float32{4, 3}},
		{"div", unaryModel(tflite.OpDiv, []int32{2}, []int32{2}, 29, nil, func(m *tfl) []int32 { return []int32{m.f32("c", []int32{2}, 2, 4)} }),
			[]float32{6, 3}, []float32{3, 0.75}},
		{"maximum", unaryModel(tflite.OpMaximum, []int32{2}, []int32{2}, 0, nil, func(m *tfl) []int32 { return []int32{m.f32("c", []int32{2}, 3, 3)} }),
			[]float32{1, 5}, []float32{3, 5}},
		{"minimum", unaryModel(tflite.OpMinimum, []int32{2}, []int32{2}, 0, nil, func(m *tfl) []int32 { return []int32{m.f32("c", []int32{2}, 3, 3)} }),
			[]float32{1, 5}, []float32{1, 3}},
		{"transpose", unaryModel(tflite.OpTranspose, []int32{2, 3}, []int32{3, 2}, 0, nil, func(m *tfl) []int32 { return []int32{m.i32("perm", []int32{2}, 1, 0)} }),
			seq(6, 0), []float32{0, 3, 1, 4, 2, 5}},
		{"padv2 with a value", unaryModel(tflite.OpPadV2, []int32{1, 2}, []int32{1, 4}, 0, nil, func(m *tfl) []int32 {
			return []int32{m.i32("pads", []int32{2, 2}, 0, 0, 1, 1), m.f32("value", []int32{}, 9)}
		}), []float32{1, 2}, []float32{9, 1, 2, 9}},
		{"squeeze", unaryModel(tflite.OpSqueeze, []int32{1, 2, 1}, []int32{2}, 0, nil, nil), []float32{1, 2}, []float32{1, 2}},
		{"expand dims", unaryModel(tflite.OpExpandDims, []int32{2}, []int32{1, 2}, 0, nil, func(m *tfl) []int32 { return []int32{m.i32("axis", []int32{}, 0)} }),
			[]float32{1, 2}, []float32{1, 2}},
		{"depth to space is DCR", unaryModel(tflite.OpDepthToSpace, []int32{1, 1, 1, 8}, []int32{1, 2, 2, 2}, uD2S, []optField{oi(0, 2)}, nil),
			seq(8, 0), seq(8, 0)},
		{"mean over H and W", unaryModel(tflite.OpMean, []int32{1, 2, 2, 2}, []int32{1, 2}, uReduce, []optField{ob(0, 0)}, func(m *tfl) []int32 {
			return []int32{m.i32("axes", []int32{2}, 1, 2)}
		}), seq(8, 1), []float32{4, 5}},
		{"fully connected with RELU", unaryModel(tflite.OpFullyConnected, []int32{1, 3}, []int32{1, 2}, uFC, []optField{ob(0, 1)}, func(m *tfl) []int32 {
			return []int32{m.f32("w", []int32{2, 3}, 1, 0, -1, 2, 2, 2), m.f32("b", []int32{2}, 0.5, -1)}
		}), []float32{1, 2, 3}, []float32{0, 11}},
		{"fully connected flattens NHWC", unaryModel(tflite.OpFullyConnected, []int32{1, 1, 2, 2}, []int32{1, 1}, uFC, nil, func(m *tfl) []int32 {
			return []int32{m.f32("w", []int32{1, 4}, 1, 10, 100, 1000)}
		}), []float32{1, 2, 3, 4}, []float32{4321}},
		{"prelu per channel", unaryModel(tflite.OpPrelu, []int32{1, 1, 2, 2}, []int32{1, 1, 2, 2}, 0, nil, func(m *tfl) []int32 {
			return []int32{m.f32("alpha", []int32{1, 1, 2}, 0.5, 0.25)}
		}), []float32{-2, -4, 2, -8}, []float32{-1, -1, 2, -2}},
		{"logistic", unaryModel(tflite.OpLogistic, []int32{1, 2}, []int32{1, 2}, 0, nil, nil), []float32{0, float32(math.Log(3))}, []float32{0.5, 0.75}},
		{"relu6", unaryModel(tflite.OpRelu6, []int32{1, 3}, []int32{1, 3}, 0, nil, nil), []float32{-1, 3, 7}, []float32{0, 3, 6}},
		{"relu", unaryModel(tflite.OpRelu, []int32{1, 3}, []int32{1, 3}, 0, nil, nil), []float32{-1, 3, 7}, []float32{0, 3, 7}},
		{"add broadcast with fused RELU6", unaryModel(tflite.OpAdd, []int32{1, 1, 2, 2}, []int32{1, 1, 2, 2}, uAdd, []optField{ob(0, 3)}, func(m *tfl) []int32 {
			return []int32{m.f32("c", []int32{2}, 3, -3)}
		}), []float32{1, 1, 5, 2}, []float32{4, 0, 6, 0}},
		{"mul", unaryModel(tflite.OpMul, []int32{1, 2}, []int32{1, 2}, 21, nil, func(m *tfl) []int32 {
			return []int32{m.f32("c", []int32{1, 2}, 2, -3)}
		}), []float32{1.5, 2}, []float32{3, -6}},
		{"reshape", unaryModel(tflite.OpReshape, []int32{1, 2, 2, 1}, []int32{1, 4}, 0, nil, func(m *tfl) []int32 {
			return []int32{m.i32("shape", []int32{2}, 1, 4)}
		}), []float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}},
	}
}

// TestOperators converts one-operator models and checks ONNX Runtime's results against
// values worked out by hand.
func TestOperators(t *testing.T) {
	for _, tc := range operatorCases() {
		t.Run(tc.name, func(t *testing.T) {
			data, _, err := ConvertBytes(tc.model.bytes())
			if err != nil {
				t.Fatal(err)
			}
			x := tc.model.tensors[tc.model.inputs[0]]
			got := runONNX(t, data, tensor{shape: shape64(x.shape), f32: tc.in})
			wantShape := shape64(tc.model.tensors[tc.model.outputs[0]].shape)
			if !equalInts(got[0].shape, wantShape) {
				t.Fatalf("output shape %v, want %v", got[0].shape, wantShape)
			}
			for i := range tc.want {
				if math.Abs(float64(got[0].floats()[i]-tc.want[i])) > 1e-5 {
					t.Fatalf("got %v, want %v", got[0].floats(), tc.want)
				}
			}
		})
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestOperatorsOnLiteRT runs the same models on LiteRT, so the hand-worked values (and
// the schema facts the test models are written with) are checked against TFLite itself.
func TestOperatorsOnLiteRT(t *testing.T) {
	if testing.Short() {
		t.Skip("runs LiteRT in Chromium")
	}
	env, err := mpref.Locate()
	if err != nil {
		if errors.Is(err, mpref.ErrNotSetUp) && os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	cases := operatorCases()
	dir := t.TempDir()
	var runs []mpref.ModelRun
	for k, tc := range cases {
		path := filepath.Join(dir, fmt.Sprintf("op%d.tflite", k))
		if err := os.WriteFile(path, tc.model.bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		shape := tc.model.tensors[tc.model.inputs[0]].shape
		runs = append(runs, mpref.ModelRun{Model: path, Runs: [][]mpref.Tensor{{{DType: mpref.Float32, Shape: ints(shape64(shape)), Float32: tc.in}}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := env.RunLiteRT(ctx, runs)
	if err != nil {
		t.Fatal(err)
	}
	for k, tc := range cases {
		out := res[k].RunOutputs[0][0]
		got := out.Float32
		if out.DType == mpref.Int32 {
			got = make([]float32, len(out.Int32))
			for i, v := range out.Int32 {
				got[i] = float32(v)
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: LiteRT gave %d values, want %d", tc.name, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-5 {
				t.Errorf("%s: LiteRT gave %v, the hand-worked values are %v", tc.name, got, tc.want)
				break
			}
		}
	}
}
