// Package runtime runs ONNX models on ONNX Runtime, SCOPE's one network runtime (CPU here;
// CUDA and TensorRT builds of the same shared library are drop-in replacements on Jetson
// and GPU machines).
//
// ONNX Runtime keeps one environment per process, so Init loads the shared library and
// creates that environment exactly once; every Session shares it. A Session owns one
// model; create tensors with github.com/yalue/onnxruntime_go (ort.NewTensor,
// ort.NewEmptyTensor), pass them to Run, and Close the session when done.
package runtime

import (
	"errors"
	"fmt"
	"os"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// The environment is process-wide inside ONNX Runtime itself; these mirror that fact.
var (
	initMu   sync.Mutex
	initLib  string
	initDone bool
)

// ErrNotInitialized is returned by NewSession before Init succeeded.
var ErrNotInitialized = errors.New("onnx runtime not initialised: call runtime.Init with the path of libonnxruntime.so.1")

// Init loads libonnxruntime from libPath and initialises the environment. Calling it
// again with the same path is a no-op; another path is an error, since a process can
// hold only one ONNX Runtime.
func Init(libPath string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if initDone {
		if libPath != initLib {
			return fmt.Errorf("onnx runtime already loaded from %s; cannot load %s in the same process", initLib, libPath)
		}
		return nil
	}
	if _, err := os.Stat(libPath); err != nil {
		return fmt.Errorf("onnx runtime library %s: %w (run `make setup`, or set runtime.onnxruntime_library)", libPath, err)
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("loading onnx runtime from %s: %w", libPath, err)
	}
	initLib, initDone = libPath, true
	return nil
}

// Version is the version string that the loaded ONNX Runtime library reports, or ""
// before Init.
func Version() string {
	initMu.Lock()
	defer initMu.Unlock()
	if !initDone {
		return ""
	}
	return ort.GetVersion()
}

// Provider names an execution provider.
type Provider string

const (
	CPU      Provider = "cpu"
	CUDA     Provider = "cuda"
	TensorRT Provider = "tensorrt"
)

// SessionOptions tune one session. Zero values mean ONNX Runtime's defaults, except
// IntraOpThreads: 0 means 1, since SCOPE's stages share a fixed thread budget.
type SessionOptions struct {
	IntraOpThreads int
	InterOpThreads int
	Provider       Provider
}

// Session is one loaded model.
type Session struct {
	name    string
	sess    *ort.DynamicAdvancedSession
	inputs  []ort.InputOutputInfo
	outputs []ort.InputOutputInfo
}

// NewSession loads the ONNX model at path.
func NewSession(path string, opt SessionOptions) (*Session, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading model: %w", err)
	}
	return NewSessionFromBytes(path, data, opt)
}

// NewSessionFromBytes loads a model held in memory; name appears in errors.
func NewSessionFromBytes(name string, data []byte, opt SessionOptions) (*Session, error) {
	initMu.Lock()
	ok := initDone
	initMu.Unlock()
	if !ok {
		return nil, ErrNotInitialized
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(data)
	if err != nil {
		return nil, fmt.Errorf("model %s is not a valid ONNX model: %w", name, err)
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("model %s: session options: %w", name, err)
	}
	defer so.Destroy()
	threads := opt.IntraOpThreads
	if threads <= 0 {
		threads = 1
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("model %s: intra-op threads: %w", name, err)
	}
	if opt.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(opt.InterOpThreads); err != nil {
			return nil, fmt.Errorf("model %s: inter-op threads: %w", name, err)
		}
	}
	if err := appendProvider(so, opt.Provider); err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	inNames := make([]string, len(ins))
	for i, x := range ins {
		inNames[i] = x.Name
	}
	outNames := make([]string, len(outs))
	for i, x := range outs {
		outNames[i] = x.Name
	}
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(data, inNames, outNames, so)
	if err != nil {
		return nil, fmt.Errorf("model %s: creating session: %w", name, err)
	}
	return &Session{name: name, sess: s, inputs: ins, outputs: outs}, nil
}

func appendProvider(so *ort.SessionOptions, p Provider) error {
	switch p {
	case "", CPU:
		return nil
	case CUDA:
		o, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fmt.Errorf("CUDA provider unavailable in this ONNX Runtime build: %w", err)
		}
		defer o.Destroy()
		return so.AppendExecutionProviderCUDA(o)
	case TensorRT:
		o, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return fmt.Errorf("TensorRT provider unavailable in this ONNX Runtime build: %w", err)
		}
		defer o.Destroy()
		return so.AppendExecutionProviderTensorRT(o)
	}
	return fmt.Errorf("unknown execution provider %q (want cpu, cuda or tensorrt)", p)
}

// Name is the path or name the session was created from.
func (s *Session) Name() string { return s.name }

// Inputs describes the model's inputs in order.
func (s *Session) Inputs() []ort.InputOutputInfo { return s.inputs }

// Outputs describes the model's outputs in order.
func (s *Session) Outputs() []ort.InputOutputInfo { return s.outputs }

// Run evaluates the model. inputs and outputs follow Inputs() and Outputs() in order;
// an output may be nil, in which case ONNX Runtime allocates it and the caller must
// Destroy the value it finds in outputs afterwards.
func (s *Session) Run(inputs, outputs []ort.Value) error {
	if len(inputs) != len(s.inputs) || len(outputs) != len(s.outputs) {
		return fmt.Errorf("model %s takes %d inputs and %d outputs, got %d and %d", s.name, len(s.inputs), len(s.outputs), len(inputs), len(outputs))
	}
	if err := s.sess.Run(inputs, outputs); err != nil {
		return fmt.Errorf("running %s: %w", s.name, err)
	}
	return nil
}

// Close releases the session.
func (s *Session) Close() error {
	if s.sess == nil {
		return nil
	}
	err := s.sess.Destroy()
	s.sess = nil
	return err
}
