package mpref

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// DType names a tensor element type as LiteRT.js does. LiteRT.js 2.5.3 takes and returns
// only these three.
type DType string

const (
	Float32 DType = "float32"
	Int32   DType = "int32"
	Uint8   DType = "uint8"
)

// Tensor is one input or output tensor. Exactly one of the data slices is set, the one
// that matches DType. Name is the model's tensor name (outputs only).
type Tensor struct {
	Name    string
	DType   DType
	Shape   []int
	Float32 []float32
	Int32   []int32
	Uint8   []uint8
}

// Len is the number of elements the data slice holds.
func (t Tensor) Len() int {
	switch t.DType {
	case Float32:
		return len(t.Float32)
	case Int32:
		return len(t.Int32)
	case Uint8:
		return len(t.Uint8)
	}
	return 0
}

// TensorInfo describes a model input or output as LiteRT reports it.
type TensorInfo struct {
	Name  string `json:"name"`
	Index int    `json:"index"`
	DType DType  `json:"dtype"`
	Shape []int  `json:"shape"`
}

// ModelRun asks for one .tflite model to be run once per entry of Runs, each entry holding
// that run's input tensors in the order the model declares its inputs, then once per
// entry of RandomSeeds with every declared input filled by the page from that seed
// (float32 uniform in [0, 1), uint8/int32 uniform in [0, 255]; the same on every machine).
type ModelRun struct {
	Model       string
	Runs        [][]Tensor
	RandomSeeds []uint32
}

// Result is what LiteRT gave for one ModelRun. Inputs and Outputs describe the model's
// tensors. Runs are numbered Runs first, then RandomSeeds: RunInputs[i] are run i's input
// tensors (the generated ones for a seeded run), RunOutputs[i] its output tensors in the
// order of Outputs (the order the model declares its outputs), and RunTimes[i] the wall
// time of model.run.
type Result struct {
	Model       string
	Inputs      []TensorInfo
	Outputs     []TensorInfo
	RunInputs   [][]Tensor
	RunOutputs  [][]Tensor
	CompileTime time.Duration
	RunTimes    []time.Duration
}

// RunLiteRT runs every model of runs in one Chromium with LiteRT's WASM CPU path
// (XNNPACK, one thread) and returns one Result per ModelRun, in order.
func RunLiteRT(ctx context.Context, runs []ModelRun) ([]Result, error) {
	env, err := Locate()
	if err != nil {
		return nil, err
	}
	return env.RunLiteRT(ctx, runs)
}

type litertInput struct {
	File  string `json:"file"`
	DType DType  `json:"dtype"`
	Shape []int  `json:"shape"`
}

type litertRun struct {
	Inputs     []litertInput `json:"inputs,omitempty"`
	RandomSeed *uint32       `json:"random_seed,omitempty"`
	OutDir     string        `json:"out_dir"`
}

type litertModel struct {
	Model string      `json:"model"`
	Runs  []litertRun `json:"runs"`
}

type litertSummary struct {
	Models []struct {
		Model     string       `json:"model"`
		CompileMS float64      `json:"compile_ms"`
		Inputs    []TensorInfo `json:"inputs"`
		Outputs   []TensorInfo `json:"outputs"`
		Runs      []struct {
			OutDir string  `json:"out_dir"`
			RunMS  float64 `json:"run_ms"`
		} `json:"runs"`
	} `json:"models"`
}

type litertOutputs struct {
	Inputs []struct {
		TensorInfo
		File string `json:"file"`
	} `json:"inputs"`
	Outputs []struct {
		TensorInfo
		File string `json:"file"`
	} `json:"outputs"`
}

