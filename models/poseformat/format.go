package poseformat

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"unicode/utf8"
)

// Version is the format version Write produces.
const Version float32 = 0.2

var (
	// ErrTruncated means the data ended before what the header announced.
	ErrTruncated = errors.New("truncated .pose data")
	// ErrVersion means the file is of a format version this package does not read.
	ErrVersion = errors.New("unsupported .pose version")
	// ErrCorrupt means a field holds a value no valid file has.
	ErrCorrupt = errors.New("corrupt .pose data")
)

// Dimensions are the size of the video the points were taken from.
type Dimensions struct {
	Width, Height, Depth uint16
}

// Component is a named group of points, for example MediaPipe's POSE_LANDMARKS.
type Component struct {
	Name string
	// Format names each value of a point, for example "XYZC"; its last letter is the
	// confidence, which the body keeps apart from the coordinates.
	Format string
	Points []string
	// Limbs are pairs of point indexes within this component, drawn as lines.
	Limbs [][2]uint16
	// Colors are RGB triples for drawing the limbs.
	Colors [][3]uint16
}

// Header describes what the body holds.
type Header struct {
	Version    float32
	Dimensions Dimensions
	Components []Component
}

// Body holds the points of every person in every frame.
type Body struct {
	FPS    float32
	Frames int
	People int
	// Data is [Frames][People][NumPoints][NumDims] in row-major order.
	Data []float32
	// Confidence is [Frames][People][NumPoints]. MediaPipe writes 0 for points it did not
	// find (and 0 coordinates).
	Confidence []float32
}

// File is a whole .pose file.
type File struct {
	Header
	Body
	// Trailing counts bytes after the body that Read ignored (as pose-format does); Write
	// does not write them.
	Trailing int
}

// NumPoints is the number of points per person: the sum over the components.
func (h *Header) NumPoints() int {
	n := 0
	for _, c := range h.Components {
		n += len(c.Points)
	}
	return n
}

// NumDims is the number of coordinates per point: the longest point format minus its
// confidence letter, as pose-format defines it. It is -1 when there is no component.
func (h *Header) NumDims() int {
	m := 0
	for _, c := range h.Components {
		m = max(m, len(c.Format))
	}
	return m - 1
}

// ComponentOffset returns the index of the first point of the named component within a
// person's points, and the component; ok is false if no component has that name.
func (h *Header) ComponentOffset(name string) (offset int, c *Component, ok bool) {
	for i := range h.Components {
		if h.Components[i].Name == name {
			return offset, &h.Components[i], true
		}
		offset += len(h.Components[i].Points)
	}
	return 0, nil, false
}

// Point returns the coordinates of one point (NumDims values, a view into Data) and its
// confidence.
func (f *File) Point(frame, person, point int) ([]float32, float32) {
	np, nd := f.NumPoints(), f.NumDims()
	i := (frame*f.People+person)*np + point
	return f.Data[i*nd : (i+1)*nd], f.Confidence[i]
}

// ReadFile reads a .pose file; errors name the file.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Read reads a whole .pose file from r.
func Read(r io.Reader) (*File, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse decodes a .pose file held in memory. The returned File does not share b.
func Parse(b []byte) (*File, error) {
	d := &decoder{b: b}
	f := &File{}
	if err := d.header(&f.Header); err != nil {
		return nil, err
	}
	if err := d.body(&f.Header, &f.Body); err != nil {
		return nil, err
	}
	f.Trailing = len(d.b) - d.off
	return f, nil
}

type decoder struct {
	b   []byte
	off int
}

func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) need(n int, what string) error {
	if n > d.left() {
		return fmt.Errorf("%w: %s needs %d bytes at offset %d but only %d remain (the file was cut short)",
			ErrTruncated, what, n, d.off, d.left())
	}
	return nil
}

func (d *decoder) u16(what string) (uint16, error) {
	if err := d.need(2, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v, nil
}

func (d *decoder) u32(what string) (uint32, error) {
	if err := d.need(4, what); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *decoder) f32(what string) (float32, error) {
	v, err := d.u32(what)
	return math.Float32frombits(v), err
}

func (d *decoder) str(what string) (string, error) {
	n, err := d.u16(what + " length")
	if err != nil {
		return "", err
	}
	if err := d.need(int(n), what); err != nil {
		return "", err
	}
	s := string(d.b[d.off : d.off+int(n)])
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: %s at offset %d is not UTF-8", ErrCorrupt, what, d.off)
	}
	d.off += int(n)
	return s, nil
}

// isVersion compares as pose-format does (rounded to 3 decimals).
func isVersion(v float32, want float64) bool {
	return math.Abs(float64(v)-want) < 0.0005
}

