// Package tflite reads TensorFlow Lite model files (.tflite flatbuffers) into plain Go
// values: the model's operator codes, subgraphs, tensors, constant buffers, quantisation
// and sparsity parameters, and the options of the operators the converter supports.
//
// It is written on the Table API of the flatbuffers Go runtime with every offset checked
// against the file's bounds, so a truncated or corrupt file gives an error, never a panic.
// Field ids and enum values are facts taken from TensorFlow Lite's schema.fbs (schema.go).
package tflite

import (
	"errors"
	"fmt"
	"os"
)

// ErrMalformed is wrapped by every error about a file that is not a valid TFLite model.
var ErrMalformed = errors.New("malformed TFLite file")

// Model is a decoded TFLite model.
type Model struct {
	Version       uint32
	Description   string
	OperatorCodes []OperatorCode
	Subgraphs     []Subgraph
	// Buffers holds the constant data; Buffers[0] is the empty sentinel. The slices
	// alias the file's bytes.
	Buffers [][]byte
}

// OperatorCode names the operator an Operator runs.
type OperatorCode struct {
	Builtin Builtin
	Custom  string // name of a custom operator (Builtin == OpCustom)
	Version int32
}

// Name is the operator's name as users know it: the builtin name, or the custom name.
func (c OperatorCode) Name() string {
	if c.Builtin == OpCustom && c.Custom != "" {
		return c.Custom
	}
	return c.Builtin.String()
}

// Subgraph is one graph of a model; the first is the main one.
type Subgraph struct {
	Name      string
	Tensors   []Tensor
	Inputs    []int32
	Outputs   []int32
	Operators []Operator
}

// Tensor is one tensor of a subgraph.
type Tensor struct {
	Name           string
	Shape          []int32
	ShapeSignature []int32 // -1 marks a dynamic dimension; nil when absent
	Type           TensorType
	Buffer         uint32
	IsVariable     bool
	Quant          *Quantization // nil when the tensor is not quantised
	Sparsity       *Sparsity     // nil for dense tensors
}

// Quantization holds affine quantisation parameters: real = Scale * (q - ZeroPoint),
// per tensor (one scale) or per channel along Dim.
type Quantization struct {
	Scale     []float32
	ZeroPoint []int64
	Dim       int32
}

// Sparsity describes a sparse constant tensor in TFLite's variant of the TACO format.
type Sparsity struct {
	TraversalOrder []int32
	BlockMap       []int32
	Dims           []DimensionMetadata
}

// DimensionMetadata is the storage of one traversed dimension of a sparse tensor.
type DimensionMetadata struct {
	Format    DimensionType
	DenseSize int32
	Segments  []int32
	Indices   []int32
}

// Operator is one node of a subgraph. Inputs and outputs index the subgraph's tensors;
// -1 marks an omitted optional input.
type Operator struct {
	OpcodeIndex   uint32
	Inputs        []int32
	Outputs       []int32
	OptionsType   uint8
	CustomOptions []byte
	options       table
	hasOptions    bool
}

