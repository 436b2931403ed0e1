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

// ModelRun asks for one .tflite model to be run once per entry of Runs; each entry holds
// that run's input tensors in the order the model declares its inputs.
type ModelRun struct {
	Model string
	Runs  [][]Tensor
}

// Result is what LiteRT gave for one ModelRun. Inputs and Outputs describe the model's
// tensors; RunOutputs[i] are run i's output tensors, in the order of Outputs (the order
// the model declares its outputs), and RunTimes[i] the wall time of model.run.
type Result struct {
	Model       string
	Inputs      []TensorInfo
	Outputs     []TensorInfo
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
	Inputs []litertInput `json:"inputs"`
	OutDir string        `json:"out_dir"`
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
		if len(mr.Runs) == 0 {
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
		for _, run := range m.Runs {
			r.RunTimes = append(r.RunTimes, ms(run.RunMS))
			tensors, err := readOutputs(run.OutDir)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", runs[mi].Model, err)
			}
			r.RunOutputs = append(r.RunOutputs, tensors)
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

func readOutputs(dir string) ([]Tensor, error) {
	b, err := os.ReadFile(filepath.Join(dir, "outputs.json"))
	if err != nil {
		return nil, err
	}
	var lo litertOutputs
	if err := json.Unmarshal(b, &lo); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "outputs.json"), err)
	}
	var ts []Tensor
	for _, o := range lo.Outputs {
		f := filepath.Join(dir, o.File)
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		t := Tensor{Name: o.Name, DType: o.DType, Shape: o.Shape}
		n := 1
		for _, d := range o.Shape {
			n *= d
		}
		switch o.DType {
		case Float32, Int32:
			if len(raw) != 4*n {
				return nil, fmt.Errorf("%s: %d bytes for %s%v", f, len(raw), o.DType, o.Shape)
			}
			if o.DType == Float32 {
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
				return nil, fmt.Errorf("%s: %d bytes for %s%v", f, len(raw), o.DType, o.Shape)
			}
			t.Uint8 = raw
		default:
			return nil, fmt.Errorf("%s: unknown dtype %q", f, o.DType)
		}
		ts = append(ts, t)
	}
	return ts, nil
}
