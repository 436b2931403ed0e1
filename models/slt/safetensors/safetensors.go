// Package safetensors reads and writes the safetensors format (an 8-byte header length, a
// JSON header naming each tensor's dtype, shape and byte range, then the raw data) that
// PyTorch/Hugging Face models and PEFT adapters are saved in. Values are converted to float32.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/x448/float16"
)

// Tensor is one named tensor, row-major, outermost dimension first (PyTorch's order).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Len is the number of values the shape holds.
func (t Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

type entry struct {
	Dtype   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// ReadFile reads every tensor of the safetensors file at path, in name order.
func ReadFile(path string) ([]Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ts, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, nil
}

// Decode parses a safetensors file held in b.
func Decode(b []byte) ([]Tensor, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("not a safetensors file: %d bytes", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("safetensors header of %d bytes is longer than the file (truncated?)", n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		return nil, fmt.Errorf("safetensors header: %w", err)
	}
	data := b[8+n:]
	var out []Tensor
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		t := Tensor{Name: name, Shape: e.Shape}
		var size int64
		switch e.Dtype {
		case "F32":
			size = 4
		case "F16", "BF16":
			size = 2
		default:
			return nil, fmt.Errorf("tensor %q has dtype %s; only F32, F16 and BF16 are supported", name, e.Dtype)
		}
		count := int64(t.Len())
		if e.Offsets[0] < 0 || e.Offsets[1] > int64(len(data)) || e.Offsets[1]-e.Offsets[0] != count*size {
			return nil, fmt.Errorf("tensor %q: byte range %v does not fit its shape %v or the file (truncated?)", name, e.Offsets, e.Shape)
		}
		raw := data[e.Offsets[0]:e.Offsets[1]]
		t.Data = make([]float32, count)
		for i := range t.Data {
			switch e.Dtype {
			case "F32":
				t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			case "F16":
				t.Data[i] = float16.Frombits(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
			case "BF16":
				t.Data[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
			}
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// WriteFile writes ts as float32 tensors to path.
func WriteFile(path string, ts []Tensor) error {
	hdr := map[string]entry{}
	var off int64
	for _, t := range ts {
		if t.Len() != len(t.Data) {
			return fmt.Errorf("tensor %q: shape %v holds %d values, data has %d", t.Name, t.Shape, t.Len(), len(t.Data))
		}
		n := int64(len(t.Data)) * 4
		hdr[t.Name] = entry{Dtype: "F32", Shape: t.Shape, Offsets: [2]int64{off, off + n}}
		off += n
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	buf := make([]byte, 0, 8+len(h)+int(off))
	buf = binary.LittleEndian.AppendUint64(buf, uint64(len(h)))
	buf = append(buf, h...)
	for _, t := range ts {
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	return os.WriteFile(path, buf, 0o644)
}
