package slr

import (
	"context"
	"testing"
)

// BenchmarkRecognize10s measures a 10 s segment (300 frames at 30 fps) through features,
// the demo model and the beam search, on 2 ONNX Runtime threads.
func BenchmarkRecognize10s(b *testing.B) {
	for _, prec := range []string{"fp32", "int8"} {
		b.Run(prec, func(b *testing.B) {
			dir, err := DefaultBundleDir()
			if err != nil {
				b.Skip(err)
			}
			r, err := Open(dir, Options{Precision: prec, Threads: 2})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			frames := randomFrames(300, 1)
			turns := []string{"Good morning, this is the pharmacy. How can I help?"}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := r.Recognize(context.Background(), frames, 30, turns); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFeatures10s(b *testing.B) {
	frames := randomFrames(300, 1)
	spec := testSpec()
	for i := 0; i < b.N; i++ {
		if _, err := Features(frames, 30, spec); err != nil {
			b.Fatal(err)
		}
	}
}
