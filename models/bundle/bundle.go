// Package bundle reads and checks model bundles. A bundle is a folder (OTA moves it whole)
// with manifest.json beside every model file the device runs:
//
//	{
//	  "format": "scope-bundle/1.1",        // this schema; readers refuse other majors
//	  "name": "scope-demo",                // what the bundle is
//	  "version": "0.3.0",                  // the bundle's own version (semver), never lowered by OTA
//	  "min_scope_version": "0.1.0",        // oldest scope release that can run it; Load refuses older
//	  "files": [{                          // every file, path relative to the folder
//	    "role": "slr", "path": "slr/slr.onnx", "precision": "fp32",
//	    "sha256": "...", "bytes": 1234,
//	    "inputs":  [{"name": "features", "type": "float32", "shape": [1, "frames", 270]}],
//	    "outputs": [{"name": "log_probs", "type": "float32", "shape": [1, "steps", 311]}]
//	  }, ...],
//	  "pose":   {...},                     // the Holistic ONNX set (see Pose)
//	  "slr":    {...},                     // the recogniser (see SLR)
//	  "slt":    {...},                     // the translator and its LoRA adapters (see SLT)
//	  "golden": {...}                      // golden inputs and what users saw (see Golden)
//	}
//
// Roles: "pose" (one ONNX file per Holistic model, in Pose.Dir), "slr" (one per precision:
// fp32, int8), "slt" (the GGUF language model), "slt-adapter" (a GGUF LoRA adapter, named
// by SLT.Adapters), "golden" (golden inputs and expected.json). A bundle may carry a subset
// (the demo recogniser folder models/demo/slr is a bundle with only "slr"); a device refuses
// an update that drops a role it runs.
//
// Shapes hold numbers for fixed sizes and names for sizes that vary. Load reads the
// manifest and checks it (including min_scope_version against this scope's release); Verify
// also checks every file's size and sha256. Hash is the sha256 of manifest.json as stored:
// since the manifest holds every file's sha256, it names the bundle's whole content, and
// every stored turn records it.
//
// # Extending the manifest
//
// The format is extensible without breaking older readers:
//
//   - A new section (for example the confidence gate's thresholds, "gate": {...}) is a new
//     top-level key. Readers that do not know it keep it in Other and write it back
//     unchanged; code that knows it reads it with Section and writes it with SetSection, or
//     adds a typed field here (add its key to knownSections and validate it in Validate).
//   - A new kind of file (for example a gloss-to-word lexicon, role "lexicon") is a new
//     role in files: Verify hashes every file whatever its role, OTA moves it, and
//     FileFor(role, "") finds it. `scope bundle build` copies every file and every section
//     of the recogniser bundle it starts from, so a role or section added there travels.
//   - Changing the meaning of an existing field needs a new major format ("scope-bundle/2"),
//     which older readers refuse with a clear error; adding fields is a minor revision
//     ("scope-bundle/1.2"), which they accept.
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
	"sort"
	"strconv"
	"strings"

	"scope/internal/release"
)

// ManifestName is the manifest's file name inside a bundle folder.
const ManifestName = "manifest.json"

// Format is the schema major this package reads; it writes FormatRevision.
const Format = "scope-bundle/1"

// FormatRevision is what this package writes: revision 1 adds the pose, slt and golden
// sections to Format.
const FormatRevision = "scope-bundle/1.1"

// Roles of bundle files.
const (
	RolePose       = "pose"
	RoleSLR        = "slr"
	RoleSLT        = "slt"
	RoleSLTAdapter = "slt-adapter"
	RoleGolden     = "golden"
)

// knownSections are the top-level keys Manifest models; the rest go to Other.
var knownSections = []string{"format", "name", "version", "min_scope_version", "files", "pose", "slr", "slt", "golden"}

// ErrTooNew is wrapped when a bundle needs a newer scope release than this one.
var ErrTooNew = errors.New("bundle needs a newer scope")

