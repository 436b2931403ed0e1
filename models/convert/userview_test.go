package convert

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"google.golang.org/protobuf/proto"

	"scope/models/convert/onnxpb"
)

// What a user of MediaPipe's models sees, and how far a converted model may stray from
// LiteRT there. The bars are fixed by what is visible, not measured on any runtime:
// a landmark 1e-3 of the image side off is a fraction of a pixel at 640x480; 1e-3 of a
// probability never moves a 0.5 decision that was not already on the edge; a millimetre
// in world coordinates is below any tracker's noise; boxes overlap by IoU 0.99 or more.
// A dense map (the segmentation mask, the landmark heatmaps) is seen through its
// decisions: a pixel in or out of the mask, a landmark refined from the heatmap (held as
// a landmark); its probabilities may differ by a percentage point, invisible in an
// overlay, and at most 1 pixel in 1000 may change sides.
const (
	pointTol   = 1e-3 // image landmarks, box corners, detector keypoints (fraction of the input side)
	probTol    = 1e-3 // presence, visibility, handedness, detection scores
	worldTol   = 1e-3 // world landmarks, metres
	minIoU     = 0.99 // a detection box and its LiteRT counterpart
	mapTol     = 1e-2 // probabilities of a dense map
	maxFlipped = 1e-3 // fraction of a mask's pixels on the other side of 0.5
)

// ssdSpec describes a MediaPipe SSD detector's anchor grid and box layout.
type ssdSpec struct {
	size    int   // square input side in pixels
	coords  int   // values per anchor: 4 box values, then keypoint x, y pairs
	strides []int // per layer; equal strides share one grid, two anchors per layer
}

var detectors = map[string]ssdSpec{
	"pose_detection":             {224, 12, []int{8, 16, 32, 32, 32}},
	"face_detection_short_range": {128, 16, []int{8, 16, 16, 16}},
	"palm_detection_lite":        {192, 18, []int{8, 16, 16, 16}},
	"palm_detection_full":        {192, 18, []int{8, 16, 16, 16}},
}

// anchorCentres lists the anchor centres in output order (MediaPipe's
// SsdAnchorsCalculator with fixed-size anchors).
func (s ssdSpec) anchorCentres() [][2]float64 {
	var out [][2]float64
	for l := 0; l < len(s.strides); {
		last, per := l, 0
		for last < len(s.strides) && s.strides[last] == s.strides[l] {
			per += 2
			last++
		}
		n := (s.size + s.strides[l] - 1) / s.strides[l]
		for y := range n {
			for x := range n {
				for range per {
					out = append(out, [2]float64{(float64(x) + 0.5) / float64(n), (float64(y) + 0.5) / float64(n)})
				}
			}
		}
		l = last
	}
	return out
}

// userDiff is how far apart two runs of a model are as a user sees them: the largest
// difference of each kind, the smallest box overlap and how many boxes were compared.
type userDiff struct {
	point, prob, world float64
	iou                float64
	boxes              int
	dense, flipped     float64 // dense maps: largest probability difference, fraction of mask pixels flipped
}

func (d userDiff) String() string {
	s := fmt.Sprintf("points %.2g, probabilities %.2g, world %.2g m, maps %.2g (flipped %.2g)", d.point, d.prob, d.world, d.dense, d.flipped)
	if d.boxes > 0 {
		s += fmt.Sprintf(", %d boxes, IoU >= %.4f", d.boxes, d.iou)
	}
	return s
}

// problems lists what exceeds the bars.
func (d userDiff) problems() []string {
	var p []string
	if !(d.point <= pointTol) {
		p = append(p, fmt.Sprintf("landmarks or boxes off by %.3g of the image side (bar %g)", d.point, pointTol))
	}
	if !(d.prob <= probTol) {
		p = append(p, fmt.Sprintf("a probability off by %.3g (bar %g)", d.prob, probTol))
	}
	if !(d.world <= worldTol) {
		p = append(p, fmt.Sprintf("world landmarks off by %.3g m (bar %g)", d.world, worldTol))
	}
	if !(d.dense <= mapTol) {
		p = append(p, fmt.Sprintf("a mask or heatmap probability off by %.3g (bar %g)", d.dense, mapTol))
	}
	if !(d.flipped <= maxFlipped) {
		p = append(p, fmt.Sprintf("%.3g of the mask's pixels on the other side of 0.5 (bar %g)", d.flipped, maxFlipped))
	}
	if d.boxes > 0 && !(d.iou >= minIoU) {
		p = append(p, fmt.Sprintf("a detection box overlaps LiteRT's by IoU %.4f (bar %g)", d.iou, minIoU))
	}
	return p
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-math.Max(-100, math.Min(100, x)))) }