func (d *decoder) header(h *Header) error {
	var err error
	if h.Version, err = d.f32("version"); err != nil {
		return err
	}
	if !isVersion(h.Version, 0.1) && !isVersion(h.Version, 0.2) {
		return fmt.Errorf("%w %g: this reader knows 0.1 and 0.2 (is this a .pose file?)", ErrVersion, h.Version)
	}
	for _, p := range []*uint16{&h.Dimensions.Width, &h.Dimensions.Height, &h.Dimensions.Depth} {
		if *p, err = d.u16("dimensions"); err != nil {
			return err
		}
	}
	nc, err := d.u16("component count")
	if err != nil {
		return err
	}
	// Each component takes at least 10 bytes: two empty strings and three counts.
	if err := d.need(int(nc)*10, fmt.Sprintf("%d components", nc)); err != nil {
		return err
	}
	h.Components = make([]Component, nc)
	for i := range h.Components {
		if err := d.component(&h.Components[i], i); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) component(c *Component, i int) error {
	var err error
	where := fmt.Sprintf("component %d", i)
	if c.Name, err = d.str(where + " name"); err != nil {
		return err
	}
	where = fmt.Sprintf("component %d (%s)", i, c.Name)
	if c.Format, err = d.str(where + " point format"); err != nil {
		return err
	}
	var n [3]uint16
	for k := range n {
		if n[k], err = d.u16(where + " counts"); err != nil {
			return err
		}
	}
	if err := d.need(2*int(n[0])+4*int(n[1])+6*int(n[2]), fmt.Sprintf("%s with %d points, %d limbs, %d colors", where, n[0], n[1], n[2])); err != nil {
		return err
	}
	c.Points = make([]string, n[0])
	for k := range c.Points {
		if c.Points[k], err = d.str(fmt.Sprintf("%s point %d name", where, k)); err != nil {
			return err
		}
	}
	if err := d.need(4*int(n[1])+6*int(n[2]), where+" limbs and colors"); err != nil {
		return err
	}
	c.Limbs = make([][2]uint16, n[1])
	for k := range c.Limbs {
		for j := range 2 {
			c.Limbs[k][j] = binary.LittleEndian.Uint16(d.b[d.off:])
			d.off += 2
		}
	}
	c.Colors = make([][3]uint16, n[2])
	for k := range c.Colors {
		for j := range 3 {
			c.Colors[k][j] = binary.LittleEndian.Uint16(d.b[d.off:])
			d.off += 2
		}
	}
	return nil
}

// mul multiplies sizes, reporting overflow of int.
func mul(xs ...uint64) (int, bool) {
	p := uint64(1)
	for _, x := range xs {
		hi, lo := bits.Mul64(p, x)
		if hi != 0 || lo > math.MaxInt {
			return 0, false
		}
		p = lo
	}
	return int(p), true
}

func (d *decoder) body(h *Header, b *Body) error {
	points, dims := h.NumPoints(), h.NumDims()
	if dims < 0 {
		return fmt.Errorf("%w: the header has no component with a point format, so the body has no shape", ErrCorrupt)
	}
	var frames uint64
	if isVersion(h.Version, 0.1) {
		fps, err := d.u16("fps")
		if err != nil {
			return err
		}
		b.FPS = float32(fps)
		declared, err := d.u16("frame count")
		if err != nil {
			return err
		}
		people, err := d.u16("people count")
		if err != nil {
			return err
		}
		b.People = int(people)
		// v0.1's frame count is 16 bits and overflows on long videos; pose-format derives
		// it from the bytes that follow, and so do we.
		perFrame, ok := mul(uint64(people), uint64(points), uint64(dims+1), 4)
		if !ok || perFrame == 0 {
			return fmt.Errorf("%w: v0.1 body of %d people x %d points x %d dims: cannot derive the frame count", ErrCorrupt, people, points, dims)
		}
		frames = uint64(d.left() / perFrame)
		// pose-format silently reads a cut-short v0.1 file as fewer frames with shifted
		// confidences; a partial frame or a count that disagrees with the header's (modulo
		// its 16 bits) shows the cut.
		if rest := d.left() % perFrame; rest != 0 || frames%65536 != uint64(declared) {
			return fmt.Errorf("%w: v0.1 body of %d bytes holds %d whole frames of %d bytes and %d bytes more, but the header counts %d frames (mod 65536)",
				ErrTruncated, d.left(), frames, perFrame, rest, declared)
		}
	} else {
		var err error
		if b.FPS, err = d.f32("fps"); err != nil {
			return err
		}
		n, err := d.u32("frame count")
		if err != nil {
			return err
		}
		frames = uint64(n)
		people, err := d.u16("people count")
		if err != nil {
			return err
		}
		b.People = int(people)
	}
	nData, ok1 := mul(frames, uint64(b.People), uint64(points), uint64(dims))
	nConf, ok2 := mul(frames, uint64(b.People), uint64(points))
	total, ok3 := mul(uint64(nData)+uint64(nConf), 4)
	shape := fmt.Sprintf("body of %d frames x %d people x %d points x %d dims", frames, b.People, points, dims)
	if !ok1 || !ok2 || !ok3 {
		return fmt.Errorf("%w: %s is too large", ErrCorrupt, shape)
	}
	if err := d.need(total, shape); err != nil {
		return err
	}
	b.Frames = int(frames)
	b.Data = d.floats(nData)
	b.Confidence = d.floats(nConf)
	return nil
}

func (d *decoder) floats(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d.b[d.off:]))
		d.off += 4
	}
	return out
}

