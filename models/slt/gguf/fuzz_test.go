package gguf_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"scope/models/slt/gguf"
)

// FuzzReadAndCheck feeds arbitrary bytes to the GGUF reader and, when they parse, to every
// check that stands between a file and llama.cpp: none may panic, and a file that parses
// must write back and parse again. Seeds: testdata/fuzz/FuzzReadAndCheck (a tiny llama,
// an adapter, hand-made headers).
func FuzzReadAndCheck(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzReadAndCheck/*")
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata/fuzz/FuzzReadAndCheck")
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := gguf.Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		file.Path = "fuzz.gguf"
		_ = file.CheckModel()
		_ = file.CheckData(bytes.NewReader(b))
		_ = file.CheckAdapter(file)
		var ts []gguf.Tensor
		for _, ti := range file.Tensors {
			data, err := file.ReadTensor(bytes.NewReader(b), ti)
			if err != nil {
				t.Fatalf("a parsed file's tensor %s cannot be read: %v", ti.Name, err)
			}
			ts = append(ts, gguf.Tensor{Name: ti.Name, Shape: ti.Shape, Type: ti.Type, Data: data})
		}
		var out bytes.Buffer
		if err := gguf.Write(&out, file.KV, ts); err != nil {
			return // Write is stricter about alignment keys than Read
		}
		if _, err := gguf.Read(bytes.NewReader(out.Bytes()), int64(out.Len())); err != nil {
			t.Fatalf("a file written from a parsed one does not parse: %v", err)
		}
	})
}
