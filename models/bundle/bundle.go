// Package bundle reads and checks model bundle manifests. A bundle is a folder (OTA moves it
// whole) with manifest.json beside the model files it names:
//
//	{
//	  "format": "scope-bundle/1",          // this schema; readers refuse other majors
//	  "name": "scope-slr-demo",            // what the bundle is
//	  "version": "0.1.0",                  // the bundle's own version (semver)
//	  "min_scope_version": "0.1.0",        // oldest scope binary that can run it
//	  "files": [{                          // every model file, path relative to the folder
//	    "role": "slr", "path": "slr.onnx", "precision": "fp32",
//	    "sha256": "...", "bytes": 1234,
//	    "inputs":  [{"name": "features", "type": "float32", "shape": [1, "frames", 270]}],
//	    "outputs": [{"name": "log_probs", "type": "float32", "shape": [1, "steps", 61]}]
//	  }],
//	  "slr": {...}                         // per-model sections (see SLR)
//	}
//
// Shapes hold numbers for fixed sizes and names for sizes that vary. Load reads the
// manifest and checks it; Verify also checks every file's size and sha256. Sections
// other than the ones this package knows are kept as raw JSON so newer bundles stay
// readable.
package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// ManifestName is the manifest's file name inside a bundle folder.
const ManifestName = "manifest.json"

// Format is the schema this package reads and writes.
const Format = "scope-bundle/1"

// ErrInvalid is wrapped by every error about a malformed manifest.
var ErrInvalid = errors.New("invalid bundle manifest")

// ErrTampered is wrapped when a file's size or sha256 differs from the manifest.
var ErrTampered = errors.New("bundle file does not match its manifest")

// Manifest is manifest.json.
type Manifest struct {
	Format          string `json:"format"`
	Name            string `json:"name"`
	Version         string `json:"version"`
	MinScopeVersion string `json:"min_scope_version"`
	Files           []File `json:"files"`
	SLR             *SLR   `json:"slr,omitempty"`
	// Other holds sections this package does not model, written back unchanged.
	Other map[string]json.RawMessage `json:"-"`

	dir string
}

// File is one model file of the bundle.
type File struct {
	Role      string   `json:"role"`      // what reads it: "slr", "slt", "pose", ...
	Path      string   `json:"path"`      // relative, '/'-separated
	Precision string   `json:"precision"` // "fp32", "int8", "q4_0", ...
	SHA256    string   `json:"sha256"`
	Bytes     int64    `json:"bytes"`
	Inputs    []Tensor `json:"inputs,omitempty"`
	Outputs   []Tensor `json:"outputs,omitempty"`
}

// Tensor describes one model input or output.
type Tensor struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Shape []Dim  `json:"shape"`
}

// Dim is a fixed size (Size >= 0) or a named size that varies (Name != "").
type Dim struct {
	Size int64
	Name string
}

// MarshalJSON writes a number or a name.
func (d Dim) MarshalJSON() ([]byte, error) {
	if d.Name != "" {
		return json.Marshal(d.Name)
	}
	return []byte(strconv.FormatInt(d.Size, 10)), nil
}

// UnmarshalJSON reads a number or a name.
func (d *Dim) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &d.Name)
	}
	return json.Unmarshal(b, &d.Size)
}

func (d Dim) String() string {
	if d.Name != "" {
		return d.Name
	}
	return strconv.FormatInt(d.Size, 10)
}

// SLR is the recogniser's section: what the runtime needs beside the ONNX file to turn
// keypoints into glosses.
type SLR struct {
	Glosses     []string `json:"glosses"`      // output index -> gloss; Glosses[Blank] is the CTC blank
	Blank       int      `json:"blank"`        // CTC blank index
	FrameStride int      `json:"frame_stride"` // input frames per output step
	Context     bool     `json:"context"`      // the model takes a "context" input
	Features    Features `json:"features"`
	// ContextTokenizer turns the previous turns into the model's "context" ids; null when
	// Context is false.
	ContextTokenizer *Tokenizer `json:"context_tokenizer"`
	// Model records the training configuration (informational).
	Model json.RawMessage `json:"model,omitempty"`
	// Metrics records measured quality (informational, e.g. WER on a named dataset).
	Metrics json.RawMessage `json:"metrics,omitempty"`
}

