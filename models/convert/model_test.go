package convert

import (
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"scope/internal/assets"
	"scope/models/convert/onnxpb"
	"scope/models/convert/tflite"
)

// TestQuantizedFullyConnected checks an int8 model with hand-worked numbers: public
// int8 input and output keep their type, weights and bias are dequantised, and the
// result is rounded onto the output's grid.
func TestQuantizedFullyConnected(t *testing.T) {
	for _, tc := range []struct {
		scale float32
		zero  int64
		want  int8
	}{
		{1, 0, 9}, // 2*1 + 3*2 + 1 = 9
		{4, 3, 5}, // 9/4 = 2.25 -> 2, + 3
	} {
		m := &tfl{}
		x := m.tensor("x", tflite.Int8, []int32{1, 2}, nil)
		m.quant(x, 0.5, -1) // q 3, 5 -> 2, 3
		w := m.tensor("w", tflite.Int8, []int32{1, 2}, []byte{4, 8})
		m.quant(w, 0.25, 0) // 1, 2
		b := m.tensor("b", tflite.Int32, []int32{1}, []byte{8, 0, 0, 0})
		m.quant(b, 0.125, 0) // 1
		y := m.tensor("y", tflite.Int8, []int32{1, 1}, nil)
		m.quant(y, tc.scale, tc.zero)
		m.op(tflite.OpFullyConnected, []int32{x, w, b}, []int32{y}, uFC)
		m.inputs, m.outputs = []int32{x}, []int32{y}
		data, mp, err := ConvertBytes(m.bytes())
		if err != nil {
			t.Fatal(err)
		}
		if got := mp.Graph.Input[0].GetType().GetTensorType().GetElemType(); got != int32(onnxpb.TensorProto_INT8) {
			t.Errorf("input type %d, want INT8", got)
		}
		out := runONNX(t, data, tensor{shape: []int64{1, 2}, i8: []int8{3, 5}})
		if out[0].i8 == nil || out[0].i8[0] != tc.want {
			t.Errorf("output scale %g zero %d: got %v, want %d", tc.scale, tc.zero, out[0], tc.want)
		}
	}
}

// TestConstantsFolded checks that fp16 weights behind DEQUANTIZE and sparse weights
// behind DENSIFY become plain fp32 initializers, with the right values.
func TestConstantsFolded(t *testing.T) {
	m := &tfl{}
	x := m.f32("x", []int32{2, 3})
	// fp16 [1.5, -2, 65504, 2^-24 (subnormal), 0, -0]
	half := []uint16{0x3e00, 0xc000, 0x7bff, 0x0001, 0x0000, 0x8000}
	raw := make([]byte, 2*len(half))
	for i, h := range half {
		binary.LittleEndian.PutUint16(raw[2*i:], h)
	}
	h := m.tensor("w16", tflite.Float16, []int32{2, 3}, raw)
	w := m.f32("w", []int32{2, 3})
	m.op(tflite.OpDequantize, []int32{h}, []int32{w}, 0)
	// Sparse [[0, 5, 0], [6, 0, 7]]: row 0 dense, column CSR.
	s := m.f32("s_sparse", []int32{2, 3}, 5, 6, 7)
	m.tensors[s].sparsity = &tflite.Sparsity{TraversalOrder: []int32{0, 1}, Dims: []tflite.DimensionMetadata{
		{Format: tflite.Dense, DenseSize: 2},
		{Format: tflite.SparseCSR, Segments: []int32{0, 1, 3}, Indices: []int32{1, 0, 2}},
	}}
	d := m.f32("s", []int32{2, 3})
	m.op(tflite.OpDensify, []int32{s}, []int32{d}, 0)
	a := m.f32("a", []int32{2, 3})
	m.op(tflite.OpAdd, []int32{x, w}, []int32{a}, uAdd)
	y := m.f32("y", []int32{2, 3})
	m.op(tflite.OpAdd, []int32{a, d}, []int32{y}, uAdd)
	m.inputs, m.outputs = []int32{x}, []int32{y}
	data, mp, err := ConvertBytes(m.bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range mp.Graph.Node {
		if n.GetOpType() != "Add" {
			t.Errorf("node %s left in the graph; constants should be folded", n.GetOpType())
		}
	}
	out := runONNX(t, data, tensor{shape: []int64{2, 3}, f32: make([]float32, 6)})
	want := []float32{1.5, 3, 65504, 6 + 1.0/(1<<24), 0, 7}
	for i := range want {
		if out[0].f32[i] != want[i] {
			t.Fatalf("got %v, want %v", out[0].f32, want)
		}
	}
}

func TestUnsupportedOperator(t *testing.T) {
	m := &tfl{}
	x := m.f32("x", []int32{1, 4})
	y := m.f32("y", []int32{1, 4})
	z := m.f32("z", []int32{1, 4})
	m.op(tflite.OpRelu, []int32{x}, []int32{y}, 0)
	m.op(tflite.Builtin(49), []int32{y}, []int32{z}, 0) // SPLIT
	m.inputs, m.outputs = []int32{x}, []int32{z}
	_, _, err := ConvertBytes(m.bytes())
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "unsupported: SPLIT at operator 1") {
		t.Fatalf("got %v, want \"unsupported: SPLIT at operator 1\"", err)
	}
	m.ops[1] = tflOp{code: tflite.OpCustom, custom: "MyOp", inputs: []int32{y}, outputs: []int32{z}}
	_, _, err = ConvertBytes(m.bytes())
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "unsupported: MyOp at operator 1") {
		t.Fatalf("got %v, want \"unsupported: MyOp at operator 1\"", err)
	}
}

