package pose

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	ort "github.com/yalue/onnxruntime_go"

	"scope/internal/assets"
	"scope/models/convert"
	"scope/models/runtime"
)

// model is one ONNX session with its input and output tensors allocated once.
type model struct {
	name string
	sess *runtime.Session
	in   *ort.Tensor[float32]
	outs []*ort.Tensor[float32]
	inV  []ort.Value
	outV []ort.Value
}

// modelPath returns dir/<name>.onnx, converting MediaPipe's <name>.tflite from the cache
// when the ONNX file is not there yet (a few hundred milliseconds per model).
func modelPath(dir, name string) (string, error) {
	out := filepath.Join(dir, name+".onnx")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("model %s: %w", out, err)
	}
	in, err := assets.MediaPipeModel(name + ".tflite")
	if err != nil {
		return "", fmt.Errorf("model %s is missing and so is its source: %w", out, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("model folder %s: %w", dir, err)
	}
	if _, err := convert.File(in, out, convert.Options{}); err != nil {
		return "", fmt.Errorf("converting %s to %s: %w", in, out, err)
	}
	return out, nil
}

func openModel(dir, name string, threads int) (*model, error) {
	path, err := modelPath(dir, name)
	if err != nil {
		return nil, err
	}
	sess, err := runtime.NewSession(path, runtime.SessionOptions{IntraOpThreads: threads})
	if err != nil {
		return nil, err
	}
	m := &model{name: name, sess: sess}
	if len(sess.Inputs()) != 1 {
		m.Close()
		return nil, fmt.Errorf("model %s has %d inputs, want 1 image", path, len(sess.Inputs()))
	}
	shape := func(info ort.InputOutputInfo) (ort.Shape, error) {
		s := ort.NewShape(info.Dimensions...)
		for _, d := range s {
			if d <= 0 {
				return nil, fmt.Errorf("model %s: %s has dynamic shape %v", path, info.Name, info.Dimensions)
			}
		}
		return s, nil
	}
	s, err := shape(sess.Inputs()[0])
	if err == nil {
		m.in, err = ort.NewEmptyTensor[float32](s)
	}
	if err != nil {
		m.Close()
		return nil, err
	}
	m.inV = []ort.Value{m.in}
	if err := checkIO(path, name, sess); err != nil {
		m.Close()
		return nil, err
	}
	for _, o := range sess.Outputs() {
		s, err := shape(o)
		var t *ort.Tensor[float32]
		if err == nil {
			t, err = ort.NewEmptyTensor[float32](s)
		}
		if err != nil {
			m.Close()
			return nil, err
		}
		m.outs = append(m.outs, t)
		m.outV = append(m.outV, t)
	}
	return m, nil
}

// input is the input tensor's data, to fill before run.
func (m *model) input() []float32 { return m.in.GetData() }

func (m *model) output(i int) []float32 { return m.outs[i].GetData() }

func (m *model) run() error { return m.sess.Run(m.inV, m.outV) }

// clone shares the session but has its own tensors, so two goroutines can run the same
// model at once (ONNX Runtime allows concurrent runs of one session).
func (m *model) clone() (*model, error) {
	c := &model{name: m.name, sess: m.sess}
	var err error
	if c.in, err = ort.NewEmptyTensor[float32](m.in.GetShape()); err != nil {
		return nil, err
	}
	c.inV = []ort.Value{c.in}
	for _, o := range m.outs {
		t, err := ort.NewEmptyTensor[float32](o.GetShape())
		if err != nil {
			c.closeTensors()
			return nil, err
		}
		c.outs = append(c.outs, t)
		c.outV = append(c.outV, t)
	}
	return c, nil
}

func (m *model) closeTensors() {
	if m.in != nil {
		m.in.Destroy()
	}
	for _, t := range m.outs {
		t.Destroy()
	}
}

// Close releases the tensors and the session.
func (m *model) Close() {
	m.closeTensors()
	if m.sess != nil {
		m.sess.Close()
	}
}

// ioSpec is what the pipeline reads from one model slot: the NHWC image input and the
// number of values of each output it indexes, in order.
type ioSpec struct {
	side    int64   // square input side
	outputs []int64 // values per output
	what    string  // the model that belongs in the slot
}

// slotSpecs are MediaPipe Holistic's models as the pipeline decodes them.
var slotSpecs = map[string]ioSpec{
	"pose_detection":             {224, []int64{2254 * 12, 2254}, "MediaPipe's BlazePose detector"},
	"pose_landmark_lite":         {256, []int64{195, 1, 256 * 256, 64 * 64 * 39, 117}, "MediaPipe's BlazePose landmark model"},
	"pose_landmark_full":         {256, []int64{195, 1, 256 * 256, 64 * 64 * 39, 117}, "MediaPipe's BlazePose landmark model"},
	"pose_landmark_heavy":        {256, []int64{195, 1, 256 * 256, 64 * 64 * 39, 117}, "MediaPipe's BlazePose landmark model"},
	"hand_recrop":                {256, []int64{4}, "MediaPipe's hand re-crop model"},
	"hand_landmark_full":         {224, []int64{63, 1, 1, 63}, "MediaPipe's hand landmark model"},
	"hand_landmark_lite":         {224, []int64{63, 1, 1, 63}, "MediaPipe's hand landmark model"},
	"face_detection_short_range": {128, []int64{896 * 16, 896}, "MediaPipe's BlazeFace short-range detector"},
	"face_landmark":              {192, []int64{1404, 1}, "MediaPipe's face mesh model"},
}

// checkIO holds a loaded model to what its slot's code reads, so that a valid ONNX model
// of the wrong kind is refused at load with the file named, instead of an index out of
// range or a nil pointer at the first frame.
func checkIO(path, slot string, sess *runtime.Session) error {
	spec, ok := slotSpecs[slot]
	if !ok {
		return nil
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("model %s in the %s slot: %s; want %s (%d outputs of %v values, input [1 %d %d 3])",
			path, slot, fmt.Sprintf(format, args...), spec.what, len(spec.outputs), spec.outputs, spec.side, spec.side)
	}
	in := sess.Inputs()[0]
	if want := []int64{1, spec.side, spec.side, 3}; fmt.Sprint(in.Dimensions) != fmt.Sprint(want) {
		return fail("input %s is %v", in.Name, in.Dimensions)
	}
	if in.DataType != ort.TensorElementDataTypeFloat {
		return fail("input %s holds %v, not float32", in.Name, in.DataType)
	}
	outs := sess.Outputs()
	if len(outs) != len(spec.outputs) {
		return fail("it has %d outputs", len(outs))
	}
	for i, o := range outs {
		n := int64(1)
		for _, d := range o.Dimensions {
			n *= d
		}
		if n != spec.outputs[i] || o.DataType != ort.TensorElementDataTypeFloat {
			return fail("output %d (%s) is %v of %v", i, o.Name, o.Dimensions, o.DataType)
		}
	}
	return nil
}
