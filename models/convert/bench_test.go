package convert

import (
	"context"
	"path/filepath"
	"testing"

	"scope/internal/assets"
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
