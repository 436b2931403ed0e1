package gguf

import "fmt"

// TensorType is ggml's element type of a tensor (ggml_type).
type TensorType uint32

// The tensor types this project writes; Open accepts every type ggml defines.
const (
	F32  TensorType = 0
	F16  TensorType = 1
	Q4_0 TensorType = 2
	Q8_0 TensorType = 8
	Q4_K TensorType = 12
	Q6_K TensorType = 14
	BF16 TensorType = 30
)

type traits struct {
	name  string
	block uint64 // values per block
	size  uint64 // bytes per block
}

// typeTraits mirrors ggml's type table (ggml.c): block size and bytes per block.
var typeTraits = map[TensorType]traits{
	0: {"F32", 1, 4}, 1: {"F16", 1, 2}, 2: {"Q4_0", 32, 18}, 3: {"Q4_1", 32, 20},
	6: {"Q5_0", 32, 22}, 7: {"Q5_1", 32, 24}, 8: {"Q8_0", 32, 34}, 9: {"Q8_1", 32, 36},
	10: {"Q2_K", 256, 84}, 11: {"Q3_K", 256, 110}, 12: {"Q4_K", 256, 144}, 13: {"Q5_K", 256, 176},
	14: {"Q6_K", 256, 210}, 15: {"Q8_K", 256, 292}, 16: {"IQ2_XXS", 256, 66}, 17: {"IQ2_XS", 256, 74},
	18: {"IQ3_XXS", 256, 98}, 19: {"IQ1_S", 256, 50}, 20: {"IQ4_NL", 32, 18}, 21: {"IQ3_S", 256, 110},
	22: {"IQ2_S", 256, 82}, 23: {"IQ4_XS", 256, 136}, 24: {"I8", 1, 1}, 25: {"I16", 1, 2},
	26: {"I32", 1, 4}, 27: {"I64", 1, 8}, 28: {"F64", 1, 8}, 29: {"IQ1_M", 256, 56},
	30: {"BF16", 1, 2}, 34: {"TQ1_0", 256, 54}, 35: {"TQ2_0", 256, 66}, 39: {"MXFP4", 32, 17},
}

func (t TensorType) String() string {
	if tt, ok := typeTraits[t]; ok {
		return tt.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of values in one quantisation block of t (1 for float types).
func (t TensorType) BlockSize() uint64 { return typeTraits[t].block }

// RowBytes is the number of bytes a row of n values of type t takes.
func (t TensorType) RowBytes(n uint64) uint64 {
	tt := typeTraits[t]
	if tt.block == 0 {
		return 0
	}
	return n / tt.block * tt.size
}

// ParseTensorType parses a type name such as "Q4_0" or "f16".
func ParseTensorType(s string) (TensorType, error) {
	for t, tt := range typeTraits {
		if equalFold(tt.name, s) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown tensor type %q (known: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, ...)", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 32
		}
		if 'a' <= y && y <= 'z' {
			y -= 32
		}
		if x != y {
			return false
		}
	}
	return true
}
