package tflite

import "fmt"

// Facts from TensorFlow Lite's schema.fbs (tensorflow/lite/schema/schema.fbs): field ids
// of the tables this reader decodes and the enum values it names. A field's id is its
// position in the table declaration; a union field takes two ids (type, then value).

// TensorType is the element type of a tensor.
type TensorType int8

const (
	Float32 TensorType = 0
	Float16 TensorType = 1
	Int32   TensorType = 2
	Uint8   TensorType = 3
	Int64   TensorType = 4
	String  TensorType = 5
	Bool    TensorType = 6
	Int16   TensorType = 7
	Int8    TensorType = 9
	Float64 TensorType = 10
)

var tensorTypeNames = map[TensorType]string{
	Float32: "FLOAT32", Float16: "FLOAT16", Int32: "INT32", Uint8: "UINT8", Int64: "INT64",
	String: "STRING", Bool: "BOOL", Int16: "INT16", 8: "COMPLEX64", Int8: "INT8",
	Float64: "FLOAT64", 11: "COMPLEX128", 12: "UINT64", 13: "RESOURCE", 14: "VARIANT",
	15: "UINT32", 16: "UINT16", 17: "INT4",
}

func (t TensorType) String() string {
	if s, ok := tensorTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("TensorType(%d)", int8(t))
}

// Size is the element size in bytes, or 0 for types without a fixed size.
func (t TensorType) Size() int {
	switch t {
	case Float32, Int32:
		return 4
	case Float16, Int16:
		return 2
	case Uint8, Int8, Bool:
		return 1
	case Int64, Float64:
		return 8
	}
	return 0
}

// Builtin is a builtin operator code.
type Builtin int32

// The builtin operators the converter knows by name.
const (
	OpAdd              Builtin = 0
	OpAveragePool2D    Builtin = 1
	OpConcatenation    Builtin = 2
	OpConv2D           Builtin = 3
	OpDepthwiseConv2D  Builtin = 4
	OpDepthToSpace     Builtin = 5
	OpDequantize       Builtin = 6
	OpFullyConnected   Builtin = 9
	OpLogistic         Builtin = 14
	OpMaxPool2D        Builtin = 17
	OpMul              Builtin = 18
	OpRelu             Builtin = 19
	OpReluN1To1        Builtin = 20
	OpRelu6            Builtin = 21
	OpReshape          Builtin = 22
	OpResizeBilinear   Builtin = 23
	OpSoftmax          Builtin = 25
	OpTanh             Builtin = 28
	OpCustom           Builtin = 32
	OpPad              Builtin = 34
	OpTranspose        Builtin = 39
	OpMean             Builtin = 40
	OpSub              Builtin = 41
	OpDiv              Builtin = 42
	OpStridedSlice     Builtin = 45
	OpPrelu            Builtin = 54
	OpQuantize         Builtin = 114
	OpHardSwish        Builtin = 117
	OpDensify          Builtin = 124
	opPlaceholderGreat Builtin = 127
)