// userView decodes the outputs of one of MediaPipe's models as SCOPE's pose pipeline
// does (models/pose) and compares got with want. Unknown models compare nothing.
func userView(model string, got, want [][]float32) userDiff {
	d := userDiff{iou: 1}
	maxDiff := func(acc *float64, a, b float64) {
		e := math.Abs(a - b)
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		*acc = math.Max(*acc, e)
	}
	points := func(o int, per, dims int, side float64) {
		for i := range len(want[o]) / per {
			for k := range dims {
				maxDiff(&d.point, float64(got[o][i*per+k])/side, float64(want[o][i*per+k])/side)
			}
		}
	}
	probs := func(o int, logits bool) {
		for i := range want[o] {
			a, b := float64(got[o][i]), float64(want[o][i])
			if logits {
				a, b = sigmoid(a), sigmoid(b)
			}
			maxDiff(&d.prob, a, b)
		}
	}
	world := func(o int) {
		for i := range want[o] {
			maxDiff(&d.world, float64(got[o][i]), float64(want[o][i]))
		}
	}
	if spec, ok := detectors[model]; ok {
		anchors := spec.anchorCentres()
		side := float64(spec.size)
		box := func(v []float32, a [2]float64) (x0, y0, x1, y1 float64) {
			xc, yc := float64(v[0])/side+a[0], float64(v[1])/side+a[1]
			w, h := float64(v[2])/side, float64(v[3])/side
			return xc - w/2, yc - h/2, xc + w/2, yc + h/2
		}
		for i, a := range anchors {
			pg, pw := sigmoid(float64(got[1][i])), sigmoid(float64(want[1][i]))
			maxDiff(&d.prob, pg, pw)
			if pg < 0.5 || pw < 0.5 {
				continue // a box shows only above 0.5; the score's difference is held above
			}
			vg, vw := got[0][i*spec.coords:(i+1)*spec.coords], want[0][i*spec.coords:(i+1)*spec.coords]
			gx0, gy0, gx1, gy1 := box(vg, a)
			wx0, wy0, wx1, wy1 := box(vw, a)
			for _, p := range [][2]float64{{gx0, wx0}, {gy0, wy0}, {gx1, wx1}, {gy1, wy1}} {
				maxDiff(&d.point, p[0], p[1])
			}
			for k := 4; k < spec.coords; k++ {
				maxDiff(&d.point, float64(vg[k])/side, float64(vw[k])/side)
			}
			if !(wx1 > wx0 && wy1 > wy0) {
				continue // LiteRT's box is empty (random input): only its corners are held
			}
			ix := math.Min(gx1, wx1) - math.Max(gx0, wx0)
			iy := math.Min(gy1, wy1) - math.Max(gy0, wy0)
			iou := 0.0
			if ix > 0 && iy > 0 && gx1 > gx0 && gy1 > gy0 {
				inter := ix * iy
				iou = inter / ((gx1-gx0)*(gy1-gy0) + (wx1-wx0)*(wy1-wy0) - inter)
			}
			d.iou = math.Min(d.iou, iou)
			d.boxes++
		}
		return d
	}
	switch {
	case strings.HasPrefix(model, "pose_landmark"):
		points(0, 5, 3, 256) // x, y, z in input pixels
		for i := range len(want[0]) / 5 {
			for _, k := range []int{3, 4} { // visibility, presence logits
				maxDiff(&d.prob, sigmoid(float64(got[0][5*i+k])), sigmoid(float64(want[0][5*i+k])))
			}
		}
		probs(1, false) // pose present, a probability already
		flipped := 0
		for i := range want[2] { // segmentation mask logits
			a, b := sigmoid(float64(got[2][i])), sigmoid(float64(want[2][i]))
			maxDiff(&d.dense, a, b)
			if (a > 0.5) != (b > 0.5) {
				flipped++
			}
		}
		d.flipped = float64(flipped) / float64(len(want[2]))
		for i := range want[3] { // heatmap logits
			maxDiff(&d.dense, sigmoid(float64(got[3][i])), sigmoid(float64(want[3][i])))
		}
		// The landmarks as the pipeline refines them from the heatmap.
		rg, rw := refined(got[0], got[3]), refined(want[0], want[3])
		for i := range rw {
			maxDiff(&d.point, rg[i], rw[i])
		}
		world(4)
	case strings.HasPrefix(model, "hand_landmark"):
		points(0, 3, 3, 224)
		probs(1, false) // hand present
		probs(2, false) // handedness
		world(3)
	case model == "face_landmark":
		points(0, 3, 3, 192)
		probs(1, true) // face present, a logit
	case model == "hand_recrop":
		points(0, 2, 2, 256)
	}
	return d
}

