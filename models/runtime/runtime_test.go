package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"

	"scope/internal/assets"
)

func initORT(t *testing.T) {
	t.Helper()
	lib, err := assets.ONNXRuntimeLibrary()
	if err != nil {
		t.Fatal(err)
	}
	if err := Init(lib); err != nil {
		t.Fatal(err)
	}
}

// tinyModel encodes, field by field after onnx.proto, the graph
// Y = Relu(MatMul(X, W) + B) with X [1,3], W [3,2], B [2].
func tinyModel(w, b []float32) []byte {
	bytesField := func(buf []byte, num protowire.Number, v []byte) []byte {
		buf = protowire.AppendTag(buf, num, protowire.BytesType)
		return protowire.AppendBytes(buf, v)
	}
	str := func(buf []byte, num protowire.Number, s string) []byte { return bytesField(buf, num, []byte(s)) }
	varint := func(buf []byte, num protowire.Number, v uint64) []byte {
		buf = protowire.AppendTag(buf, num, protowire.VarintType)
		return protowire.AppendVarint(buf, v)
	}
	tensor := func(name string, dims []int64, vals []float32) []byte {
		var t []byte
		for _, d := range dims {
			t = varint(t, 1, uint64(d))
		}
		t = varint(t, 2, 1) // FLOAT
		t = str(t, 8, name)
		raw := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		return bytesField(t, 9, raw)
	}
	valueInfo := func(name string, dims []int64) []byte {
		var shape []byte
		for _, d := range dims {
			shape = bytesField(shape, 1, varint(nil, 1, uint64(d)))
		}
		tt := varint(nil, 1, 1)
		tt = bytesField(tt, 2, shape)
		typ := bytesField(nil, 1, tt)
		v := str(nil, 1, name)
		return bytesField(v, 2, typ)
	}
	node := func(op string, in []string, out string) []byte {
		var n []byte
		for _, x := range in {
			n = str(n, 1, x)
		}
		n = str(n, 2, out)
		return str(n, 4, op)
	}
	var g []byte
	g = bytesField(g, 1, node("MatMul", []string{"X", "W"}, "XW"))
	g = bytesField(g, 1, node("Add", []string{"XW", "B"}, "Z"))
	g = bytesField(g, 1, node("Relu", []string{"Z"}, "Y"))
	g = str(g, 2, "tiny")
	g = bytesField(g, 5, tensor("W", []int64{3, 2}, w))
	g = bytesField(g, 5, tensor("B", []int64{2}, b))
	g = bytesField(g, 11, valueInfo("X", []int64{1, 3}))
	g = bytesField(g, 12, valueInfo("Y", []int64{1, 2}))

	var m []byte
	m = varint(m, 1, 8) // ir_version
	m = str(m, 2, "scope-test")
	m = bytesField(m, 7, g)
	m = bytesField(m, 8, varint(nil, 2, 14)) // opset 14
	return m
}