// TestMalformed feeds damaged files: each must give an error that wraps
// tflite.ErrMalformed, never a panic.
func TestMalformed(t *testing.T) {
	good := unaryModel(tflite.OpRelu, []int32{1, 4}, []int32{1, 4}, 0, nil, nil).bytes()
	cases := map[string][]byte{
		"empty":          nil,
		"short":          good[:6],
		"not tflite":     []byte("\x08\x00\x00\x00ONNXxxxxxxxxxxxxxxxx"),
		"truncated half": good[:len(good)/2],
		"root past end":  append([]byte{0xff, 0xff, 0, 0}, good[4:]...),
	}
	// Every single-byte corruption must give a model or an error, never a panic
	// (some bytes are padding or names, so not every one is an error).
	for i := range good {
		b := append([]byte{}, good...)
		b[i] ^= 0xff
		ConvertBytes(b)
	}
	for name, b := range cases {
		_, _, err := ConvertBytes(b)
		if !errors.Is(err, tflite.ErrMalformed) {
			t.Errorf("%s: got %v, want an error wrapping ErrMalformed", name, err)
		}
	}
}

// TestBoundary checks what callers rely on: a converted MediaPipe model keeps the
// TFLite input and output names, types and NHWC shapes, and needs no transposes beyond
// one after the image input and one per spatial output.
func TestBoundary(t *testing.T) {
	src, err := assets.MediaPipeModel("pose_landmark_lite.tflite")
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	m, err := tflite.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := Convert(m)
	if err != nil {
		t.Fatal(err)
	}
	sg := m.Subgraphs[0]
	check := func(kind string, ids []int32, infos []*onnxpb.ValueInfoProto) {
		if len(ids) != len(infos) {
			t.Fatalf("%d %ss, TFLite has %d", len(infos), kind, len(ids))
		}
		for k, id := range ids {
			tt := sg.Tensors[id]
			var dims []int32
			for _, d := range infos[k].GetType().GetTensorType().GetShape().GetDim() {
				dims = append(dims, int32(d.GetDimValue()))
			}
			if infos[k].GetName() != tt.Name || !equalInts(shape64(dims), shape64(tt.Shape)) {
				t.Errorf("%s %d is %s %v, TFLite's is %s %v", kind, k, infos[k].GetName(), dims, tt.Name, tt.Shape)
			}
		}
	}
	check("input", sg.Inputs, mp.Graph.Input)
	check("output", sg.Outputs, mp.Graph.Output)
	transposes := 0
	for _, n := range mp.Graph.Node {
		if n.GetOpType() == "Transpose" {
			transposes++
		}
	}
	// input_1 -> NCHW, and the 64x64x39 heatmap back to NHWC; the other outputs have
	// unit spatial or channel dimensions and become Reshapes.
	if transposes != 2 {
		t.Errorf("%d Transpose nodes, want 2", transposes)
	}
}

// TestCached converts once, then reuses the file until the model is newer.
func TestCached(t *testing.T) {
	cache := t.TempDir()
	if err := os.MkdirAll(cache+"/mediapipe", 0o755); err != nil {
		t.Fatal(err)
	}
	model := unaryModel(tflite.OpRelu, []int32{1, 4}, []int32{1, 4}, 0, nil, nil).bytes()
	if err := os.WriteFile(cache+"/mediapipe/tiny.tflite", model, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Cached(cache, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	if p != cache+"/onnx/tiny.onnx" || !writtenByThisVersion(p) {
		t.Fatalf("Cached gave %s (current version: %v)", p, writtenByThisVersion(p))
	}
	// A file from elsewhere is replaced.
	if err := os.WriteFile(p, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Cached(cache, "tiny"); err != nil {
		t.Fatal(err)
	}
	if !writtenByThisVersion(p) {
		t.Error("a stale ONNX file was kept")
	}
	if _, err := Cached(cache, "missing"); err == nil || !strings.Contains(err.Error(), "make setup") {
		t.Errorf("missing model: got %v", err)
	}
}

// TestGraphErrors checks models that parse but cannot be converted as they stand.
func TestGraphErrors(t *testing.T) {
	// The second operator reads a tensor nothing computes.
	m := &tfl{}
	x, y, z, w := m.f32("x", []int32{1, 4}), m.f32("y", []int32{1, 4}), m.f32("z", []int32{1, 4}), m.f32("w", []int32{1, 4})
	m.op(tflite.OpRelu, []int32{x}, []int32{y}, 0)
	m.op(tflite.OpAdd, []int32{y, w}, []int32{z}, uAdd)
	m.inputs, m.outputs = []int32{x}, []int32{z}
	if _, _, err := ConvertBytes(m.bytes()); !errors.Is(err, tflite.ErrMalformed) || !strings.Contains(err.Error(), "before any operator computes it") {
		t.Errorf("uncomputed tensor: got %v", err)
	}
	// An input and an output with one name.
	m = &tfl{}
	x, y = m.f32("same", []int32{1, 4}), m.f32("same", []int32{1, 4})
	m.op(tflite.OpRelu, []int32{x}, []int32{y}, 0)
	m.inputs, m.outputs = []int32{x}, []int32{y}
	if _, _, err := ConvertBytes(m.bytes()); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"same"`) {
		t.Errorf("shared name: got %v", err)
	}
}
