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
	"io"
	"os"
	goruntime "runtime"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"scope/internal/assets"
)

// The environment is process-wide inside ONNX Runtime itself; these mirror that fact.
var (
	initMu   sync.Mutex
	initLib  string
	initDone bool
)

// ErrNotInitialized is returned by NewSession before Init succeeded.
var ErrNotInitialized = errors.New("onnx runtime not initialised: call runtime.Init with the path of libonnxruntime.so.1")

// TelemetryEnv is the variable that switches off the telemetry compiled into the
// ONNX Runtime builds SCOPE uses (onnxruntime-node 1.30 writes a device id and a store of
// executable paths, model graph names and providers under
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime/, and an empty /tmp/mat-debug-<pid>.log,
// and holds upload code). The library reads it once, when its environment is created;
// OrtApi::DisableTelemetryEvents, called after that, does not stop either file.
const TelemetryEnv = "ORT_DISABLE_TELEMETRY"

// Init loads libonnxruntime from libPath and initialises the environment, with ONNX
// Runtime's telemetry off. Exactly one library can be loaded in a process, so the first
// Init decides it: the one owner of that choice is whoever reads the configuration
// (runtime.onnxruntime_library) and calls Init before any model is opened. Init("")
// keeps whatever is loaded, or loads the library `make setup` put in the cache; the
// stages (pose, recogniser) call that, so a configured library is never replaced.
// Calling Init again with the loaded path is a no-op; another path is an error.
func Init(libPath string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if initDone {
		if libPath != "" && libPath != initLib {
			return fmt.Errorf("onnx runtime already loaded from %s; cannot load %s in the same process", initLib, libPath)
		}
		return nil
	}
	if libPath == "" {
		p, err := assets.ONNXRuntimeLibrary()
		if err != nil {
			return fmt.Errorf("onnx runtime library: %w (or set runtime.onnxruntime_library)", err)
		}
		libPath = p
	}
	if err := CheckLibrary(libPath); err != nil {
		return err
	}
	if err := os.Setenv(TelemetryEnv, "1"); err != nil {
		return fmt.Errorf("switching off onnx runtime telemetry: %w", err)
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("loading onnx runtime from %s: %w", libPath, err)
	}
	initLib, initDone = libPath, true
	return nil
}

// Library is the path ONNX Runtime was loaded from, or "" before Init.
func Library() string {
	initMu.Lock()
	defer initMu.Unlock()
	return initLib
}

// CheckLibrary reports, without loading it, whether path can be an ONNX Runtime shared
// library: a readable regular file with an ELF header. The error names the path and the
// setting that chooses it.
func CheckLibrary(path string) error {
	const fix = "point runtime.onnxruntime_library at libonnxruntime.so.1 (empty: the one `make setup` extracts)"
	// Look before opening: opening a named pipe waits for a writer.
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("onnx runtime library %s: %w (run `make setup`, or %s)", path, err, fix)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("onnx runtime library %s is not a regular file; %s", path, fix)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("onnx runtime library %s: %w (run `make setup`, or %s)", path, err, fix)
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil || string(head) != "\x7fELF" {
		return fmt.Errorf("onnx runtime library %s is not a shared library (no ELF header); %s", path, fix)
	}
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

// CheckThreads bounds ONNX Runtime's thread counts by the CPUs this process may use:
// more threads than cores only add switching (and thousands of them stall the machine).
// 0 means the default (1 intra-op thread, ONNX Runtime's own inter-op choice).
func CheckThreads(intra, inter int) error {
	n := goruntime.NumCPU()
	for _, x := range []struct {
		what string
		v    int
	}{{"intra-op", intra}, {"inter-op", inter}} {
		if x.v < 0 || x.v > n {
			return fmt.Errorf("%d %s threads: this machine has %d CPUs; use 1 to %d", x.v, x.what, n, n)
		}
	}
	return nil
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
	if err := CheckThreads(threads, opt.InterOpThreads); err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	if err := so.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("model %s: intra-op threads: %w", name, err)
	}
	if opt.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(opt.InterOpThreads); err != nil {
			return nil, fmt.Errorf("model %s: inter-op threads: %w", name, err)
		}
	}
	// x64 CPUs without VNNI (AVX2, AVX-512 before Cascade Lake) multiply u8 by s8 with
	// an instruction that saturates at 16 bits, so an int8 model gives other numbers
	// there than on a VNNI CPU or in TFLite. This key makes ONNX Runtime use its exact
	// u8u8 kernels on those CPUs (slower there, no effect elsewhere).
	if err := so.AddSessionConfigEntry("session.x64quantprecision", "1"); err != nil {
		return nil, fmt.Errorf("model %s: session options: %w", name, err)
	}
	if opt.Provider == "" {
		opt.Provider = DefaultProvider()
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
