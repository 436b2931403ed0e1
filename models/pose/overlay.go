package pose

import (
	"image"
	"image/color"

	"gocv.io/x/gocv"
)

// MediaPipe's POSE_CONNECTIONS and HAND_CONNECTIONS.
var (
	poseLimbs = [][2]int{
		{0, 1}, {1, 2}, {2, 3}, {3, 7}, {0, 4}, {4, 5}, {5, 6}, {6, 8}, {9, 10}, {11, 12}, {11, 13}, {13, 15},
		{15, 17}, {15, 19}, {15, 21}, {17, 19}, {12, 14}, {14, 16}, {16, 18}, {16, 20}, {16, 22}, {18, 20}, {11, 23}, {12, 24},
		{23, 24}, {23, 25}, {24, 26}, {25, 27}, {26, 28}, {27, 29}, {28, 30}, {29, 31}, {30, 32}, {27, 31}, {28, 32},
	}
	handLimbs = [][2]int{
		{0, 1}, {1, 2}, {2, 3}, {3, 4}, {0, 5}, {5, 6}, {6, 7}, {7, 8}, {5, 9}, {9, 10}, {10, 11}, {11, 12},
		{9, 13}, {13, 14}, {14, 15}, {15, 16}, {13, 17}, {0, 17}, {17, 18}, {18, 19}, {19, 20},
	}
)

// Draw paints f's landmarks onto img (BGR, the frame f came from) for a person to check:
// the pose skeleton in white (points MediaPipe deems visible only), the face mesh points in
// grey, the left hand in orange and the right hand in blue (the person's left and right).
func Draw(img *gocv.Mat, f Frame) {
	pt := func(i int) image.Point {
		return image.Pt(int(f.Points[i][0]+0.5), int(f.Points[i][1]+0.5))
	}
	thick := 1 + max(img.Cols(), img.Rows())/500
	if f.Present[PartPose] {
		white := color.RGBA{255, 255, 255, 0}
		for _, l := range poseLimbs {
			a, b := PoseOffset+l[0], PoseOffset+l[1]
			if f.Visibility[a] >= 0.5 && f.Visibility[b] >= 0.5 {
				gocv.Line(img, pt(a), pt(b), white, thick)
			}
		}
		for i := 0; i < NumPosePoints; i++ {
			if f.Visibility[PoseOffset+i] >= 0.5 {
				gocv.Circle(img, pt(PoseOffset+i), thick+1, color.RGBA{0, 200, 0, 0}, -1)
			}
		}
	}
	if f.Present[PartFace] {
		for i := 0; i < NumFacePoints; i++ {
			gocv.Circle(img, pt(FaceOffset+i), 1, color.RGBA{200, 200, 200, 0}, -1)
		}
	}
	for side, c := range []color.RGBA{{255, 140, 0, 0}, {0, 100, 255, 0}} {
		part, off := PartLeftHand+side, LeftHandOffset+side*NumHandPoints
		if !f.Present[part] {
			continue
		}
		for _, l := range handLimbs {
			gocv.Line(img, pt(off+l[0]), pt(off+l[1]), c, thick)
		}
		for i := 0; i < NumHandPoints; i++ {
			gocv.Circle(img, pt(off+i), thick+1, c, -1)
		}
	}
}
