package convert

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"

	fsggml "github.com/ollama/ollama/fs/ggml"
	mlggml "github.com/ollama/ollama/ml/backend/ggml"

	"scope/models/slt/gguf"
)

// QuantizeReport says what Quantize did with each kind of tensor.
type QuantizeReport struct {
	Types   map[gguf.TensorType]int // tensors written per type
	Kept    []string                // tensors left as they were (norms, biases, odd row lengths)
	InSize  int64
	OutSize int64
}

// fileTypes maps the requested type to general.file_type (llama_ftype).
var fileTypes = map[gguf.TensorType]uint32{gguf.F32: 0, gguf.F16: 1, gguf.Q4_0: 2, gguf.Q8_0: 7, gguf.Q4_K: 15}

// Quantize writes a copy of the GGUF at in to out with its weight matrices in type t (Q8_0,
// Q4_0 or Q4_K; F16 too, and F32 to undo a conversion's F16 for exact reference runs). One-dimensional tensors stay as they are. Rows whose length is not
// a multiple of t's block size (32, or 256 for Q4_K) fall back to the next type that fits
// (Q4_K -> Q4_0 -> F16), because ggml's quantiser aborts the process on them. With Q4_K the
// output and token-embedding matrices use Q6_K, as llama.cpp's Q4_K_M does.
func Quantize(in, out string, t gguf.TensorType) (*QuantizeReport, error) {
	ft, ok := fileTypes[t]
	if !ok {
		return nil, fmt.Errorf("quantize: type %s not supported (use Q4_0, Q4_K, Q8_0, F16 or F32)", t)
	}
	f, err := gguf.Open(in)
	if err != nil {
		return nil, err
	}
	r, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rep := &QuantizeReport{Types: map[gguf.TensorType]int{}, InSize: f.FileSize}
	var ts []gguf.Tensor
	for _, ti := range f.Tensors {
		data, err := f.ReadTensor(r, ti)
		if err != nil {
			return nil, err
		}
		target := pickType(ti, t)
		if target == ti.Type || len(ti.Shape) < 2 {
			rep.Kept = append(rep.Kept, ti.Name)
			rep.Types[ti.Type]++
			ts = append(ts, gguf.Tensor{Name: ti.Name, Shape: ti.Shape, Type: ti.Type, Data: data})
			continue
		}
		f32, err := toF32(data, ti)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in, err)
		}
		var q []byte
		if target == gguf.F32 {
			q = make([]byte, 4*len(f32))
			for i, v := range f32 {
				binary.LittleEndian.PutUint32(q[4*i:], math.Float32bits(v))
			}
		} else if target == gguf.F16 {
			q = mlggml.Quantize(fsggml.TensorTypeF16, f32, ti.Shape)
		} else {
			q = mlggml.Quantize(fsggml.TensorType(target), f32, ti.Shape)
		}
		if want := ti.Elements() / target.BlockSize() * (target.RowBytes(target.BlockSize())); uint64(len(q)) != want {
			return nil, fmt.Errorf("quantize %s to %s: got %d bytes, want %d", ti.Name, target, len(q), want)
		}
		rep.Types[target]++
		ts = append(ts, gguf.Tensor{Name: ti.Name, Shape: ti.Shape, Type: target, Data: q})
	}
	kv := make([]gguf.KV, 0, len(f.KV)+1)
	for _, x := range f.KV {
		switch x.Key {
		case "general.file_type", "general.quantization_version":
			continue
		}
		kv = append(kv, x)
	}
	kv = append(kv, gguf.KV{Key: "general.file_type", Value: ft}, gguf.KV{Key: "general.quantization_version", Value: uint32(mlggml.QuantizationVersion())})
	tmp, err := writeTemp(out, "quantize", kv, ts)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := finish(tmp, out); err != nil {
		return nil, err
	}
	if st, err := os.Stat(out); err == nil {
		rep.OutSize = st.Size()
	}
	return rep, nil
}

// pickType chooses the type of one tensor: 1-D tensors keep theirs; matrices get t, or the
// next type whose block size divides their row length.
func pickType(ti gguf.TensorInfo, t gguf.TensorType) gguf.TensorType {
	if len(ti.Shape) < 2 || !strings.HasSuffix(ti.Name, ".weight") {
		return ti.Type
	}
	if t == gguf.Q4_K && (ti.Name == "output.weight" || ti.Name == "token_embd.weight") {
		t = gguf.Q6_K
	}
	for _, c := range []gguf.TensorType{t, gguf.Q4_0, gguf.F16} {
		if ti.Shape[0]%c.BlockSize() == 0 {
			return c
		}
	}
	return ti.Type
}

func toF32(data []byte, ti gguf.TensorInfo) ([]float32, error) {
	n := ti.Elements()
	switch ti.Type {
	case gguf.F32:
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		return out, nil
	case gguf.F16, gguf.BF16, gguf.Q4_0, gguf.Q8_0, gguf.Q4_K, gguf.Q6_K:
		return mlggml.ConvertToF32(data, uint32(ti.Type), n), nil
	}
	return nil, fmt.Errorf("tensor %s has type %s, which quantize cannot read (want F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)", ti.Name, ti.Type)
}
