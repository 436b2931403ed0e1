package synth

import "math"

// The face: MediaPipe's 468-point face mesh in head space (metres, origin between the
// eyes at the nose bridge, y down, z away from the camera). The contours that carry
// meaning downstream (eyes, brows, lips, the face oval, the nose) sit at their
// MediaPipe indices and anatomical places; the remaining mesh points are spread over
// the face surface so that the point cloud has the face's shape and extent.

// MediaPipe face mesh indices of the named contours.
var (
	faceOval = []int{10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
		152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109}
	// Lower lid from the outer corner to the inner, then the upper lid back out.
	rightEye = []int{33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246}
	leftEye  = []int{263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466}
	// Outer and inner lips: lower lip from the right corner to the left, then the upper back.
	lipsOuter = []int{61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185}
	lipsInner = []int{78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191}
	rightBrow = []int{46, 53, 52, 65, 55, 70, 63, 105, 66, 107}
	leftBrow  = []int{276, 283, 282, 295, 285, 300, 293, 334, 296, 336}
	noseLine  = []int{168, 6, 197, 195, 5, 4, 1, 19, 94, 2}
)

// faceTemplate returns the 468 points of a neutral adult face.
func faceTemplate() [468]vec {
	var p [468]vec
	set := make([]bool, 468)
	put := func(i int, v vec) { p[i] = v; set[i] = true }
	// depth of the face surface: an ellipsoid bulging towards the camera.
	depth := func(x, y float64) float64 {
		r := (x/0.075)*(x/0.075) + (y/0.11)*(y/0.11)
		if r > 1 {
			r = 1
		}
		return -0.055 * math.Sqrt(1-r)
	}
	// Face oval: an egg shape, wider at the cheekbones than at the chin.
	for k, i := range faceOval {
		a := 2 * math.Pi * float64(k) / float64(len(faceOval)) // 0 at the top, clockwise in the image
		x := 0.072 * math.Sin(a)
		y := -0.085 * math.Cos(a)
		if y > 0 { // lower half narrows to the chin and is longer
			y *= 1.35
			x *= 1 - 0.25*math.Pow(math.Abs(math.Cos(a)), 2)
		}
		put(i, vec{x, y + 0.02, 0.01})
	}
	eye := func(idx []int, cx float64, outerLeft bool) {
		for k, i := range idx {
			// k 0..8 lower lid outer->inner, 9..15 upper lid inner->outer
			var a float64
			if k <= 8 {
				a = math.Pi * float64(k) / 8
			} else {
				a = math.Pi + math.Pi*float64(k-8)/8
			}
			dir := -1.0 // outer corner of the right eye is to the image left
			if outerLeft {
				dir = 1
			}
			x := cx + dir*0.0155*math.Cos(a)
			y := 0.0055 * math.Sin(a) // lower lid (k<=8) positive y = down
			put(i, vec{x, y, depth(x, y) + 0.012})
		}
	}
	eye(rightEye, -0.032, false)
	eye(leftEye, 0.032, true)
	brow := func(idx []int, cx, dir float64) {
		for k, i := range idx {
			t := float64(k%5) / 4 // outer -> inner along the brow
			x := cx + dir*0.024*(1-2*t)
			y := -0.021 - 0.004*math.Sin(math.Pi*t)
			if k >= 5 {
				y -= 0.004
			}
			put(i, vec{x, y, depth(x, y) + 0.004})
		}
	}
	brow(rightBrow, -0.030, -1)
	brow(leftBrow, 0.030, 1)
	lips := func(idx []int, w, h, cy float64) {
		for k, i := range idx {
			var a float64
			if k <= 10 {
				a = math.Pi * float64(k) / 10 // lower lip: right corner -> left corner
			} else {
				a = math.Pi + math.Pi*float64(k-10)/10
			}
			x := -w * math.Cos(a)
			y := cy + h*math.Sin(a)
			put(i, vec{x, y, depth(x, y)})
		}
	}
	lips(lipsOuter, 0.026, 0.011, 0.062)
	lips(lipsInner, 0.020, 0.003, 0.062)
	for k, i := range noseLine {
		t := float64(k) / float64(len(noseLine)-1)
		y := -0.005 + 0.048*t
		z := -0.02 - 0.04*math.Sin(math.Pi*0.5*math.Min(1, t/0.65))
		if t > 0.65 {
			z += 0.04 * (t - 0.65) / 0.35
		}
		put(i, vec{0, y, z + depth(0, y)*0.3})
	}
	// The rest: a Fibonacci lattice over the face ellipse, lying on the surface.
	golden := math.Pi * (3 - math.Sqrt(5))
	n := 0
	for i := range p {
		if set[i] {
			continue
		}
		n++
		r := math.Sqrt(float64(n) / 335)
		if r > 0.97 {
			r = 0.97 - 0.02*float64(n%7)
		}
		a := golden * float64(n)
		x := 0.068 * r * math.Cos(a)
		y := 0.02 + 0.105*r*math.Sin(a)
		p[i] = vec{x, y, depth(x, y-0.02)}
	}
	return p
}
