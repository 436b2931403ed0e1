package tflite

import (
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"
)

// table is a flatbuffers.Table whose every read is checked against the buffer's bounds
// first: the flatbuffers runtime trusts its input and would index out of range on a
// truncated or corrupt file.
type table struct {
	fb flatbuffers.Table
	// vtable bounds, checked once when the table is made.
	vt, vtLen int
}

// errBounds is wrapped by every error about an offset or length that points outside the file.
var errBounds = fmt.Errorf("offset out of bounds")

// tableAt returns the table that starts at pos, after checking its vtable.
func tableAt(buf []byte, pos int) (table, error) {
	n := len(buf)
	if pos < 0 || pos+4 > n {
		return table{}, fmt.Errorf("table at %d: %w", pos, errBounds)
	}
	fb := flatbuffers.Table{Bytes: buf, Pos: flatbuffers.UOffsetT(pos)}
	vt := pos - int(fb.GetSOffsetT(flatbuffers.UOffsetT(pos)))
	if vt < 0 || vt+4 > n {
		return table{}, fmt.Errorf("vtable of table at %d: %w", pos, errBounds)
	}
	vtLen := int(fb.GetVOffsetT(flatbuffers.UOffsetT(vt)))
	if vtLen < 4 || vtLen%2 != 0 || vt+vtLen > n {
		return table{}, fmt.Errorf("vtable of table at %d has size %d: %w", pos, vtLen, errBounds)
	}
	return table{fb: fb, vt: vt, vtLen: vtLen}, nil
}

// root returns the file's root table.
func root(buf []byte) (table, error) {
	if len(buf) < 8 {
		return table{}, fmt.Errorf("file is %d bytes, too short for a flatbuffer", len(buf))
	}
	return tableAt(buf, int(flatbuffers.GetUOffsetT(buf)))
}

// field returns the absolute position of field id's value and whether it is present,
// checking that size bytes are readable there.
func (t table) field(id, size int) (int, bool, error) {
	slot := 4 + 2*id
	if slot+2 > t.vtLen {
		return 0, false, nil
	}
	o := int(t.fb.Offset(flatbuffers.VOffsetT(slot)))
	if o == 0 {
		return 0, false, nil
	}
	p := int(t.fb.Pos) + o
	if p+size > len(t.fb.Bytes) {
		return 0, false, fmt.Errorf("field %d of table at %d: %w", id, t.fb.Pos, errBounds)
	}
	return p, true, nil
}

func (t table) uint8(id int, def uint8) (uint8, error) {
	p, ok, err := t.field(id, 1)
	if !ok || err != nil {
		return def, err
	}
	return t.fb.GetUint8(flatbuffers.UOffsetT(p)), nil
}

func (t table) bool(id int) (bool, error) {
	v, err := t.uint8(id, 0)
	return v != 0, err
}

func (t table) int32(id int, def int32) (int32, error) {
	p, ok, err := t.field(id, 4)
	if !ok || err != nil {
		return def, err
	}
	return t.fb.GetInt32(flatbuffers.UOffsetT(p)), nil
}

func (t table) uint32(id int, def uint32) (uint32, error) {
	p, ok, err := t.field(id, 4)
	if !ok || err != nil {
		return def, err
	}
	return t.fb.GetUint32(flatbuffers.UOffsetT(p)), nil
}

func (t table) uint64(id int, def uint64) (uint64, error) {
	p, ok, err := t.field(id, 8)
	if !ok || err != nil {
		return def, err
	}
	return t.fb.GetUint64(flatbuffers.UOffsetT(p)), nil
}

func (t table) float32(id int, def float32) (float32, error) {
	p, ok, err := t.field(id, 4)
	if !ok || err != nil {
		return def, err
	}
	return t.fb.GetFloat32(flatbuffers.UOffsetT(p)), nil
}

// indirect follows the uoffset stored in field id; ok is false when the field is absent.
func (t table) indirect(id int) (int, bool, error) {
	p, ok, err := t.field(id, 4)
	if !ok || err != nil {
		return 0, false, err
	}
	q := int(t.fb.Indirect(flatbuffers.UOffsetT(p)))
	if q < 0 || q+4 > len(t.fb.Bytes) || q < p {
		return 0, false, fmt.Errorf("reference in field %d of table at %d: %w", id, t.fb.Pos, errBounds)
	}
	return q, true, nil
}

// table returns the sub-table in field id.
func (t table) table(id int) (table, bool, error) {
	q, ok, err := t.indirect(id)
	if !ok || err != nil {
		return table{}, false, err
	}
	s, err := tableAt(t.fb.Bytes, q)
	return s, err == nil, err
}

// vector returns the start and length of the vector in field id, whose elements are
// elem bytes each.
func (t table) vector(id, elem int) (start, n int, err error) {
	q, ok, err := t.indirect(id)
	if !ok || err != nil {
		return 0, 0, err
	}
	n = int(t.fb.GetUint32(flatbuffers.UOffsetT(q)))
	start = q + 4
	if n < 0 || n > (len(t.fb.Bytes)-start)/elem {
		return 0, 0, fmt.Errorf("vector in field %d of table at %d has %d elements: %w", id, t.fb.Pos, n, errBounds)
	}
	return start, n, nil
}

func (t table) bytes(id int) ([]byte, error) {
	s, n, err := t.vector(id, 1)
	if err != nil || n == 0 {
		return nil, err
	}
	return t.fb.Bytes[s : s+n : s+n], nil
}

func (t table) string(id int) (string, error) {
	b, err := t.bytes(id)
	return string(b), err
}

func (t table) int32s(id int) ([]int32, error) {
	s, n, err := t.vector(id, 4)
	if err != nil || n == 0 {
		return nil, err
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = t.fb.GetInt32(flatbuffers.UOffsetT(s + 4*i))
	}
	return v, nil
}

func (t table) uint16s(id int) ([]int32, error) {
	s, n, err := t.vector(id, 2)
	if err != nil || n == 0 {
		return nil, err
	}
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(t.fb.GetUint16(flatbuffers.UOffsetT(s + 2*i)))
	}
	return v, nil
}

func (t table) uint8s(id int) ([]int32, error) {
	b, err := t.bytes(id)
	v := make([]int32, len(b))
	for i, x := range b {
		v[i] = int32(x)
	}
	return v, err
}

func (t table) int64s(id int) ([]int64, error) {
	s, n, err := t.vector(id, 8)
	if err != nil || n == 0 {
		return nil, err
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = t.fb.GetInt64(flatbuffers.UOffsetT(s + 8*i))
	}
	return v, nil
}

func (t table) float32s(id int) ([]float32, error) {
	s, n, err := t.vector(id, 4)
	if err != nil || n == 0 {
		return nil, err
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = t.fb.GetFloat32(flatbuffers.UOffsetT(s + 4*i))
	}
	return v, nil
}

// tables returns the vector of tables in field id.
func (t table) tables(id int) ([]table, error) {
	s, n, err := t.vector(id, 4)
	if err != nil || n == 0 {
		return nil, err
	}
	v := make([]table, n)
	for i := range v {
		p := s + 4*i
		q := p + int(t.fb.GetUint32(flatbuffers.UOffsetT(p)))
		if v[i], err = tableAt(t.fb.Bytes, q); err != nil {
			return nil, fmt.Errorf("element %d of field %d: %w", i, id, err)
		}
	}
	return v, nil
}