// ReadFile reads and decodes a .tflite file.
func ReadFile(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Parse decodes a TFLite flatbuffer. The returned model's buffers alias b.
func Parse(b []byte) (*Model, error) {
	m, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return m, nil
}

func parse(b []byte) (*Model, error) {
	if len(b) >= 8 && string(b[4:8]) != "TFL3" {
		return nil, fmt.Errorf("file identifier is %q, want \"TFL3\" (is this a .tflite file?)", b[4:8])
	}
	r, err := root(b)
	if err != nil {
		return nil, err
	}
	m := &Model{}
	if m.Version, err = r.uint32(modelVersion, 0); err != nil {
		return nil, fmt.Errorf("model version: %w", err)
	}
	if m.Description, err = r.string(modelDescription); err != nil {
		return nil, fmt.Errorf("model description: %w", err)
	}
	codes, err := r.tables(modelOperatorCodes)
	if err != nil {
		return nil, fmt.Errorf("operator codes: %w", err)
	}
	for i, t := range codes {
		c, err := parseOpcode(t)
		if err != nil {
			return nil, fmt.Errorf("operator code %d: %w", i, err)
		}
		m.OperatorCodes = append(m.OperatorCodes, c)
	}
	bufs, err := r.tables(modelBuffers)
	if err != nil {
		return nil, fmt.Errorf("buffers: %w", err)
	}
	for i, t := range bufs {
		d, err := parseBuffer(b, t)
		if err != nil {
			return nil, fmt.Errorf("buffer %d: %w", i, err)
		}
		m.Buffers = append(m.Buffers, d)
	}
	sgs, err := r.tables(modelSubgraphs)
	if err != nil {
		return nil, fmt.Errorf("subgraphs: %w", err)
	}
	if len(sgs) == 0 {
		return nil, errors.New("model has no subgraphs")
	}
	for i, t := range sgs {
		sg, err := parseSubgraph(m, t)
		if err != nil {
			return nil, fmt.Errorf("subgraph %d: %w", i, err)
		}
		m.Subgraphs = append(m.Subgraphs, sg)
	}
	return m, nil
}

func parseOpcode(t table) (OperatorCode, error) {
	dep, err := t.uint8(opcodeDeprecatedBuiltin, 0)
	if err != nil {
		return OperatorCode{}, err
	}
	code, err := t.int32(opcodeBuiltin, 0)
	if err != nil {
		return OperatorCode{}, err
	}
	// Old files only have the byte-wide deprecated code; new ones write both and the
	// larger one is the code (schema.fbs, OperatorCode).
	c := OperatorCode{Builtin: Builtin(max(int32(int8(dep)), code))}
	if c.Custom, err = t.string(opcodeCustom); err != nil {
		return c, err
	}
	c.Version, err = t.int32(opcodeVersion, 1)
	return c, err
}

func parseBuffer(file []byte, t table) ([]byte, error) {
	d, err := t.bytes(bufferData)
	if err != nil {
		return nil, err
	}
	off, err := t.uint64(bufferOffset, 0)
	if err != nil {
		return nil, err
	}
	size, err := t.uint64(bufferSize, 0)
	if err != nil {
		return nil, err
	}
	if off > 1 { // data stored after the flatbuffer, for models over 2 GB
		if off > uint64(len(file)) || size > uint64(len(file))-off {
			return nil, fmt.Errorf("external data at %d+%d is outside the %d-byte file: %w", off, size, len(file), errBounds)
		}
		return file[off : off+size : off+size], nil
	}
	return d, nil
}

func parseSubgraph(m *Model, t table) (Subgraph, error) {
	var sg Subgraph
	var err error
	if sg.Name, err = t.string(subgraphName); err != nil {
		return sg, err
	}
	if sg.Inputs, err = t.int32s(subgraphInputs); err != nil {
		return sg, fmt.Errorf("inputs: %w", err)
	}
	if sg.Outputs, err = t.int32s(subgraphOutputs); err != nil {
		return sg, fmt.Errorf("outputs: %w", err)
	}
	tensors, err := t.tables(subgraphTensors)
	if err != nil {
		return sg, fmt.Errorf("tensors: %w", err)
	}
	for i, tt := range tensors {
		x, err := parseTensor(tt)
		if err != nil {
			return sg, fmt.Errorf("tensor %d: %w", i, err)
		}
		if int(x.Buffer) >= len(m.Buffers) && x.Buffer != 0 {
			return sg, fmt.Errorf("tensor %d (%s) refers to buffer %d of %d", i, x.Name, x.Buffer, len(m.Buffers))
		}
		sg.Tensors = append(sg.Tensors, x)
	}
	ops, err := t.tables(subgraphOperators)
	if err != nil {
		return sg, fmt.Errorf("operators: %w", err)
	}
	for i, ot := range ops {
		op, err := parseOperator(ot)
		if err != nil {
			return sg, fmt.Errorf("operator %d: %w", i, err)
		}
		if int(op.OpcodeIndex) >= len(m.OperatorCodes) {
			return sg, fmt.Errorf("operator %d has opcode index %d of %d", i, op.OpcodeIndex, len(m.OperatorCodes))
		}
		for _, x := range append(append([]int32{}, op.Inputs...), op.Outputs...) {
			if x < -1 || int(x) >= len(sg.Tensors) {
				return sg, fmt.Errorf("operator %d refers to tensor %d of %d", i, x, len(sg.Tensors))
			}
		}
		sg.Operators = append(sg.Operators, op)
	}
	for _, x := range append(append([]int32{}, sg.Inputs...), sg.Outputs...) {
		if x < 0 || int(x) >= len(sg.Tensors) {
			return sg, fmt.Errorf("subgraph input or output refers to tensor %d of %d", x, len(sg.Tensors))
		}
	}
	return sg, nil
}

func parseTensor(t table) (Tensor, error) {
	var x Tensor
	var err error
	if x.Name, err = t.string(tensorName); err != nil {
		return x, err
	}
	if x.Shape, err = t.int32s(tensorShape); err != nil {
		return x, fmt.Errorf("%s: shape: %w", x.Name, err)
	}
	if x.ShapeSignature, err = t.int32s(tensorShapeSignature); err != nil {
		return x, fmt.Errorf("%s: shape signature: %w", x.Name, err)
	}
	ty, err := t.uint8(tensorType, 0)
	if err != nil {
		return x, err
	}
	x.Type = TensorType(int8(ty))
	if x.Buffer, err = t.uint32(tensorBuffer, 0); err != nil {
		return x, err
	}
	if x.IsVariable, err = t.bool(tensorIsVariable); err != nil {
		return x, err
	}
	if q, ok, err := t.table(tensorQuantization); err != nil {
		return x, fmt.Errorf("%s: quantization: %w", x.Name, err)
	} else if ok {
		if x.Quant, err = parseQuant(q); err != nil {
			return x, fmt.Errorf("%s: quantization: %w", x.Name, err)
		}
	}
	if s, ok, err := t.table(tensorSparsity); err != nil {
		return x, fmt.Errorf("%s: sparsity: %w", x.Name, err)
	} else if ok {
		if x.Sparsity, err = parseSparsity(s); err != nil {
			return x, fmt.Errorf("%s: sparsity: %w", x.Name, err)
		}
	}
	return x, nil
}

func parseQuant(t table) (*Quantization, error) {
	q := &Quantization{}
	var err error
	if q.Scale, err = t.float32s(quantScale); err != nil {
		return nil, err
	}
	if q.ZeroPoint, err = t.int64s(quantZeroPoint); err != nil {
		return nil, err
	}
	if q.Dim, err = t.int32(quantDim, 0); err != nil {
		return nil, err
	}
	if len(q.Scale) == 0 {
		return nil, nil // an empty table: not quantised
	}
	if len(q.ZeroPoint) != 0 && len(q.ZeroPoint) != len(q.Scale) {
		return nil, fmt.Errorf("%d scales but %d zero points", len(q.Scale), len(q.ZeroPoint))
	}
	if len(q.ZeroPoint) == 0 {
		q.ZeroPoint = make([]int64, len(q.Scale))
	}
	return q, nil
}

func parseSparsity(t table) (*Sparsity, error) {
	s := &Sparsity{}
	var err error
	if s.TraversalOrder, err = t.int32s(sparsityTraversalOrder); err != nil {
		return nil, err
	}
	if s.BlockMap, err = t.int32s(sparsityBlockMap); err != nil {
		return nil, err
	}
	dims, err := t.tables(sparsityDimMetadata)
	if err != nil {
		return nil, err
	}
	for i, d := range dims {
		var m DimensionMetadata
		f, err := d.uint8(dimFormat, 0)
		if err != nil {
			return nil, err
		}
		m.Format = DimensionType(f)
		if m.DenseSize, err = d.int32(dimDenseSize, 0); err != nil {
			return nil, err
		}
		if m.Format == SparseCSR {
			if m.Segments, err = indexVector(d, dimSegmentsType, dimSegments); err != nil {
				return nil, fmt.Errorf("dimension %d segments: %w", i, err)
			}
			if m.Indices, err = indexVector(d, dimIndicesType, dimIndices); err != nil {
				return nil, fmt.Errorf("dimension %d indices: %w", i, err)
			}
		}
		s.Dims = append(s.Dims, m)
	}
	return s, nil
}

func indexVector(t table, typeID, valueID int) ([]int32, error) {
	ty, err := t.uint8(typeID, 0)
	if err != nil {
		return nil, err
	}
	v, ok, err := t.table(valueID)
	if err != nil || !ok {
		return nil, err
	}
	switch ty {
	case indexInt32:
		return v.int32s(indexValues)
	case indexUint16:
		return v.uint16s(indexValues)
	case indexUint8:
		return v.uint8s(indexValues)
	}
	return nil, fmt.Errorf("unknown index vector type %d", ty)
}

func parseOperator(t table) (Operator, error) {
	var op Operator
	var err error
	if op.OpcodeIndex, err = t.uint32(operatorOpcodeIndex, 0); err != nil {
		return op, err
	}
	if op.Inputs, err = t.int32s(operatorInputs); err != nil {
		return op, fmt.Errorf("inputs: %w", err)
	}
	if op.Outputs, err = t.int32s(operatorOutputs); err != nil {
		return op, fmt.Errorf("outputs: %w", err)
	}
	if op.OptionsType, err = t.uint8(operatorOptionsType, 0); err != nil {
		return op, err
	}
	if op.CustomOptions, err = t.bytes(operatorCustomOptions); err != nil {
		return op, fmt.Errorf("custom options: %w", err)
	}
	if op.options, op.hasOptions, err = t.table(operatorOptions); err != nil {
		return op, fmt.Errorf("builtin options: %w", err)
	}
	return op, nil
}