var builtinNames = map[Builtin]string{
	0: "ADD", 1: "AVERAGE_POOL_2D", 2: "CONCATENATION", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D",
	5: "DEPTH_TO_SPACE", 6: "DEQUANTIZE", 7: "EMBEDDING_LOOKUP", 8: "FLOOR", 9: "FULLY_CONNECTED",
	10: "HASHTABLE_LOOKUP", 11: "L2_NORMALIZATION", 12: "L2_POOL_2D",
	13: "LOCAL_RESPONSE_NORMALIZATION", 14: "LOGISTIC", 15: "LSH_PROJECTION", 16: "LSTM",
	17: "MAX_POOL_2D", 18: "MUL", 19: "RELU", 20: "RELU_N1_TO_1", 21: "RELU6", 22: "RESHAPE",
	23: "RESIZE_BILINEAR", 24: "RNN", 25: "SOFTMAX", 26: "SPACE_TO_DEPTH", 27: "SVDF", 28: "TANH",
	29: "CONCAT_EMBEDDINGS", 30: "SKIP_GRAM", 31: "CALL", 32: "CUSTOM",
	33: "EMBEDDING_LOOKUP_SPARSE", 34: "PAD", 35: "UNIDIRECTIONAL_SEQUENCE_RNN", 36: "GATHER",
	37: "BATCH_TO_SPACE_ND", 38: "SPACE_TO_BATCH_ND", 39: "TRANSPOSE", 40: "MEAN", 41: "SUB",
	42: "DIV", 43: "SQUEEZE", 44: "UNIDIRECTIONAL_SEQUENCE_LSTM", 45: "STRIDED_SLICE",
	46: "BIDIRECTIONAL_SEQUENCE_RNN", 47: "EXP", 48: "TOPK_V2", 49: "SPLIT", 50: "LOG_SOFTMAX",
	51: "DELEGATE", 52: "BIDIRECTIONAL_SEQUENCE_LSTM", 53: "CAST", 54: "PRELU", 55: "MAXIMUM",
	56: "ARG_MAX", 57: "MINIMUM", 58: "LESS", 59: "NEG", 60: "PADV2", 61: "GREATER",
	62: "GREATER_EQUAL", 63: "LESS_EQUAL", 64: "SELECT", 65: "SLICE", 66: "SIN",
	67: "TRANSPOSE_CONV", 68: "SPARSE_TO_DENSE", 69: "TILE", 70: "EXPAND_DIMS", 71: "EQUAL",
	72: "NOT_EQUAL", 73: "LOG", 74: "SUM", 75: "SQRT", 76: "RSQRT", 77: "SHAPE", 78: "POW",
	79: "ARG_MIN", 80: "FAKE_QUANT", 81: "REDUCE_PROD", 82: "REDUCE_MAX", 83: "PACK",
	84: "LOGICAL_OR", 85: "ONE_HOT", 86: "LOGICAL_AND", 87: "LOGICAL_NOT", 88: "UNPACK",
	89: "REDUCE_MIN", 90: "FLOOR_DIV", 91: "REDUCE_ANY", 92: "SQUARE", 93: "ZEROS_LIKE",
	94: "FILL", 95: "FLOOR_MOD", 96: "RANGE", 97: "RESIZE_NEAREST_NEIGHBOR", 98: "LEAKY_RELU",
	99: "SQUARED_DIFFERENCE", 100: "MIRROR_PAD", 101: "ABS", 102: "SPLIT_V", 103: "UNIQUE",
	104: "CEIL", 105: "REVERSE_V2", 106: "ADD_N", 107: "GATHER_ND", 108: "COS", 109: "WHERE",
	110: "RANK", 111: "ELU", 112: "REVERSE_SEQUENCE", 113: "MATRIX_DIAG", 114: "QUANTIZE",
	115: "MATRIX_SET_DIAG", 116: "ROUND", 117: "HARD_SWISH", 118: "IF", 119: "WHILE",
	120: "NON_MAX_SUPPRESSION_V4", 121: "NON_MAX_SUPPRESSION_V5", 122: "SCATTER_ND",
	123: "SELECT_V2", 124: "DENSIFY", 125: "SEGMENT_SUM", 126: "BATCH_MATMUL", 128: "CUMSUM",
	129: "CALL_ONCE", 130: "BROADCAST_TO", 131: "RFFT2D", 132: "CONV_3D", 150: "GELU",
}

func (b Builtin) String() string {
	if s, ok := builtinNames[b]; ok {
		return s
	}
	return fmt.Sprintf("BUILTIN_%d", int32(b))
}

// Padding is a convolution or pooling padding mode.
type Padding uint8

const (
	PaddingSame  Padding = 0
	PaddingValid Padding = 1
)

// Activation is a fused activation function.
type Activation uint8

