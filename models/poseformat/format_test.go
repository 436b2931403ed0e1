package poseformat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"scope/internal/shareddata"
)

// The sample files' layouts, as an independent parse of the bytes shows them.
var samples = []struct {
	name      string
	version   float32
	width     uint16
	height    uint16
	fps       float32
	frames    int
	comps     []string
	numPoints int
}{
	{"0ff215ef4f1f111e217e2cefee0adc77.pose", 0.2, 3264, 1836, 29.890402, 121, holisticNames(true), 576},
	{"6fb01565da31c5500d1ef2cd2906b06b.pose", 0.2, 640, 360, 25, 5, holisticNames(true), 586},
	{"7731febd6afbbe90f806a4434c282016.pose", 0.2, 640, 360, 25, 18, holisticNames(true), 586},
	{"7bd6dd48722def3cf84258b96371cb1e.pose", 0.2, 2688, 1512, 30.007145, 91, holisticNames(true), 576},
	{"84322c38ff23406f222641da30d0a49b.pose", 0.2, 640, 360, 25, 47, holisticNames(true), 586},
	{"mediapipe.pose", 0.1, 1250, 1250, 24, 170, holisticNames(false), 178},
	{"mediapipe_long.pose", 0.1, 1250, 1250, 24, 278, holisticNames(false), 178},
	{"mediapipe_hand_normalized.pose", 0.1, 223, 229, 24, 170, []string{RightHandLandmarks}, 21},
	{"mediapipe_long_hand_normalized.pose", 0.1, 221, 229, 24, 278, []string{RightHandLandmarks}, 21},
}

func holisticNames(world bool) []string {
	n := []string{PoseLandmarks, FaceLandmarks, LeftHandLandmarks, RightHandLandmarks}
	if world {
		n = append(n, PoseWorldLandmarks)
	}
	return n
}

func componentNames(f *File) []string {
	var n []string
	for _, c := range f.Components {
		n = append(n, c.Name)
	}
	return n
}

func TestReadSamples(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	all, _ := filepath.Glob(filepath.Join(dir, "*.pose"))
	if len(all) != len(samples) {
		t.Errorf("%s holds %d .pose files, the table lists %d: add the new ones", dir, len(all), len(samples))
	}
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			f, err := ReadFile(filepath.Join(dir, s.name))
			if err != nil {
				t.Fatal(err)
			}
			if f.Version != s.version || f.Dimensions.Width != s.width || f.Dimensions.Height != s.height {
				t.Errorf("version %g size %dx%d, want %g %dx%d", f.Version, f.Dimensions.Width, f.Dimensions.Height, s.version, s.width, s.height)
			}
			if math.Abs(float64(f.FPS-s.fps)) > 1e-4 || f.Frames != s.frames || f.People != 1 {
				t.Errorf("fps %g, %d frames, %d people; want %g, %d, 1", f.FPS, f.Frames, f.People, s.fps, s.frames)
			}
			if got := componentNames(f); !slices.Equal(got, s.comps) {
				t.Errorf("components %v, want %v", got, s.comps)
			}
			if f.NumPoints() != s.numPoints || f.NumDims() != 3 {
				t.Errorf("%d points x %d dims, want %d x 3", f.NumPoints(), f.NumDims(), s.numPoints)
			}
			if f.Trailing != 0 {
				t.Errorf("%d trailing bytes", f.Trailing)
			}
			// Real MediaPipe output: confidences are probabilities and found points lie
			// around the frame.
			for i, c := range f.Confidence {
				if !(c >= 0 && c <= 1) {
					t.Fatalf("confidence %d is %g", i, c)
				}
			}
		})
	}
}

