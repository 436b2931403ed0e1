package runtime

import (
	"sync/atomic"

	ort "github.com/yalue/onnxruntime_go"
)

// defaultProvider is the execution provider of sessions whose options name none; the
// one who reads the configuration (edge.provider, through edge.ChooseProvider) sets it.
var defaultProvider atomic.Value // Provider

// SetDefaultProvider makes p the provider of every later session whose SessionOptions
// leave Provider empty ("" or "cpu": the CPU).
func SetDefaultProvider(p Provider) { defaultProvider.Store(p) }

// DefaultProvider is the provider set by SetDefaultProvider ("" before).
func DefaultProvider() Provider {
	p, _ := defaultProvider.Load().(Provider)
	return p
}

// HasGPU reports whether the loaded ONNX Runtime was built with the CUDA execution
// provider (the CPU build that `make setup` extracts was not). False before Init.
func HasGPU() bool {
	initMu.Lock()
	ok := initDone
	initMu.Unlock()
	if !ok {
		return false
	}
	o, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return false
	}
	o.Destroy()
	return true
}