// ErrInvalid is wrapped by every error about a malformed manifest.
var ErrInvalid = errors.New("invalid bundle manifest")

// ErrTampered is wrapped when a file's size or sha256 differs from the manifest.
var ErrTampered = errors.New("bundle file does not match its manifest")

// Manifest is manifest.json.
type Manifest struct {
	Format          string  `json:"format"`
	Name            string  `json:"name"`
	Version         string  `json:"version"`
	MinScopeVersion string  `json:"min_scope_version"`
	Files           []File  `json:"files"`
	Pose            *Pose   `json:"pose,omitempty"`
	SLR             *SLR    `json:"slr,omitempty"`
	SLT             *SLT    `json:"slt,omitempty"`
	Golden          *Golden `json:"golden,omitempty"`
	// Other holds sections this package does not model, written back unchanged.
	Other map[string]json.RawMessage `json:"-"`

	dir  string
	hash string
}

// Pose is the Holistic keypoint models' section: which of the bundle's pose files the
// pipeline runs. Dir holds one <model name>.onnx per model (models/pose names them).
type Pose struct {
	Dir        string `json:"dir"`        // folder inside the bundle, "pose"
	Complexity string `json:"complexity"` // pose landmark model: lite, full or heavy
	HandModel  string `json:"hand_model"` // full or lite
}

// SLT is the translator's section. The model is the bundle's one "slt" file.
type SLT struct {
	// Adapters maps a domain (reception, pharmacy, ...) to the path of its LoRA adapter,
	// a file with role slt-adapter.
	Adapters map[string]string `json:"adapters,omitempty"`
	// Format is the prompt format: "" (the model's chat template when it has one), "plain"
	// or "chat".
	Format string `json:"format,omitempty"`
}

// Golden names the golden file: the inputs and what users saw when the bundle was built
// (models/bundle/modelset records and checks them).
type Golden struct {
	Expected string `json:"expected"` // path of a file with role golden, "golden/expected.json"
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
	if err := m.CheckScopeVersion(release.Version); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m.dir = dir
	sum := sha256.Sum256(b)
	m.hash = hex.EncodeToString(sum[:])
	return m, nil
}

// Hash is the sha256 (hex) of manifest.json as it was read, which names the bundle's whole
// content; "" for a manifest that was not read from a file.
func (m *Manifest) Hash() string { return m.hash }

// ShortHash is the first 12 hex digits of Hash, for people.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Roles lists the roles of the bundle's files, sorted, each once.
func (m *Manifest) Roles() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range m.Files {
		if !seen[f.Role] {
			seen[f.Role] = true
			out = append(out, f.Role)
		}
	}
	sort.Strings(out)
	return out
}

// HasRole reports whether the bundle has a file of role.
func (m *Manifest) HasRole(role string) bool {
	for _, f := range m.Files {
		if f.Role == role {
			return true
		}
	}
	return false
}

// Section decodes the unmodelled top-level section name into v; it reports false when the
// manifest has no such section.
func (m *Manifest) Section(name string, v any) (bool, error) {
	raw, ok := m.Other[name]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("%w: section %q: %v", ErrInvalid, name, err)
	}
	return true, nil
}

