package convert

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"scope/models/convert/tflite"
)

// Options tune File and Dir.
type Options struct {
	// Progress, when set, is called after each model of Dir.
	Progress func(r Report)
}

// Report describes one conversion.
type Report struct {
	Input, Output string
	// Operators counts the TFLite operators by name; ONNXNodes the ONNX nodes by type.
	Operators map[string]int
	ONNXNodes map[string]int
	// Initializers is the number of ONNX initializers, Bytes the size of the ONNX file.
	Initializers int
	Bytes        int
	Inputs       []string // public input names, shapes and types
	Outputs      []string
	Duration     time.Duration
}

// TotalOperators is the number of TFLite operators.
func (r Report) TotalOperators() int { return sum(r.Operators) }

// TotalNodes is the number of ONNX nodes.
func (r Report) TotalNodes() int { return sum(r.ONNXNodes) }

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Histogram formats counts as "NAME:n NAME:n", most frequent first.
func Histogram(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// File converts the .tflite model at in into the ONNX model at out. The output is
// written to a temporary file first and renamed, so a failed conversion leaves no file.
func File(in, out string, opts Options) (Report, error) {
	start := time.Now()
	r := Report{Input: in, Output: out}
	b, err := os.ReadFile(in)
	if err != nil {
		return r, err
	}
	m, err := tflite.Parse(b)
	if err != nil {
		return r, fmt.Errorf("%s: %w", in, err)
	}
	r.Operators = map[string]int{}
	sg := &m.Subgraphs[0]
	for _, op := range sg.Operators {
		r.Operators[m.OperatorCodes[op.OpcodeIndex].Name()]++
	}
	for _, i := range sg.Inputs {
		t := &sg.Tensors[i]
		r.Inputs = append(r.Inputs, fmt.Sprintf("%s %v %s", t.Name, t.Shape, t.Type))
	}
	for _, i := range sg.Outputs {
		t := &sg.Tensors[i]
		r.Outputs = append(r.Outputs, fmt.Sprintf("%s %v %s", t.Name, t.Shape, t.Type))
	}
	mp, err := Convert(m)
	if err != nil {
		return r, fmt.Errorf("%s: %w", in, err)
	}
	r.ONNXNodes = map[string]int{}
	for _, n := range mp.Graph.Node {
		r.ONNXNodes[n.GetOpType()]++
	}
	r.Initializers = len(mp.Graph.Initializer)
	data, err := proto.Marshal(mp)
	if err != nil {
		return r, fmt.Errorf("%s: writing ONNX protobuf: %w", in, err)
	}
	r.Bytes = len(data)
	if err := writeAtomic(out, data); err != nil {
		return r, err
	}
	r.Duration = time.Since(start)
	return r, nil
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Dir converts every .tflite file in inDir into outDir/<name>.onnx. It converts all it
// can and returns the reports of the successes and one error naming each failure.
func Dir(ctx context.Context, inDir, outDir string, opts Options) ([]Report, error) {
	files, err := filepath.Glob(filepath.Join(inDir, "*.tflite"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .tflite files in %s", inDir)
	}
	sort.Strings(files)
	var reports []Report
	var failed []string
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return reports, err
		}
		out := filepath.Join(outDir, strings.TrimSuffix(filepath.Base(f), ".tflite")+".onnx")
		r, err := File(f, out, opts)
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		reports = append(reports, r)
		if opts.Progress != nil {
			opts.Progress(r)
		}
	}
	if len(failed) > 0 {
		return reports, fmt.Errorf("%d of %d models failed:\n  %s", len(failed), len(files), strings.Join(failed, "\n  "))
	}
	return reports, nil
}

// DefaultDir is where converted MediaPipe models go: $SCOPE_CACHE/onnx (cacheDir is the
// result of assets.CacheDir()).
func DefaultDir(cacheDir string) string { return filepath.Join(cacheDir, "onnx") }

// Cached returns the path of the ONNX form of one of MediaPipe's models,
// cacheDir/onnx/<name>.onnx, converting cacheDir/mediapipe/<name>.tflite first when the
// ONNX file is missing, older than the model, or written by another converter version.
// cacheDir is assets.CacheDir() for the usual cache.
func Cached(cacheDir, name string) (string, error) {
	in := filepath.Join(cacheDir, "mediapipe", name+".tflite")
	out := filepath.Join(DefaultDir(cacheDir), name+".onnx")
	src, err := os.Stat(in)
	if err != nil {
		return "", fmt.Errorf("MediaPipe model %s: %w (run `make setup`)", name, err)
	}
	if dst, err := os.Stat(out); err == nil && !dst.ModTime().Before(src.ModTime()) && writtenByThisVersion(out) {
		return out, nil
	}
	if _, err := File(in, out, Options{}); err != nil {
		return "", err
	}
	return out, nil
}

// writtenByThisVersion checks the producer fields at the start of an ONNX file: the
// marshaller writes ModelProto's small scalar fields before the graph.
func writtenByThisVersion(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	want := append([]byte{0x1a, byte(len(ProducerVersion))}, ProducerVersion...) // field 3, producer_version
	return bytes.Contains(head[:n], want) && bytes.Contains(head[:n], []byte("scope convert"))
}