func TestRewriteIsByteIdentical(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	for _, s := range samples {
		if s.version != 0.2 {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, s.name))
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := f.Write(&out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), raw) {
				t.Fatalf("rewrite differs: %d bytes, original %d, first difference at %d", out.Len(), len(raw), firstDiff(out.Bytes(), raw))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A v0.1 file becomes v0.2 when written and keeps every point.
func TestV01UpgradesToV02(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	for _, s := range samples {
		if s.version != 0.1 {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			f, err := ReadFile(filepath.Join(dir, s.name))
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := f.Write(&out); err != nil {
				t.Fatal(err)
			}
			g, err := Parse(out.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if g.Version != Version || g.FPS != f.FPS || g.Frames != f.Frames {
				t.Errorf("rewritten: version %g fps %g frames %d; want 0.2, %g, %d", g.Version, g.FPS, g.Frames, f.FPS, f.Frames)
			}
			if !sameBits(g.Data, f.Data) || !sameBits(g.Confidence, f.Confidence) {
				t.Error("points changed")
			}
			for i := range f.Components {
				a, b := f.Components[i], g.Components[i]
				if a.Name != b.Name || a.Format != b.Format || !slices.Equal(a.Points, b.Points) || !slices.Equal(a.Limbs, b.Limbs) || !slices.Equal(a.Colors, b.Colors) {
					t.Errorf("component %d (%s) changed", i, a.Name)
				}
			}
		})
	}
}

func smallHolisticBytes(t testing.TB, frames int, world bool) []byte {
	pts, conf := syntheticFrames(frames)
	var w [][NumPosePoints][3]float32
	if world {
		w = make([][NumPosePoints][3]float32, frames)
		for i := range w {
			w[i][0] = [3]float32{0.1, -0.2, float32(i)}
		}
	}
	f, err := NewHolistic(640, 480, 30, pts, conf, w)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// v01Bytes builds a small version 0.1 file: one hand component, 3 frames.
func v01Bytes() []byte {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	str := func(s string) { le(uint16(len(s))); b.WriteString(s) }
	le(float32(0.1))
	le([3]uint16{100, 200, 0})
	le(uint16(1))
	str(RightHandLandmarks)
	str("XYZC")
	le([3]uint16{3, 2, 1})
	for _, p := range HandPointNames[:3] {
		str(p)
	}
	le([4]uint16{0, 1, 1, 2})
	le([3]uint16{255, 0, 0})
	le([3]uint16{24, 3, 1}) // fps, frames, people
	for i := range 3 * 3 * 3 {
		le(float32(i))
	}
	for i := range 3 * 3 {
		le(float32(i) / 10)
	}
	return b.Bytes()
}

func TestReadV01(t *testing.T) {
	f, err := Parse(v01Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.FPS != 24 || f.Frames != 3 || f.People != 1 || len(f.Data) != 27 || f.Confidence[8] != 0.8 {
		t.Fatalf("got fps %g frames %d people %d, %d values, last confidence %g", f.FPS, f.Frames, f.People, len(f.Data), f.Confidence[8])
	}
	if xyz, c := f.Point(2, 0, 1); !slices.Equal(xyz, []float32{21, 22, 23}) || c != 0.7 {
		t.Errorf("frame 2 point 1: %v %g", xyz, c)
	}
}

// Cutting a file anywhere gives an error that says it was cut, never a panic or a
// shorter file read as if whole.
func TestTruncatedFails(t *testing.T) {
	files := map[string][]byte{
		"v0.2 holistic": smallHolisticBytes(t, 2, true),
		"v0.1 hand":     v01Bytes(),
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			step := 1
			if len(b) > 4000 {
				step = 7 // the face limbs are long; every 7th offset still lands in every field
			}
			for n := 0; n < len(b); n += step {
				_, err := Parse(b[:n])
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("cut at %d of %d bytes: error %v, want ErrTruncated", n, len(b), err)
				}
			}
			// And the last bytes one by one.
			for n := max(0, len(b)-64); n < len(b); n++ {
				if _, err := Parse(b[:n]); !errors.Is(err, ErrTruncated) {
					t.Fatalf("cut at %d of %d bytes: error %v, want ErrTruncated", n, len(b), err)
				}
			}
		})
	}
}

