package safetensors

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRoundTripAndTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.safetensors")
	in := []Tensor{
		{Name: "b", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "a", Shape: []int{1}, Data: []float32{-0.5}},
	}
	if err := WriteFile(path, in); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []Tensor{in[1], in[0]}) {
		t.Errorf("read back %+v", got)
	}
	b, _ := os.ReadFile(path)
	for _, n := range []int{0, 7, 12, len(b) - 1} {
		if _, err := Decode(b[:n]); err == nil {
			t.Errorf("a copy cut at %d of %d bytes was accepted", n, len(b))
		}
	}
	if err := WriteFile(path, []Tensor{{Name: "x", Shape: []int{3}, Data: []float32{1}}}); err == nil {
		t.Error("a tensor whose data does not fill its shape was written")
	}
}