// Features is the keypoint feature spec (train/slr/features.py describes the steps).
type Features struct {
	Name      string    `json:"name"`    // "scope-slr-keypoints"
	Version   int       `json:"version"` // 1
	Layout    string    `json:"layout"`  // "mediapipe-holistic-543"
	Points    []int     `json:"points"`  // selected points of the 543-point layout
	LeftHand  [2]int    `json:"left_hand"`
	RightHand [2]int    `json:"right_hand"`
	RefFPS    float64   `json:"ref_fps"` // velocities are per 1/RefFPS seconds
	Dim       int       `json:"dim"`
	Order     string    `json:"order,omitempty"`
	Center    string    `json:"center,omitempty"`
	Scale     string    `json:"scale,omitempty"`
	Mean      []float32 `json:"mean"` // standardisation: (v - Mean) / Std
	Std       []float32 `json:"std"`
}

// Tokenizer is the recogniser's own word tokenizer for the dialogue context.
type Tokenizer struct {
	Type      string   `json:"type"` // "words-v1"
	Lowercase bool     `json:"lowercase"`
	Specials  []string `json:"specials"` // ids 0.. : pad, unknown, begin, end of turn
	MaxLen    int      `json:"max_len"`
	Vocab     []string `json:"vocab"` // ids len(Specials)..
}

// Dir is the folder the manifest was loaded from.
func (m *Manifest) Dir() string { return m.dir }

// Path returns the absolute path of f inside the bundle.
func (m *Manifest) Path(f *File) string { return filepath.Join(m.dir, filepath.FromSlash(f.Path)) }

// FileFor returns the file with the given role and precision ("" takes the first of the role).
func (m *Manifest) FileFor(role, precision string) (*File, error) {
	var have []string
	for i := range m.Files {
		f := &m.Files[i]
		if f.Role != role {
			continue
		}
		if precision == "" || f.Precision == precision {
			return f, nil
		}
		have = append(have, f.Precision)
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("bundle %s has no %q model", m.dir, role)
	}
	return nil, fmt.Errorf("bundle %s has no %s %q model (it has %s)", m.dir, precision, role, strings.Join(have, ", "))
}

// Load reads dir/manifest.json (dir may also name the manifest file itself) and checks it.
// It does not hash the files; call Verify for that.
func Load(dir string) (*Manifest, error) {
	file := dir
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		file = filepath.Join(dir, ManifestName)
	} else {
		dir = filepath.Dir(dir)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading bundle manifest: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m.dir = dir
	return m, nil
}

