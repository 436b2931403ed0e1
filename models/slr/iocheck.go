package slr

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"

	"scope/models/bundle"
	"scope/models/runtime"
)

// checkIO holds the loaded model to its manifest at load, so that a model that does not
// fit is refused by name before the first sentence: the features input takes
// features.dim values per frame, the log-probability output has one class per entry of
// slr.glosses (a mismatch used to fail only in the middle of a dialogue), and every input
// and output the manifest declares has the declared name and fixed sizes.
func checkIO(man *bundle.Manifest, f *bundle.File, sess *runtime.Session) error {
	path := man.Path(f)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("model %s does not fit its manifest %s: %s", path, man.Dir(), fmt.Sprintf(format, args...))
	}
	last := func(info ort.InputOutputInfo) int64 {
		if len(info.Dimensions) == 0 {
			return -1
		}
		return info.Dimensions[len(info.Dimensions)-1]
	}
	in, out := sess.Inputs()[0], sess.Outputs()[0]
	if in.DataType != ort.TensorElementDataTypeFloat {
		return fail("input %s holds %v, want float32 features", in.Name, in.DataType)
	}
	if len(in.Dimensions) != 3 {
		return fail("input %s has shape %v, want [1 frames %d]", in.Name, in.Dimensions, man.SLR.Features.Dim)
	}
	if d := last(in); d > 0 && d != int64(man.SLR.Features.Dim) {
		return fail("input %s takes %d values per frame, slr.features.dim is %d", in.Name, d, man.SLR.Features.Dim)
	}
	if len(out.Dimensions) != 3 {
		return fail("output %s has shape %v, want [1 steps %d]", out.Name, out.Dimensions, len(man.SLR.Glosses))
	}
	if c := last(out); c > 0 && c != int64(len(man.SLR.Glosses)) {
		return fail("output %s has %d classes, slr.glosses has %d entries (the blank included); the gloss list belongs to another model", out.Name, c, len(man.SLR.Glosses))
	}
	check := func(kind string, declared []bundle.Tensor, got []ort.InputOutputInfo) error {
		for i, want := range declared {
			if i >= len(got) {
				return fail("the manifest declares %s %d (%s), the model has %d", kind, i, want.Name, len(got))
			}
			g := got[i]
			if want.Name != "" && want.Name != g.Name {
				return fail("%s %d is %q, the manifest says %q", kind, i, g.Name, want.Name)
			}
			if len(want.Shape) > 0 && len(want.Shape) != len(g.Dimensions) {
				return fail("%s %s has shape %v, the manifest says %v", kind, g.Name, g.Dimensions, want.Shape)
			}
			for j, d := range want.Shape {
				if d.Name == "" && g.Dimensions[j] > 0 && g.Dimensions[j] != d.Size {
					return fail("%s %s has shape %v, the manifest says %v", kind, g.Name, g.Dimensions, want.Shape)
				}
			}
		}
		return nil
	}
	if err := check("input", f.Inputs, sess.Inputs()); err != nil {
		return err
	}
	return check("output", f.Outputs, sess.Outputs())
}