func TestRunsTinyModel(t *testing.T) {
	initORT(t)
	if v := Version(); !strings.HasPrefix(v, "1.") {
		t.Fatalf("Version() = %q, want the library's 1.x version", v)
	}
	w := []float32{1, 2, -1, 0.5, 3, -2}
	b := []float32{0.25, -10}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(path, tinyModel(w, b), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(path, SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Inputs()[0].Name; got != "X" {
		t.Fatalf("input name %q, want X", got)
	}
	x := []float32{1, 2, 3}
	in, err := ort.NewTensor(ort.NewShape(1, 3), x)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	out, err := ort.NewEmptyTensor[float32](ort.NewShape(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Destroy()
	if err := s.Run([]ort.Value{in}, []ort.Value{out}); err != nil {
		t.Fatal(err)
	}
	// By hand: [1 2 3] x [[1 2] [-1 .5] [3 -2]] = [8, -3]; + [.25 -10] = [8.25, -13]; relu.
	want := []float32{8.25, 0}
	for i, v := range out.GetData() {
		if math.Abs(float64(v-want[i])) > 1e-6 {
			t.Fatalf("Y = %v, want %v", out.GetData(), want)
		}
	}
}

func TestBadModelsGiveErrors(t *testing.T) {
	initORT(t)
	dir := t.TempDir()
	good := tinyModel([]float32{1, 2, 3, 4, 5, 6}, []float32{0, 0})
	cases := map[string][]byte{
		"empty.onnx":     {},
		"truncated.onnx": good[:len(good)/2],
		"garbage.onnx":   []byte("this is not a model"),
	}
	for name, data := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		if _, err := NewSession(p, SessionOptions{}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
	if _, err := NewSession(filepath.Join(dir, "missing.onnx"), SessionOptions{}); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := NewSessionFromBytes("x", good, SessionOptions{Provider: "npu"}); err == nil || !strings.Contains(err.Error(), "npu") {
		t.Errorf("unknown provider: err = %v", err)
	}
}

func TestInitRefusesWhatIsNotALibrary(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "passwd")
	os.WriteFile(text, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644)
	// A named pipe: opening it would wait for a writer.
	fifo := filepath.Join(dir, "pipe.so")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{text, "not a shared library"},
		{dir, "not a regular file"},
		{fifo, "not a regular file"},
		{filepath.Join(dir, "missing.so"), "no such file"},
	} {
		err := CheckLibrary(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) ||
			!strings.Contains(err.Error(), "runtime.onnxruntime_library") {
			t.Errorf("CheckLibrary(%s) = %v, want an error naming the file, %q and the setting", tc.path, err, tc.want)
		}
	}
}

// TestInitHasOneOwner: the first Init decides the library; Init("") (what the stages
// call) keeps it, and another path is refused with both paths named.
func TestInitHasOneOwner(t *testing.T) {
	initORT(t)
	lib := Library()
	if lib == "" {
		t.Fatal("Library() is empty after Init")
	}
	if err := Init(""); err != nil {
		t.Fatalf("Init(\"\") after Init(%s): %v", lib, err)
	}
	if err := Init(lib); err != nil {
		t.Fatalf("Init with the same path again: %v", err)
	}
	other := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := Init(other); err == nil || !strings.Contains(err.Error(), lib) || !strings.Contains(err.Error(), other) {
		t.Fatalf("Init(%s) after Init(%s) = %v, want an error naming both", other, lib, err)
	}
}

func TestThreadCountsAreBounded(t *testing.T) {
	initORT(t)
	good := tinyModel([]float32{1, 2, 3, 4, 5, 6}, []float32{0, 0})
	for _, opt := range []SessionOptions{{IntraOpThreads: 100000}, {IntraOpThreads: 1, InterOpThreads: 100000}, {InterOpThreads: -3}} {
		_, err := NewSessionFromBytes("tiny.onnx", good, opt)
		if err == nil || !strings.Contains(err.Error(), "tiny.onnx") || !strings.Contains(err.Error(), "CPUs") {
			t.Errorf("%+v: err = %v, want an error naming the model and the CPU count", opt, err)
		}
	}
	s, err := NewSessionFromBytes("tiny.onnx", good, SessionOptions{IntraOpThreads: goruntime.NumCPU()})
	if err != nil {
		t.Fatalf("as many threads as CPUs: %v", err)
	}
	s.Close()
}

// TestTelemetryWritesNothing runs ONNX Runtime in a child process whose home is a fresh
// folder: through Init, nothing may appear there (the npm build's telemetry store lives
// under ~/.cache/Microsoft/DeveloperTools/.onnxruntime) and no /tmp/mat-debug-<pid>.log.
// A second child loads the library directly, without Init, to show that the check can
// see what the library writes when its telemetry is left on.
func TestTelemetryWritesNothing(t *testing.T) {
	lib, err := assets.ONNXRuntimeLibrary()
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	run := func(mode string) (files []string, matLog string) {
		home := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestTelemetryChild$", "-test.v")
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME=", "SCOPE_TELEMETRY_CHILD="+mode, "SCOPE_TELEMETRY_LIB="+lib)
		cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, TelemetryEnv+"=") })
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "child ran a model") {
			t.Fatalf("child (%s): %v\n%s", mode, err, out)
		}
		filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		matLog = fmt.Sprintf("/tmp/mat-debug-%d.log", cmd.Process.Pid)
		if _, err := os.Stat(matLog); err != nil {
			matLog = ""
		} else {
			os.Remove(matLog)
		}
		return files, matLog
	}
	files, matLog := run("init")
	if len(files) > 0 || matLog != "" {
		t.Errorf("ONNX Runtime through runtime.Init wrote %v %s", files, matLog)
	}
	files, matLog = run("raw")
	if len(files) == 0 && matLog == "" {
		t.Logf("this ONNX Runtime build writes no telemetry files even when left on")
	} else {
		t.Logf("left on, the same library writes %v %s", files, matLog)
	}
}

// TestTelemetryChild is the child process of TestTelemetryWritesNothing.
func TestTelemetryChild(t *testing.T) {
	mode := os.Getenv("SCOPE_TELEMETRY_CHILD")
	if mode == "" {
		t.Skip("child process of TestTelemetryWritesNothing")
	}
	lib := os.Getenv("SCOPE_TELEMETRY_LIB")
	if mode == "init" {
		if err := Init(lib); err != nil {
			t.Fatal(err)
		}
	} else {
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			t.Fatal(err)
		}
		initLib, initDone = lib, true
	}
	s, err := NewSessionFromBytes("tiny", tinyModel([]float32{1, 2, 3, 4, 5, 6}, []float32{0, 0}), SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := ort.DestroyEnvironment(); err != nil {
		t.Fatal(err)
	}
	fmt.Println("child ran a model")
}
