package pose

import (
	"context"
	"testing"
	"time"
)

// BenchmarkProcess measures one tracked 640x480 frame with a person (pan over messi5.jpg),
// per pose model.
func BenchmarkProcess(b *testing.B) {
	for _, c := range []string{"lite", "full"} {
		b.Run(c, func(b *testing.B) {
			src := sample(b, "messi5.jpg")
			frames := panFrames(src, 30)
			defer func() {
				for _, m := range frames {
					m.Close()
				}
			}()
			p, err := New(Options{Complexity: c})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := p.Process(ctx, frames[i%len(frames)], time.Duration(i+1)*33333*time.Microsecond); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
