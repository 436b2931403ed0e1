package pose

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"
)

// cropper cuts a rotated rectangle out of a BGR frame into a model's RGB float input,
// as MediaPipe's ImageToTensorCalculator does: one warpAffine with bilinear sampling
// straight from the frame to the tensor size, then scaling of the values to [lo, hi].
// It owns its scratch Mats, so each model input gets its own cropper.
type cropper struct {
	w, h       int     // tensor size
	lo, hi     float32 // value range
	keepAspect bool    // pad the rectangle to the tensor's aspect ratio (letterbox)
	zeroBorder bool    // outside the frame is black (else the edge pixels repeat)
	dst        gocv.Mat
	m          gocv.Mat
}

func newCropper(w, h int, lo, hi float32, keepAspect, zeroBorder bool) *cropper {
	return &cropper{
		w: w, h: h, lo: lo, hi: hi, keepAspect: keepAspect, zeroBorder: zeroBorder,
		dst: gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3),
		m:   gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F),
	}
}

func (c *cropper) Close() {
	c.dst.Close()
	c.m.Close()
}

var errEmptyCrop = errors.New("crop rectangle is empty or not finite")

// crop fills out (h*w*3 values, RGB, row-major) from the rectangle r of img and returns
// the rectangle actually sampled: r grown to the tensor's aspect ratio when keepAspect.
// Points in the tensor's normalised frame map back to the image through that rectangle's
// project method.
func (c *cropper) crop(img gocv.Mat, r Rect, out []float32) (Rect, error) {
	iw, ih := img.Cols(), img.Rows()
	if !r.valid(iw, ih) {
		return r, errEmptyCrop
	}
	rw, rh := r.W*float64(iw), r.H*float64(ih)
	if c.keepAspect {
		tensorAspect := float64(c.h) / float64(c.w)
		if tensorAspect > rh/rw {
			rh = rw * tensorAspect
		} else {
			rw = rh / tensorAspect
		}
		r.W, r.H = rw/float64(iw), rh/float64(ih)
	}
	// Inverse map: tensor pixel centre (u, v) -> frame pixel coordinates.
	sin, cos := math.Sincos(r.Rot)
	cx, cy := r.XC*float64(iw), r.YC*float64(ih)
	sx, sy := rw/float64(c.w), rh/float64(c.h)
	ox, oy := 0.5*sx-rw/2, 0.5*sy-rh/2 // offset of tensor pixel 0's centre from the rect centre
	c.m.SetDoubleAt(0, 0, cos*sx)
	c.m.SetDoubleAt(0, 1, -sin*sy)
	c.m.SetDoubleAt(0, 2, cx+cos*ox-sin*oy-0.5)
	c.m.SetDoubleAt(1, 0, sin*sx)
	c.m.SetDoubleAt(1, 1, cos*sy)
	c.m.SetDoubleAt(1, 2, cy+sin*ox+cos*oy-0.5)
	border := gocv.BorderReplicate
	if c.zeroBorder {
		border = gocv.BorderConstant
	}
	gocv.WarpAffineWithParams(img, &c.dst, c.m, image.Pt(c.w, c.h),
		gocv.InterpolationLinear|gocv.WarpInverseMap, border, color.RGBA{})
	px, err := c.dst.DataPtrUint8()
	if err != nil {
		return r, fmt.Errorf("reading crop: %w", err)
	}
	if len(px) != len(out) {
		return r, fmt.Errorf("crop has %d values, tensor %d", len(px), len(out))
	}
	scale := (c.hi - c.lo) / 255
	for i := 0; i+2 < len(px); i += 3 {
		out[i] = float32(px[i+2])*scale + c.lo
		out[i+1] = float32(px[i+1])*scale + c.lo
		out[i+2] = float32(px[i])*scale + c.lo
	}
	return r, nil
}