// Validate checks that the file can be written: counts fit their fields and the body
// matches the header.
func (f *File) Validate() error {
	if len(f.Components) > math.MaxUint16 {
		return fmt.Errorf("%w: %d components, at most %d fit the format", ErrCorrupt, len(f.Components), math.MaxUint16)
	}
	for i, c := range f.Components {
		for _, s := range append([]string{c.Name, c.Format}, c.Points...) {
			if len(s) > math.MaxUint16 || !utf8.ValidString(s) {
				return fmt.Errorf("%w: component %d (%.40s): a name or format is longer than %d bytes or not UTF-8", ErrCorrupt, i, c.Name, math.MaxUint16)
			}
		}
		if len(c.Points) > math.MaxUint16 || len(c.Limbs) > math.MaxUint16 || len(c.Colors) > math.MaxUint16 {
			return fmt.Errorf("%w: component %d (%s) has more than %d points, limbs or colors", ErrCorrupt, i, c.Name, math.MaxUint16)
		}
	}
	dims := f.NumDims()
	if dims < 0 {
		return fmt.Errorf("%w: no component with a point format", ErrCorrupt)
	}
	if f.Frames < 0 || uint64(f.Frames) > math.MaxUint32 || f.People < 0 || f.People > math.MaxUint16 {
		return fmt.Errorf("%w: %d frames and %d people do not fit the format (at most %d and %d)", ErrCorrupt, f.Frames, f.People, uint32(math.MaxUint32), math.MaxUint16)
	}
	points := f.NumPoints()
	nData, ok1 := mul(uint64(f.Frames), uint64(f.People), uint64(points), uint64(dims))
	nConf, ok2 := mul(uint64(f.Frames), uint64(f.People), uint64(points))
	if !ok1 || !ok2 || len(f.Data) != nData || len(f.Confidence) != nConf {
		return fmt.Errorf("%w: body has %d data and %d confidence values; %d frames x %d people x %d points x %d dims needs %d and %d",
			ErrCorrupt, len(f.Data), len(f.Confidence), f.Frames, f.People, points, dims, nData, nConf)
	}
	return nil
}

// Write writes the file in format version 0.2, whatever version it was read as.
func (f *File) Write(w io.Writer) error {
	if err := f.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	e := encoder{w: bw}
	e.f32(Version)
	e.u16(f.Dimensions.Width)
	e.u16(f.Dimensions.Height)
	e.u16(f.Dimensions.Depth)
	e.u16(uint16(len(f.Components)))
	for _, c := range f.Components {
		e.str(c.Name)
		e.str(c.Format)
		e.u16(uint16(len(c.Points)))
		e.u16(uint16(len(c.Limbs)))
		e.u16(uint16(len(c.Colors)))
		for _, p := range c.Points {
			e.str(p)
		}
		for _, l := range c.Limbs {
			e.u16(l[0])
			e.u16(l[1])
		}
		for _, c := range c.Colors {
			e.u16(c[0])
			e.u16(c[1])
			e.u16(c[2])
		}
	}
	e.f32(f.FPS)
	e.u32(uint32(f.Frames))
	e.u16(uint16(f.People))
	for _, v := range f.Data {
		e.f32(v)
	}
	for _, v := range f.Confidence {
		e.f32(v)
	}
	if e.err != nil {
		return e.err
	}
	return bw.Flush()
}

// WriteFile writes the file (format 0.2) to path, readable by its owner only (0600): a
// .pose file holds a person's face and hands.
func (f *File) WriteFile(path string) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := out.Chmod(0o600); err != nil { // a file that existed keeps its mode otherwise
		out.Close()
		return err
	}
	if err := f.Write(out); err != nil {
		out.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return out.Close()
}

type encoder struct {
	w   *bufio.Writer
	buf [4]byte
	err error
}

func (e *encoder) put(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.put(e.buf[:2])
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.put(e.buf[:4])
}

func (e *encoder) f32(v float32) { e.u32(math.Float32bits(v)) }

func (e *encoder) str(s string) {
	e.u16(uint16(len(s)))
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}