func TestTruncatedSampleNamesFile(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	raw, err := os.ReadFile(filepath.Join(dir, "6fb01565da31c5500d1ef2cd2906b06b.pose"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cut.pose")
	if err := os.WriteFile(p, raw[:len(raw)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadFile(p)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "cut.pose") || !strings.Contains(err.Error(), "5 frames") {
		t.Fatalf("error %q should name the file, the body shape and wrap ErrTruncated", err)
	}
}

func TestCorruptHeaders(t *testing.T) {
	good := smallHolisticBytes(t, 1, false)
	cases := []struct {
		name string
		edit func(b []byte) []byte
		want error
	}{
		{"not a pose file", func(b []byte) []byte { return []byte("PK\x03\x04 a zip file, not a pose") }, ErrVersion},
		{"version 0.3", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b, math.Float32bits(0.3))
			return b
		}, ErrVersion},
		{"65535 components", func(b []byte) []byte {
			binary.LittleEndian.PutUint16(b[10:], 65535)
			return b
		}, ErrTruncated},
		{"4 billion frames", func(b []byte) []byte {
			off := len(b) - 4*NumPoints*4 - 6
			binary.LittleEndian.PutUint32(b[off:], math.MaxUint32)
			return b
		}, ErrTruncated},
		{"point name not UTF-8", func(b []byte) []byte {
			i := bytes.Index(b, []byte("NOSE"))
			b[i] = 0xff
			return b
		}, ErrCorrupt},
		{"no point format", func(b []byte) []byte {
			var o bytes.Buffer
			o.Write(b[:10])
			o.Write([]byte{1, 0, 1, 0, 'A', 0, 0, 0, 0, 0, 0, 0, 0})
			o.Write(make([]byte, 10))
			return o.Bytes()
		}, ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.edit(slices.Clone(good)))
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
}

func TestTrailingBytesIgnored(t *testing.T) {
	b := smallHolisticBytes(t, 2, false)
	f, err := Parse(append(slices.Clone(b), 1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if f.Trailing != 3 {
		t.Errorf("Trailing = %d, want 3", f.Trailing)
	}
	var out bytes.Buffer
	if err := f.Write(&out); err != nil || !bytes.Equal(out.Bytes(), b) {
		t.Errorf("rewrite without the trailing bytes: err %v, equal %v", err, bytes.Equal(out.Bytes(), b))
	}
}

func TestWriteRejectsInconsistentBody(t *testing.T) {
	pts, conf := syntheticFrames(2)
	f, err := NewHolistic(640, 480, 25, pts, conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Data = f.Data[:len(f.Data)-1]
	if err := f.Write(&bytes.Buffer{}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v, want ErrCorrupt", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(smallHolisticBytes(f, 1, false))
	f.Add(smallHolisticBytes(f, 2, true)[:5000])
	f.Add(v01Bytes())
	f.Add(v01Bytes()[:60])
	f.Add([]byte{})
	// Four billion frames of nothing: cheap to read, must stay cheap to map.
	f.Add([]byte("\xcd\xccL>\x01\x00\x01\x00\x00\x00\x01\x00\x01\x00X\x04\x00XYZC\x00\x00\x00\x00\x00\x00\x00\x00\xc8A\xff\xff\xff\xff\x01\x00"))
	f.Add([]byte{0xcd, 0xcc, 0x4c, 0x3e, 1, 0, 1, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := p.Write(&out); err != nil {
			t.Fatalf("read but cannot write: %v", err)
		}
		if math.Float32bits(p.Version) == math.Float32bits(Version) && !bytes.Equal(out.Bytes(), b[:len(b)-p.Trailing]) {
			t.Fatalf("v0.2 rewrite differs at byte %d", firstDiff(out.Bytes(), b))
		}
		q, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("cannot read what was written: %v", err)
		}
		if q.Frames != p.Frames || q.NumPoints() != p.NumPoints() || len(q.Data) != len(p.Data) {
			t.Fatalf("rewritten file has another shape")
		}
		for person := range min(p.People, 2) {
			// Errors are fine (nothing to map); panics are not.
			p.Holistic(person)
		}
	})
}

// TestWriteFileIsPrivate: a .pose file holds a person's face and hands; WriteFile makes it
// 0600, also when it replaces a file that was readable by others.
func TestWriteFileIsPrivate(t *testing.T) {
	f, err := NewHolistic(64, 48, 25, make([][NumPoints][3]float32, 2), make([][NumPoints]float32, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.pose")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
}