// refined returns the 39 pose landmarks (x, y normalised) moved to the
// confidence-weighted mean of the 7x7 heatmap cells around them where the heatmap is
// confident (0.5), as models/pose does with pose_landmark's 64x64x39 heatmap.
func refined(lm, hm []float32) []float64 {
	const n, side, off = 39, 64, 3
	out := make([]float64, 0, 2*n)
	for i := range n {
		x, y := float64(lm[5*i])/256, float64(lm[5*i+1])/256
		col, row := int(x*side), int(y*side)
		if x >= 0 && y >= 0 && col < side && row < side {
			var sum, wc, wr, best float64
			for r := max(0, row-off); r < min(side, row+off+1); r++ {
				for c := max(0, col-off); c < min(side, col+off+1); c++ {
					conf := sigmoid(float64(hm[(r*side+c)*n+i]))
					sum += conf
					best = math.Max(best, conf)
					wc += float64(c) * conf
					wr += float64(r) * conf
				}
			}
			if best >= 0.5 && sum > 0 {
				x, y = wc/side/sum, wr/side/sum
			}
		}
		out = append(out, x, y)
	}
	return out
}

// perturb moves every value by up to n units in the last place, the size of rounding
// differences: how much LiteRT's own outputs move then is the reference side's measure
// of how sensitive each output is.
func perturb(x []float32, n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := make([]float32, len(x))
	for i, v := range x {
		k := rng.IntN(2*n+1) - n
		for ; k > 0; k-- {
			v = math.Nextafter32(v, float32(math.Inf(1)))
		}
		for ; k < 0; k++ {
			v = math.Nextafter32(v, float32(math.Inf(-1)))
		}
		out[i] = v
	}
	return out
}

// breakage is a deliberate conversion error of a kind a converter can really make.
type breakage struct {
	name  string
	apply func(m *onnxpb.ModelProto) (string, bool)
}

var breakages = []breakage{
	{"transposed weight", transposeFirstKernel},
	{"padding on the wrong side", swapFirstPadding},
}

// int8Breakages are the deliberate errors tried on the int8 models.
var int8Breakages = []breakage{
	{"transposed weight", transposeFirstKernel},
	{"per-channel scales read as one", collapseFirstChannelScales},
	{"padding on the wrong side", swapFirstPadding},
}

// weightOf finds the initializer behind a node input: the input itself, or the integer
// weight behind the DequantizeLinear that feeds it (the QDQ form of int8 models).
func weightOf(m *onnxpb.ModelProto, name string) *onnxpb.TensorProto {
	for range 2 {
		for _, t := range m.Graph.Initializer {
			if t.GetName() == name {
				return t
			}
		}
		found := false
		for _, n := range m.Graph.Node {
			if n.GetOpType() == "DequantizeLinear" && len(n.Output) == 1 && n.Output[0] == name {
				name, found = n.Input[0], true
				break
			}
		}
		if !found {
			return nil
		}
	}
	return nil
}

// transposeFirstKernel swaps the height and width of the first convolution kernel that
// is square and at least 3x3: the NHWC/NCHW mix-up of a weight.
func transposeFirstKernel(m *onnxpb.ModelProto) (string, bool) {
	for _, n := range m.Graph.Node {
		if n.GetOpType() != "Conv" || len(n.Input) < 2 {
			continue
		}
		w := weightOf(m, n.Input[1])
		if w == nil || len(w.Dims) != 4 || w.Dims[2] != w.Dims[3] || w.Dims[2] < 3 || len(w.RawData) == 0 {
			continue
		}
		k := int(w.Dims[2])
		planes := int(w.Dims[0] * w.Dims[1])
		size := len(w.RawData) / (planes * k * k) // bytes per value: 4 for float, 1 for int8
		raw := append([]byte(nil), w.RawData...)
		for o := range planes {
			for y := range k {
				for x := range k {
					src, dst := size*(o*k*k+y*k+x), size*(o*k*k+x*k+y)
					copy(raw[dst:dst+size], w.RawData[src:src+size])
				}
			}
		}
		w.RawData = raw
		return fmt.Sprintf("%s's %dx%d kernel %s transposed", n.GetName(), k, k, w.GetName()), true
	}
	return "", false
}