// Parse decodes and checks a manifest.
func Parse(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, k := range []string{"format", "name", "version", "min_scope_version", "files", "slr"} {
		delete(all, k)
	}
	if len(all) > 0 {
		m.Other = all
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// MarshalJSON writes the known fields and the kept unknown sections.
func (m Manifest) MarshalJSON() ([]byte, error) {
	type plain Manifest
	b, err := json.Marshal(plain(m))
	if err != nil || len(m.Other) == 0 {
		return b, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	for k, v := range m.Other {
		all[k] = v
	}
	return json.Marshal(all)
}

// Validate checks the manifest's fields without touching files.
func (m *Manifest) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: field %q: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
	}
	switch {
	case m.Format == "":
		return bad("format", "is empty; this reader expects %q", Format)
	case m.Format != Format && !strings.HasPrefix(m.Format, Format+"."): // minor revisions only add fields
		return bad("format", "is %q; this scope reads %q bundles, update scope or rebuild the bundle", m.Format, Format)
	case m.Name == "":
		return bad("name", "is empty")
	case !validVersion(m.Version):
		return bad("version", "%q is not a version like 1.2.3", m.Version)
	case !validVersion(m.MinScopeVersion):
		return bad("min_scope_version", "%q is not a version like 1.2.3", m.MinScopeVersion)
	case len(m.Files) == 0:
		return bad("files", "is empty; a bundle names at least one model file")
	}
	seen := map[string]bool{}
	for i, f := range m.Files {
		field := fmt.Sprintf("files[%d]", i)
		p := path.Clean(f.Path)
		switch {
		case f.Path == "" || path.IsAbs(f.Path) || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(f.Path, "\\"):
			return bad(field+".path", "%q must be a relative '/'-separated path inside the bundle", f.Path)
		case seen[p]:
			return bad(field+".path", "%q is listed twice", f.Path)
		case f.Role == "":
			return bad(field+".role", "is empty (slr, slt, pose, ...)")
		case len(f.SHA256) != 64 || !isHex(f.SHA256):
			return bad(field+".sha256", "%q is not 64 hex digits", f.SHA256)
		case f.Bytes <= 0:
			return bad(field+".bytes", "is %d; give the file size", f.Bytes)
		}
		seen[p] = true
	}
	if s := m.SLR; s != nil {
		if err := s.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (s *SLR) validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: field %q: %s", ErrInvalid, "slr."+field, fmt.Sprintf(format, args...))
	}
	f := &s.Features
	switch {
	case len(s.Glosses) < 2:
		return bad("glosses", "has %d entries; need the blank and at least one gloss", len(s.Glosses))
	case s.Blank < 0 || s.Blank >= len(s.Glosses):
		return bad("blank", "%d is outside the %d glosses", s.Blank, len(s.Glosses))
	case s.FrameStride < 1:
		return bad("frame_stride", "is %d; must be >= 1", s.FrameStride)
	case f.Name != "scope-slr-keypoints" || f.Version != 1:
		return bad("features", "spec %q version %d is unknown to this scope (want scope-slr-keypoints 1)", f.Name, f.Version)
	case len(f.Points) == 0:
		return bad("features.points", "is empty")
	case f.Dim != 4*len(f.Points)+2:
		return bad("features.dim", "is %d; %d points give %d", f.Dim, len(f.Points), 4*len(f.Points)+2)
	case len(f.Mean) != f.Dim || len(f.Std) != f.Dim:
		return bad("features.mean/std", "have %d and %d values; want dim %d each", len(f.Mean), len(f.Std), f.Dim)
	case f.RefFPS <= 0:
		return bad("features.ref_fps", "is %g; must be > 0", f.RefFPS)
	case s.Context && s.ContextTokenizer == nil:
		return bad("context_tokenizer", "is missing but context is true")
	}
	for i, p := range f.Points {
		if p < 0 || p >= 543 {
			return bad("features.points", "[%d] = %d is outside the 543-point layout", i, p)
		}
	}
	for _, h := range [][2]int{f.LeftHand, f.RightHand} {
		if h[0] < 0 || h[1] > 543 || h[1] <= h[0] {
			return bad("features.left_hand/right_hand", "range %v is not inside 0..543", h)
		}
	}
	for i, v := range f.Std {
		if !(v > 0) {
			return bad("features.std", "[%d] = %g; must be > 0", i, v)
		}
	}
	if t := s.ContextTokenizer; t != nil {
		switch {
		case t.Type != "words-v1":
			return bad("context_tokenizer.type", "%q is unknown (want words-v1)", t.Type)
		case len(t.Specials) != 4:
			return bad("context_tokenizer.specials", "has %d entries; want pad, unknown, begin, end of turn", len(t.Specials))
		case t.MaxLen < 1:
			return bad("context_tokenizer.max_len", "is %d; must be >= 1", t.MaxLen)
		}
	}
	return nil
}

func validVersion(s string) bool {
	parts := strings.Split(strings.SplitN(s, "-", 2)[0], ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// CompareVersions compares two versions like 1.2.3 (a pre-release suffix is ignored):
// -1, 0 or 1.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(strings.SplitN(a, "-", 2)[0], "."), strings.Split(strings.SplitN(b, "-", 2)[0], ".")
	for i := 0; i < 3; i++ {
		var x, y uint64
		if i < len(pa) {
			x, _ = strconv.ParseUint(pa[i], 10, 32)
		}
		if i < len(pb) {
			y, _ = strconv.ParseUint(pb[i], 10, 32)
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// CheckScopeVersion returns an error when a scope of version have is too old for the bundle.
// A development build ("dev" or empty) is accepted.
func (m *Manifest) CheckScopeVersion(have string) error {
	if have == "" || have == "dev" || !validVersion(strings.TrimPrefix(have, "v")) {
		return nil
	}
	if CompareVersions(strings.TrimPrefix(have, "v"), m.MinScopeVersion) < 0 {
		return fmt.Errorf("bundle %s %s needs scope %s or newer; this is %s", m.Name, m.Version, m.MinScopeVersion, have)
	}
	return nil
}

// Verify checks every file's size and sha256 against the manifest.
func (m *Manifest) Verify() error {
	for i := range m.Files {
		if err := m.VerifyFile(&m.Files[i]); err != nil {
			return err
		}
	}
	return nil
}

// VerifyFile checks one file's size and sha256.
func (m *Manifest) VerifyFile(f *File) error {
	p := m.Path(f)
	fh, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("bundle file %s: %w", p, err)
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return fmt.Errorf("reading bundle file %s: %w", p, err)
	}
	if n != f.Bytes {
		return fmt.Errorf("%w: %s is %d bytes, the manifest says %d", ErrTampered, p, n, f.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: %s has sha256 %s, the manifest says %s", ErrTampered, p, got, f.SHA256)
	}
	return nil
}