// SetSection stores v as the top-level section name (one this package does not model).
func (m *Manifest) SetSection(name string, v any) error {
	for _, k := range knownSections {
		if k == name {
			return fmt.Errorf("bundle: %q is a modelled section; set the field instead", name)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if m.Other == nil {
		m.Other = map[string]json.RawMessage{}
	}
	m.Other[name] = b
	return nil
}

// SetDir makes m's file paths relative to dir (for a manifest built in memory).
func (m *Manifest) SetDir(dir string) { m.dir = dir }

// TranslatorFiles returns the paths of the translator model and of its adapters by domain.
func (m *Manifest) TranslatorFiles() (string, map[string]string, error) {
	f, err := m.FileFor(RoleSLT, "")
	if err != nil {
		return "", nil, err
	}
	ad := map[string]string{}
	if m.SLT != nil {
		for d, p := range m.SLT.Adapters {
			ad[d] = filepath.Join(m.dir, filepath.FromSlash(p))
		}
	}
	return m.Path(f), ad, nil
}

// PoseDir returns the folder of the pose models and the models' settings.
func (m *Manifest) PoseDir() (string, *Pose, error) {
	if m.Pose == nil || !m.HasRole(RolePose) {
		return "", nil, fmt.Errorf("bundle %s has no pose models", m.dir)
	}
	return filepath.Join(m.dir, filepath.FromSlash(m.Pose.Dir)), m.Pose, nil
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
	for _, k := range knownSections {
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
	role := map[string]string{}
	for _, f := range m.Files {
		role[path.Clean(f.Path)] = f.Role
	}
	if p := m.Pose; p != nil {
		switch {
		case p.Dir == "" || path.IsAbs(p.Dir) || strings.HasPrefix(path.Clean(p.Dir), ".."):
			return bad("pose.dir", "%q must be a folder inside the bundle", p.Dir)
		case p.Complexity != "lite" && p.Complexity != "full" && p.Complexity != "heavy":
			return bad("pose.complexity", "%q: want lite, full or heavy", p.Complexity)
		case p.HandModel != "full" && p.HandModel != "lite":
			return bad("pose.hand_model", "%q: want full or lite", p.HandModel)
		case !m.HasRole(RolePose):
			return bad("pose", "is set but no file has role %q", RolePose)
		}
	} else if m.HasRole(RolePose) {
		return bad("pose", "is missing but files have role %q", RolePose)
	}
	nslt := 0
	for _, f := range m.Files {
		if f.Role == RoleSLT {
			nslt++
		}
	}
	if nslt > 1 {
		return bad("files", "has %d files with role %q; a bundle has one translator model", nslt, RoleSLT)
	}
	if s := m.SLT; s != nil {
		for d, p := range s.Adapters {
			if d == "" {
				return bad("slt.adapters", "has an adapter without a domain name")
			}
			if role[path.Clean(p)] != RoleSLTAdapter {
				return bad("slt.adapters."+d, "%q is not a file of the bundle with role %q", p, RoleSLTAdapter)
			}
		}
		if nslt == 0 {
			return bad("slt", "is set but no file has role %q", RoleSLT)
		}
		switch s.Format {
		case "", "plain", "chat":
		default:
			return bad("slt.format", "%q: want plain, chat or empty", s.Format)
		}
	}
	if g := m.Golden; g != nil && role[path.Clean(g.Expected)] != RoleGolden {
		return bad("golden.expected", "%q is not a file of the bundle with role %q", g.Expected, RoleGolden)
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
	case f.Name != "scope-slr-keypoints" || f.Version < 1 || f.Version > 2:
		return bad("features", "spec %q version %d is unknown to this scope (want scope-slr-keypoints 1 or 2)", f.Name, f.Version)
	case len(f.Points) == 0:
		return bad("features.points", "is empty")
	case f.Dim != featureDim(len(f.Points), f.Version):
		return bad("features.dim", "is %d; %d points give %d in version %d", f.Dim, len(f.Points), featureDim(len(f.Points), f.Version), f.Version)
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

// ValidVersion reports whether s is a version like 1.2.3 (a "-suffix" is allowed).
func ValidVersion(s string) bool { return validVersion(s) }

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
		return fmt.Errorf("%w: bundle %s %s needs scope %s or newer (min_scope_version); this is %s: update scope first",
			ErrTooNew, m.Name, m.Version, m.MinScopeVersion, have)
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

// featureDim is the feature size of p points: positions and velocities (x, y) and two hand
// flags; version 2 adds each hand's shape (20 points x 2 per hand, models/slr/features.go).
func featureDim(p, version int) int {
	if version >= 2 {
		return 4*p + 2 + 80
	}
	return 4*p + 2
}