// collapseFirstChannelScales gives every channel of the first per-channel quantised
// weight the first channel's scale: per-channel quantisation read as per-tensor.
func collapseFirstChannelScales(m *onnxpb.ModelProto) (string, bool) {
	for _, n := range m.Graph.Node {
		if n.GetOpType() != "DequantizeLinear" || len(n.Input) < 2 {
			continue
		}
		sc := weightOf(m, n.Input[1])
		if sc == nil || len(sc.RawData) < 8 || len(sc.RawData)%4 != 0 {
			continue
		}
		first := sc.RawData[:4]
		differ := false
		for i := 4; i < len(sc.RawData); i += 4 {
			differ = differ || string(sc.RawData[i:i+4]) != string(first)
		}
		if !differ {
			continue
		}
		raw := make([]byte, len(sc.RawData))
		for i := 0; i < len(raw); i += 4 {
			copy(raw[i:], first)
		}
		sc.RawData = raw
		return fmt.Sprintf("%s's %d channel scales %s all set to the first", n.GetName(), len(raw)/4, sc.GetName()), true
	}
	return "", false
}

// swapFirstPadding moves the padding of the first convolution, pooling or Pad that pads
// one side more than the other to the other side: TensorFlow's SAME padding written as
// SAME_LOWER, the classic off-by-one-pixel conversion error. In a model without one it
// moves the first symmetric padding to the end.
func swapFirstPadding(m *onnxpb.ModelProto) (string, bool) {
	var firstSym *onnxpb.AttributeProto
	var symNode string
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range m.Graph.Initializer {
		inits[t.GetName()] = t
	}
	for _, n := range m.Graph.Node {
		switch n.GetOpType() {
		case "Conv", "MaxPool", "AveragePool":
			for _, a := range n.Attribute {
				if a.GetName() != "pads" || len(a.Ints)%2 != 0 {
					continue
				}
				h := len(a.Ints) / 2
				if !slicesDiffer(a.Ints[:h], a.Ints[h:]) {
					if firstSym == nil && slicesDiffer(a.Ints, make([]int64, len(a.Ints))) {
						firstSym, symNode = a, n.GetName()
					}
					continue
				}
				a.Ints = append(append([]int64(nil), a.Ints[h:]...), a.Ints[:h]...)
				return fmt.Sprintf("%s's pads swapped to %v", n.GetName(), a.Ints), true
			}
		case "Pad":
			t := inits[n.Input[1]]
			if t == nil || len(t.RawData)%16 != 0 {
				continue
			}
			v := make([]int64, len(t.RawData)/8)
			for i := range v {
				v[i] = int64(leUint64(t.RawData[8*i:]))
			}
			h := len(v) / 2
			if !slicesDiffer(v[:h], v[h:]) {
				continue
			}
			raw := make([]byte, len(t.RawData))
			copy(raw, t.RawData[8*h:])
			copy(raw[8*h:], t.RawData[:8*h])
			t.RawData = raw
			return fmt.Sprintf("%s's pads swapped (begin %v, end %v)", n.GetName(), v[h:], v[:h]), true
		}
	}
	// A model that pads every side alike: all of the first such padding goes to the end
	// (the same output size, shifted by the padding).
	if firstSym != nil {
		h := len(firstSym.Ints) / 2
		for i := range h {
			firstSym.Ints[h+i] += firstSym.Ints[i]
			firstSym.Ints[i] = 0
		}
		return fmt.Sprintf("%s's pads moved to the end: %v", symNode, firstSym.Ints), true
	}
	return "", false
}

func slicesDiffer(a, b []int64) bool {
	for i := range a {
		if a[i] != b[i] {
			return true
		}
	}
	return false
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// broken returns the model with one breakage applied, and what was changed.
func broken(model []byte, b breakage) ([]byte, string, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(model, &m); err != nil {
		return nil, "", err
	}
	what, ok := b.apply(&m)
	if !ok {
		return nil, "", nil
	}
	out, err := proto.Marshal(&m)
	return out, what, err
}
