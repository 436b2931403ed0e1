package tflite

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes the reader panic; the seed corpus is the small
// models in testdata/convert.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../../../testdata/convert/*.tflite")
	if len(seeds) == 0 {
		f.Fatal("no seed models in testdata/convert")
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		// Every decoded operator's options must decode or fail cleanly too.
		for _, sg := range m.Subgraphs {
			for _, op := range sg.Operators {
				op.Conv2D()
				op.DepthwiseConv2D()
				op.Pool2D()
				op.FullyConnected()
				op.Concatenation()
				op.ResizeBilinear()
				op.ReshapeNewShape()
				op.KeepDims()
				op.StridedSlice()
				op.DepthToSpaceBlock()
				op.SoftmaxBeta()
				op.LeakyReluAlpha()
				op.FusedActivation(OpAdd)
			}
		}
	})
}

func TestParseRejectsOtherFiles(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("PK\x03\x04 not a model"), make([]byte, 64)} {
		if _, err := Parse(b); err == nil {
			t.Errorf("Parse(%q) gave no error", b)
		}
	}
}

// TestParsePoseDetection checks the reader's schema facts on a real model: MediaPipe's
// pose detector has 38 DENSIFY operators over fp16 weights with sparsity metadata and
// 3 DEPTH_TO_SPACE operators.
func TestParsePoseDetection(t *testing.T) {
	path := "../../../.cache/mediapipe/pose_detection.tflite"
	if d := os.Getenv("SCOPE_CACHE"); d != "" {
		path = filepath.Join(d, "mediapipe", "pose_detection.tflite")
	}
	m, err := ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	count := map[Builtin]int{}
	for _, op := range m.Subgraphs[0].Operators {
		count[m.OperatorCodes[op.OpcodeIndex].Builtin]++
	}
	sparse := 0
	for _, x := range m.Subgraphs[0].Tensors {
		if x.Sparsity != nil {
			sparse++
			if x.Type != Float16 {
				t.Errorf("sparse tensor %s is %s, want FLOAT16", x.Name, x.Type)
			}
		}
	}
	if count[OpDensify] != 38 || count[OpDepthToSpace] != 3 || sparse != 38 {
		t.Errorf("DENSIFY %d, DEPTH_TO_SPACE %d, sparse tensors %d; want 38, 3, 38", count[OpDensify], count[OpDepthToSpace], sparse)
	}
	in := m.Subgraphs[0].Tensors[m.Subgraphs[0].Inputs[0]]
	if in.Name != "input_1" || len(in.Shape) != 4 || in.Shape[1] != 224 || in.Type != Float32 {
		t.Errorf("input %s %v %s, want input_1 [1 224 224 3] FLOAT32", in.Name, in.Shape, in.Type)
	}
}
