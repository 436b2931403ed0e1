package convert

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"scope/internal/assets"
	"scope/models/runtime"
)

// tensor is a test input or output: float32, int8 or uint8.
type tensor struct {
	shape []int64
	f32   []float32
	i8    []int8
	u8    []uint8
	i32   []int32
}

func (t tensor) floats() []float32 {
	switch {
	case t.f32 != nil:
		return t.f32
	case t.i32 != nil:
		f := make([]float32, len(t.i32))
		for i, v := range t.i32 {
			f[i] = float32(v)
		}
		return f
	case t.i8 != nil:
		f := make([]float32, len(t.i8))
		for i, v := range t.i8 {
			f[i] = float32(v)
		}
		return f
	}
	f := make([]float32, len(t.u8))
	for i, v := range t.u8 {
		f[i] = float32(v)
	}
	return f
}

var ortOnce sync.Once
var ortErr error

// needORT initialises ONNX Runtime once, or ends the test when the library is missing:
// Fatal under CI=true, Skip elsewhere.
func needORT(t testing.TB) {
	t.Helper()
	ortOnce.Do(func() {
		lib, err := assets.ONNXRuntimeLibrary()
		if err != nil {
			ortErr = err
			return
		}
		ortErr = runtime.Init(lib)
	})
	if ortErr != nil {
		if errors.Is(ortErr, assets.ErrMissing) && os.Getenv("CI") != "true" {
			t.Skip(ortErr)
		}
		t.Fatal(ortErr)
	}
}

// runONNX runs a serialised ONNX model once on ONNX Runtime.
func runONNX(t testing.TB, model []byte, ins ...tensor) []tensor {
	t.Helper()
	needORT(t)
	s, err := runtime.NewSessionFromBytes("converted", model, runtime.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	outs, err := runSession(s, ins)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

func runSession(s *runtime.Session, ins []tensor) ([]tensor, error) {
	var values []ort.Value
	defer func() {
		for _, v := range values {
			v.Destroy()
		}
	}()
	for _, in := range ins {
		var v ort.Value
		var err error
		shape := ort.NewShape(in.shape...)
		switch {
		case in.f32 != nil:
			v, err = ort.NewTensor(shape, in.f32)
		case in.i8 != nil:
			v, err = ort.NewTensor(shape, in.i8)
		default:
			v, err = ort.NewTensor(shape, in.u8)
		}
		if err != nil {
			return nil, err
		}
		values = append(values, v)
	}
	outs := make([]ort.Value, len(s.Outputs()))
	if err := s.Run(values, outs); err != nil {
		return nil, err
	}
	var res []tensor
	for _, o := range outs {
		defer o.Destroy()
		var r tensor
		r.shape = o.GetShape()
		switch x := o.(type) {
		case *ort.Tensor[float32]:
			r.f32 = append([]float32{}, x.GetData()...)
		case *ort.Tensor[int8]:
			r.i8 = append([]int8{}, x.GetData()...)
		case *ort.Tensor[uint8]:
			r.u8 = append([]uint8{}, x.GetData()...)
		case *ort.Tensor[int32]:
			r.i32 = append([]int32{}, x.GetData()...)
		default:
			return nil, fmt.Errorf("output of type %T", o)
		}
		res = append(res, r)
	}
	return res, nil
}