const (
	ActNone      Activation = 0
	ActRelu      Activation = 1
	ActReluN1To1 Activation = 2
	ActRelu6     Activation = 3
	ActTanh      Activation = 4
	ActSignBit   Activation = 5
)

// DimensionType is the storage of one dimension of a sparse tensor.
type DimensionType uint8

const (
	Dense     DimensionType = 0
	SparseCSR DimensionType = 1
)

// Field ids.
const (
	modelVersion       = 0
	modelOperatorCodes = 1
	modelSubgraphs     = 2
	modelDescription   = 3
	modelBuffers       = 4

	subgraphTensors   = 0
	subgraphInputs    = 1
	subgraphOutputs   = 2
	subgraphOperators = 3
	subgraphName      = 4

	bufferData   = 0
	bufferOffset = 1
	bufferSize   = 2

	tensorShape          = 0
	tensorType           = 1
	tensorBuffer         = 2
	tensorName           = 3
	tensorQuantization   = 4
	tensorIsVariable     = 5
	tensorSparsity       = 6
	tensorShapeSignature = 7

	quantScale     = 2
	quantZeroPoint = 3
	quantDetails   = 4 // union type
	quantDim       = 6

	sparsityTraversalOrder = 0
	sparsityBlockMap       = 1
	sparsityDimMetadata    = 2

	dimFormat       = 0
	dimDenseSize    = 1
	dimSegmentsType = 2
	dimSegments     = 3
	dimIndicesType  = 4
	dimIndices      = 5
	indexValues     = 0 // Int32Vector, Uint16Vector, Uint8Vector: values

	opcodeDeprecatedBuiltin = 0
	opcodeCustom            = 1
	opcodeVersion           = 2
	opcodeBuiltin           = 3

	operatorOpcodeIndex   = 0
	operatorInputs        = 1
	operatorOutputs       = 2
	operatorOptionsType   = 3
	operatorOptions       = 4
	operatorCustomOptions = 5
	operatorOptions2Type  = 11
)

// SparseIndexVector union members.
const (
	indexInt32  = 1
	indexUint16 = 2
	indexUint8  = 3
)

// BuiltinOptions union members (1-based positions in the union).
const (
	optConv2D          = 1
	optDepthwiseConv2D = 2
	optPool2D          = 5
	optFullyConnected  = 8
	optSoftmax         = 9
	optConcatenation   = 10
	optAdd             = 11
	optResizeBilinear  = 15
	optReshape         = 17
	optMul             = 21
	optPad             = 22
	optTranspose       = 26
	optReducer         = 27
	optSub             = 28
	optDiv             = 29
	optStridedSlice    = 32
	optDequantize      = 38
	optDepthToSpace    = 94
	optDensify         = 99
)

// More builtin operators the converter handles.
const (
	OpExp        Builtin = 47
	OpSqueeze    Builtin = 43
	OpMaximum    Builtin = 55
	OpMinimum    Builtin = 57
	OpNeg        Builtin = 59
	OpPadV2      Builtin = 60
	OpExpandDims Builtin = 70
	OpSqrt       Builtin = 75
	OpRsqrt      Builtin = 76
	OpLeakyRelu  Builtin = 98
	OpAbs        Builtin = 101
)

const optLeakyRelu = 75

// Operators common in users' models (transformers, sign recognisers).
const (
	OpGather            Builtin = 36
	OpCast              Builtin = 53
	OpSlice             Builtin = 65
	OpLog               Builtin = 73
	OpSum               Builtin = 74
	OpPow               Builtin = 78
	OpReduceMax         Builtin = 82
	OpReduceMin         Builtin = 89
	OpSquare            Builtin = 92
	OpSquaredDifference Builtin = 99
	OpBatchMatMul       Builtin = 126
	OpGelu              Builtin = 150
)

const (
	optGather      = 23
	optBatchMatMul = 101
	optGelu        = 116
)