// RunLiteRT is the package-level RunLiteRT with this Env.
func (e Env) RunLiteRT(ctx context.Context, runs []ModelRun) ([]Result, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "mpref-litert-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	req := struct {
		Models []litertModel `json:"models"`
	}{}
	for mi, mr := range runs {
		model, err := filepath.Abs(mr.Model)
		if err != nil {
			return nil, err
		}
		if len(mr.Runs)+len(mr.RandomSeeds) == 0 {
			return nil, fmt.Errorf("runs[%d] (%s): no runs given", mi, mr.Model)
		}
		lm := litertModel{Model: model}
		for ri, inputs := range mr.Runs {
			lr := litertRun{OutDir: filepath.Join(dir, fmt.Sprintf("m%d_r%d", mi, ri))}
			for ii, t := range inputs {
				f := filepath.Join(dir, fmt.Sprintf("m%d_r%d_in%d.bin", mi, ri, ii))
				if err := writeTensor(f, t); err != nil {
					return nil, fmt.Errorf("runs[%d] (%s) run %d input %d: %w", mi, mr.Model, ri, ii, err)
				}
				lr.Inputs = append(lr.Inputs, litertInput{File: f, DType: t.DType, Shape: t.Shape})
			}
			lm.Runs = append(lm.Runs, lr)
		}
		for si := range mr.RandomSeeds {
			ri := len(mr.Runs) + si
			lm.Runs = append(lm.Runs, litertRun{
				RandomSeed: &mr.RandomSeeds[si],
				OutDir:     filepath.Join(dir, fmt.Sprintf("m%d_r%d", mi, ri)),
			})
		}
		req.Models = append(req.Models, lm)
	}
	reqFile := filepath.Join(dir, "request.json")
	if err := writeJSON(reqFile, req); err != nil {
		return nil, err
	}
	out, err := e.run(ctx, "litert.mjs", reqFile)
	if err != nil {
		return nil, err
	}
	var sum litertSummary
	if err := json.Unmarshal(out, &sum); err != nil {
		return nil, fmt.Errorf("litert.mjs summary: %w", err)
	}
	if len(sum.Models) != len(runs) {
		return nil, fmt.Errorf("litert.mjs answered for %d models, asked %d", len(sum.Models), len(runs))
	}
	results := make([]Result, len(runs))
	for mi, m := range sum.Models {
		r := Result{
			Model:       runs[mi].Model,
			Inputs:      m.Inputs,
			Outputs:     m.Outputs,
			CompileTime: ms(m.CompileMS),
		}
		for ri, run := range m.Runs {
			r.RunTimes = append(r.RunTimes, ms(run.RunMS))
			ins, outs, err := readRun(run.OutDir)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", runs[mi].Model, err)
			}
			if ri < len(runs[mi].Runs) {
				ins = runs[mi].Runs[ri]
			}
			r.RunInputs = append(r.RunInputs, ins)
			r.RunOutputs = append(r.RunOutputs, outs)
		}
		results[mi] = r
	}
	return results, nil
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func writeTensor(path string, t Tensor) error {
	n := 1
	for _, d := range t.Shape {
		if d <= 0 {
			return fmt.Errorf("shape %v: dimensions must be positive", t.Shape)
		}
		n *= d
	}
	if t.Len() != n {
		return fmt.Errorf("%s%v needs %d values, the tensor holds %d", t.DType, t.Shape, n, t.Len())
	}
	var b []byte
	switch t.DType {
	case Float32:
		b = make([]byte, 4*n)
		for i, v := range t.Float32 {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
	case Int32:
		b = make([]byte, 4*n)
		for i, v := range t.Int32 {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
		}
	case Uint8:
		b = t.Uint8
	default:
		return fmt.Errorf("dtype %q: LiteRT.js takes float32, int32 or uint8", t.DType)
	}
	return os.WriteFile(path, b, 0o644)
}

// readRun reads a run's outputs.json, its output tensors and, for a seeded run, the
// generated inputs (in_<i>.bin beside them; a given input's file is not read back).
func readRun(dir string) (ins, outs []Tensor, err error) {
	b, err := os.ReadFile(filepath.Join(dir, "outputs.json"))
	if err != nil {
		return nil, nil, err
	}
	var lo litertOutputs
	if err := json.Unmarshal(b, &lo); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, "outputs.json"), err)
	}
	for _, in := range lo.Inputs {
		if filepath.IsAbs(in.File) {
			continue
		}
		t, err := readTensor(filepath.Join(dir, in.File), in.TensorInfo)
		if err != nil {
			return nil, nil, err
		}
		ins = append(ins, t)
	}
	for _, o := range lo.Outputs {
		t, err := readTensor(filepath.Join(dir, o.File), o.TensorInfo)
		if err != nil {
			return nil, nil, err
		}
		outs = append(outs, t)
	}
	return ins, outs, nil
}

func readTensor(f string, info TensorInfo) (Tensor, error) {
	raw, err := os.ReadFile(f)
	if err != nil {
		return Tensor{}, err
	}
	t := Tensor{Name: info.Name, DType: info.DType, Shape: info.Shape}
	n := 1
	for _, d := range info.Shape {
		n *= d
	}
	switch info.DType {
	case Float32, Int32:
		if len(raw) != 4*n {
			return t, fmt.Errorf("%s: %d bytes for %s%v", f, len(raw), info.DType, info.Shape)
		}
		if info.DType == Float32 {
			t.Float32 = make([]float32, n)
			for i := range t.Float32 {
				t.Float32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		} else {
			t.Int32 = make([]int32, n)
			for i := range t.Int32 {
				t.Int32[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
	case Uint8:
		if len(raw) != n {
			return t, fmt.Errorf("%s: %d bytes for %s%v", f, len(raw), info.DType, info.Shape)
		}
		t.Uint8 = raw
	default:
		return t, fmt.Errorf("%s: unknown dtype %q", f, info.DType)
	}
	return t, nil
}
