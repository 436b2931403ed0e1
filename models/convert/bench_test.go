package convert

import (
	"context"
	"path/filepath"
	"testing"

	"scope/internal/assets"
	"scope/models/runtime"
)

// BenchmarkConvertMediaPipe converts every cached MediaPipe model once per iteration
// (the ones with custom operators fail fast and are counted too).
func BenchmarkConvertMediaPipe(b *testing.B) {
	files, err := assets.MediaPipeModels()
	if err != nil {
		b.Skip(err)
	}
	dir := b.TempDir()
	_ = files
	for b.Loop() {
		Dir(context.Background(), filepath.Dir(files[0]), dir, Options{})
	}
}

// BenchmarkRunConverted runs each converted MediaPipe model once per iteration on
// ONNX Runtime (one intra-op thread), on a random input.
func BenchmarkRunConverted(b *testing.B) {
	needORT(b)
	dir := b.TempDir()
	for _, name := range mediapipeModels {
		src, err := assets.MediaPipeModel(name + ".tflite")
		if err != nil {
			b.Skip(err)
		}
		r, err := File(src, filepath.Join(dir, name+".onnx"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		shape, err := inputShape(r)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			s, err := runtime.NewSession(r.Output, runtime.SessionOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			in := tensor{shape: shape, f32: make([]float32, numel(shape))}
			for i := range in.f32 {
				in.f32[i] = float32(i%255) / 255
			}
			for b.Loop() {
				if _, err := runSession(s, []tensor{in}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
