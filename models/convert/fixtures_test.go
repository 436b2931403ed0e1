package convert

import (
	"bytes"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"scope/models/convert/tflite"
)

var update = flag.Bool("update", false, "rewrite the fixtures in testdata/convert")

// fixtureDir holds small TFLite files built by fixtures(): the fuzzers' seed corpus and
// examples for `scope convert`.
const fixtureDir = "../../testdata/convert"

// fixtures returns small models that together use every table the reader decodes.
func fixtures() map[string][]byte {
	out := map[string][]byte{}
	out["relu.tflite"] = unaryModel(tflite.OpRelu, []int32{1, 4}, []int32{1, 4}, 0, nil, nil).bytes()
	out["conv_same.tflite"] = unaryModel(tflite.OpConv2D, []int32{1, 4, 4, 1}, []int32{1, 2, 2, 1}, uConv2D,
		[]optField{ob(0, 0), oi(1, 2), oi(2, 2), ob(3, 3)}, func(m *tfl) []int32 {
			return []int32{m.f32("w", []int32{1, 3, 3, 1}, fill(9, 1)...), m.f32("b", []int32{1}, 0)}
		}).bytes()
	out["slice_resize.tflite"] = func() []byte {
		m := unaryModel(tflite.OpResizeBilinear, []int32{1, 2, 2, 1}, []int32{1, 4, 4, 1}, uResize, []optField{ob(2, 1)},
			func(m *tfl) []int32 { return []int32{m.i32("size", []int32{2}, 4, 4)} })
		y := m.outputs[0]
		z := m.f32("z", []int32{1, 2, 4, 1})
		m.op(tflite.OpStridedSlice, []int32{y, m.i32("b", []int32{4}, 0, 0, 0, 0), m.i32("e", []int32{4}, 1, 4, 4, 1),
			m.i32("s", []int32{4}, 1, 2, 1, 1)}, []int32{z}, uSlice, oi(0, 0))
		m.outputs = []int32{z}
		return m.bytes()
	}()
	out["int8_fc.tflite"] = func() []byte {
		m := &tfl{}
		x := m.tensor("x", tflite.Int8, []int32{1, 2}, nil)
		m.quant(x, 0.5, -1)
		w := m.tensor("w", tflite.Int8, []int32{1, 2}, []byte{4, 8})
		m.quant(w, 0.25, 0)
		b := m.tensor("b", tflite.Int32, []int32{1}, []byte{8, 0, 0, 0})
		m.quant(b, 0.125, 0)
		y := m.tensor("y", tflite.Int8, []int32{1, 1}, nil)
		m.quant(y, 1, 0)
		m.op(tflite.OpFullyConnected, []int32{x, w, b}, []int32{y}, uFC)
		m.inputs, m.outputs = []int32{x}, []int32{y}
		return m.bytes()
	}()
	out["fp16_sparse.tflite"] = func() []byte {
		m := &tfl{}
		x := m.f32("x", []int32{2, 3})
		raw := make([]byte, 12)
		for i, h := range []uint16{0x3e00, 0xc000, 0x7bff, 0x0001, 0x0000, 0x8000} {
			binary.LittleEndian.PutUint16(raw[2*i:], h)
		}
		s := m.tensor("s16", tflite.Float16, []int32{2, 3}, raw[:6])
		m.tensors[s].sparsity = &tflite.Sparsity{TraversalOrder: []int32{0, 1}, Dims: []tflite.DimensionMetadata{
			{Format: tflite.Dense, DenseSize: 2},
			{Format: tflite.SparseCSR, Segments: []int32{0, 1, 3}, Indices: []int32{1, 0, 2}},
		}}
		d := m.tensor("d16", tflite.Float16, []int32{2, 3}, nil)
		m.op(tflite.OpDensify, []int32{s}, []int32{d}, 0)
		w := m.f32("w", []int32{2, 3})
		m.op(tflite.OpDequantize, []int32{d}, []int32{w}, 0)
		y := m.f32("y", []int32{2, 3})
		m.op(tflite.OpMul, []int32{x, w}, []int32{y}, 21)
		m.inputs, m.outputs = []int32{x}, []int32{y}
		return m.bytes()
	}()
	return out
}

// TestFixtures keeps testdata/convert in step with fixtures() (go test -run
// TestFixtures -update rewrites it) and checks that each fixture converts.
func TestFixtures(t *testing.T) {
	for name, b := range fixtures() {
		path := filepath.Join(fixtureDir, name)
		if *update {
			if err := os.MkdirAll(fixtureDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test -run TestFixtures -update writes it)", err)
		}
		if !bytes.Equal(old, b) {
			t.Errorf("%s differs from what fixtures() builds; rerun with -update", path)
		}
		if _, _, err := ConvertBytes(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzConvert feeds arbitrary bytes through the reader and the converter: each input
// must give a model or an error, never a panic. The fixtures are the seed corpus.
func FuzzConvert(f *testing.F) {
	for _, b := range fixtures() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		data, _, err := ConvertBytes(b)
		if err == nil && len(data) == 0 {
			t.Fatal("no error and no model")
		}
	})
}
