package pose

import "math"

// Eye contours of MediaPipe's face mesh (FACEMESH_LEFT_EYE and FACEMESH_RIGHT_EYE: the
// person's left and right eye), whose centroids stand in for the irises that the
// 468-point face model does not give.
var (
	leftEyeContour  = []int{263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398}
	rightEyeContour = []int{33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173}
)

const (
	leftShoulder  = 11
	rightShoulder = 12
)

// normalize fills f.Scale and f.ScaleFrom: the distance between the eye centres when the
// face is present (the shoulder width otherwise), the unit that makes signers near and far
// from the camera comparable.
func normalize(f *Frame) {
	if !f.Present[PartPose] {
		return
	}
	ls, rs := f.Points[PoseOffset+leftShoulder], f.Points[PoseOffset+rightShoulder]
	if f.Present[PartFace] {
		lx, ly := centroid(f, leftEyeContour)
		rx, ry := centroid(f, rightEyeContour)
		if d := math.Hypot(lx-rx, ly-ry); d >= 1 {
			f.Scale, f.ScaleFrom = float32(d), ScaleEyes
			return
		}
	}
	if d := math.Hypot(float64(ls[0]-rs[0]), float64(ls[1]-rs[1])); d >= 1 {
		f.Scale, f.ScaleFrom = float32(d), ScaleShoulders
	}
}

func centroid(f *Frame, idx []int) (x, y float64) {
	for _, i := range idx {
		q := f.Points[FaceOffset+i]
		x += float64(q[0])
		y += float64(q[1])
	}
	return x / float64(len(idx)), y / float64(len(idx))
}
