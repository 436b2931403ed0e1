package pose

import (
	"math"
	"sort"
)

// detection is one SSD box in normalised coordinates of the model's input tensor (until
// projected), with keypoints.
type detection struct {
	xmin, ymin, xmax, ymax float64
	score                  float64
	keypoints              []point
}

// anchorSpec describes an SSD anchor grid as MediaPipe's SsdAnchorsCalculator builds it
// for BlazePose and BlazeFace: fixed-size anchors (the model regresses the size), one
// aspect ratio of 1 plus one interpolated scale per layer, layers of equal stride sharing
// one grid.
type anchorSpec struct {
	inputW, inputH int
	strides        []int
}

type anchor struct{ x, y float64 }

// anchors lists anchor centres in the order the model's outputs are laid out.
func (s anchorSpec) anchors() []anchor {
	var out []anchor
	for l := 0; l < len(s.strides); {
		n := 0
		last := l
		for last < len(s.strides) && s.strides[last] == s.strides[l] {
			n += 2 // aspect ratio 1, and the interpolated scale
			last++
		}
		fh := int(math.Ceil(float64(s.inputH) / float64(s.strides[l])))
		fw := int(math.Ceil(float64(s.inputW) / float64(s.strides[l])))
		for y := 0; y < fh; y++ {
			for x := 0; x < fw; x++ {
				for k := 0; k < n; k++ {
					out = append(out, anchor{x: (float64(x) + 0.5) / float64(fw), y: (float64(y) + 0.5) / float64(fh)})
				}
			}
		}
		l = last
	}
	return out
}

// decoder turns raw SSD outputs into scored detections (MediaPipe's
// TensorsToDetectionsCalculator with reverse_output_order, sigmoid scores clipped at
// +-100, box and keypoints scaled by the input size relative to the anchor).
type decoder struct {
	anchors   []anchor
	coords    int // values per box: 4 + 2 * keypoints
	keypoints int
	scale     float64 // input size in pixels
	minScore  float64
}

func (d *decoder) decode(boxes, scores []float32, out []detection) []detection {
	out = out[:0]
	logit := math.Log(d.minScore / (1 - d.minScore))
	for i, a := range d.anchors {
		raw := float64(scores[i])
		// Compare logits first: the sigmoid of most of the 2254 boxes is never needed.
		if raw < logit {
			continue
		}
		raw = math.Max(-100, math.Min(100, raw))
		score := 1 / (1 + math.Exp(-raw))
		if score < d.minScore {
			continue
		}
		b := boxes[i*d.coords : (i+1)*d.coords]
		xc := float64(b[0])/d.scale + a.x
		yc := float64(b[1])/d.scale + a.y
		w := float64(b[2]) / d.scale
		h := float64(b[3]) / d.scale
		det := detection{xmin: xc - w/2, ymin: yc - h/2, xmax: xc + w/2, ymax: yc + h/2, score: score}
		det.keypoints = make([]point, d.keypoints)
		for k := range det.keypoints {
			det.keypoints[k] = point{X: float64(b[4+2*k])/d.scale + a.x, Y: float64(b[5+2*k])/d.scale + a.y}
		}
		out = append(out, det)
	}
	return out
}

func iou(a, b detection) float64 {
	ix := math.Min(a.xmax, b.xmax) - math.Max(a.xmin, b.xmin)
	iy := math.Min(a.ymax, b.ymax) - math.Max(a.ymin, b.ymin)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	union := (a.xmax-a.xmin)*(a.ymax-a.ymin) + (b.xmax-b.xmin)*(b.ymax-b.ymin) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// weightedNMS merges overlapping boxes (IoU above threshold) into their score-weighted
// mean, keeping the best score, and returns the merged detections best first. BlazePose
// and BlazeFace fire on many neighbouring anchors, and the mean is steadier than the
// single best box.
func weightedNMS(dets []detection, threshold float64) []detection {
	sort.SliceStable(dets, func(i, j int) bool { return dets[i].score > dets[j].score })
	left := dets
	var out []detection
	for len(left) > 0 {
		best := left[0]
		group := []detection{best}
		var rest []detection
		for _, d := range left[1:] {
			if iou(best, d) > threshold {
				group = append(group, d)
			} else {
				rest = append(rest, d)
			}
		}
		merged := detection{score: best.score, keypoints: make([]point, len(best.keypoints))}
		total := 0.0
		for _, d := range group {
			total += d.score
			merged.xmin += d.xmin * d.score
			merged.ymin += d.ymin * d.score
			merged.xmax += d.xmax * d.score
			merged.ymax += d.ymax * d.score
			for k, p := range d.keypoints {
				merged.keypoints[k].X += p.X * d.score
				merged.keypoints[k].Y += p.Y * d.score
			}
		}
		if total > 0 {
			merged.xmin /= total
			merged.ymin /= total
			merged.xmax /= total
			merged.ymax /= total
			for k := range merged.keypoints {
				merged.keypoints[k].X /= total
				merged.keypoints[k].Y /= total
			}
		} else {
			merged = best
		}
		out = append(out, merged)
		left = rest
	}
	return out
}
