package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sample(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	kv := []KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "n", Value: uint32(7)},
		{Key: "f", Value: float32(0.5)},
		{Key: "b", Value: true},
		{Key: "words", Value: []string{"a", "bc"}},
		{Key: "scores", Value: []float32{1, 2}},
		{Key: "ids", Value: []int32{-1, 3}},
		{Key: "i64", Value: int64(-5)},
	}
	ts := []Tensor{
		{Name: "w", Shape: []uint64{32, 2}, Type: F32, Data: make([]byte, 32*2*4)},
		{Name: "q", Shape: []uint64{64}, Type: Q4_0, Data: make([]byte, 2*18)},
	}
	if err := Write(&buf, kv, ts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	b := sample(t)
	f, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if f.String("general.architecture") != "llama" {
		t.Errorf("architecture %q", f.String("general.architecture"))
	}
	if n, ok := f.Uint("n"); !ok || n != 7 {
		t.Errorf("n = %d, %v", n, ok)
	}
	if v, _ := f.Get("words"); len(v.([]string)) != 2 || v.([]string)[1] != "bc" {
		t.Errorf("words = %v", v)
	}
	if v, _ := f.Get("i64"); v.(int64) != -5 {
		t.Errorf("i64 = %v", v)
	}
	q, ok := f.Tensor("q")
	if !ok || q.Size != 36 || q.Offset%32 != 0 || q.Type != Q4_0 {
		t.Errorf("tensor q = %+v", q)
	}
}

// patch returns a copy of b with x written at off.
func patch(b []byte, off int, x []byte) []byte {
	c := append([]byte(nil), b...)
	copy(c[off:], x)
	return c
}

func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func TestMalformed(t *testing.T) {
	b := sample(t)
	// Offset of the first key's length: magic 4, version 4, tensor count 8, kv count 8.
	tensorInfo := bytes.Index(b, []byte("\x01\x00\x00\x00\x00\x00\x00\x00w")) // name length 1, "w"
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "truncated"},
		{"bad magic", patch(b, 0, []byte("GGML")), "not a GGUF"},
		{"version 9", patch(b, 4, u32(9)), "version"},
		{"huge tensor count", patch(b, 8, u64(1<<40)), "more than"},
		{"huge kv count", patch(b, 16, u64(1<<40)), "more than"},
		{"huge key length", patch(b, 24, u64(1<<50)), "past the end"},
		{"unknown value type", patch(b, 24+8+len("general.architecture"), u32(99)), "unknown value type"},
		{"five dimensions", patch(b, tensorInfo+9, u32(5)), "dimensions"},
		{"zero dimension", patch(b, tensorInfo+13, u64(0)), "invalid"},
		{"unknown tensor type", patch(b, tensorInfo+13+16, u32(77)), "unknown type"},
		{"offset off", patch(b, tensorInfo+13+16+4, u64(8)), "expected 0"},
		{"cut in data", b[:len(b)-40], "truncated"}, // the last 28 bytes are padding
		{"cut in header", b[:tensorInfo+5], "truncated"},
	} {
		f, err := Read(bytes.NewReader(tc.data), int64(len(tc.data)))
		if err == nil {
			t.Errorf("%s: accepted (%d tensors)", tc.name, len(f.Tensors))
			continue
		}
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want ErrFormat mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestOpenNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.gguf")
	if err := os.WriteFile(path, []byte("GGUF\x03\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v does not name %s", err, path)
	}
}

func TestWriteRejectsBadTensors(t *testing.T) {
	var buf bytes.Buffer
	for _, ts := range [][]Tensor{
		{{Name: "short", Shape: []uint64{4}, Type: F32, Data: make([]byte, 8)}},
		{{Name: "odd row", Shape: []uint64{33}, Type: Q4_0, Data: make([]byte, 18)}},
		{{Name: "no shape", Type: F32}},
	} {
		if err := Write(&buf, nil, ts); err == nil {
			t.Errorf("%s: written", ts[0].Name)
		}
	}
}
