package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strings"
	"unicode/utf8"
)

// ManifestName is the name of the manifest inside a dataset directory.
const ManifestName = "manifest.jsonl"

// Speakers of a turn.
const (
	SpeakerSigner  = "signer"
	SpeakerHearing = "hearing"
)

// Splits. A signer belongs to exactly one.
const (
	SplitTrain = "train"
	SplitDev   = "dev"
	SplitTest  = "test"
)

// Splits lists the valid split names in their usual order.
var Splits = []string{SplitTrain, SplitDev, SplitTest}

// ErrInvalid is wrapped by every error about a malformed manifest line.
var ErrInvalid = errors.New("invalid manifest entry")

// Entry is one line of manifest.jsonl: one turn of a dialogue.
//
// Signer turns carry Pose, Glosses and Ambiguous; hearing turns carry only Text. Text is
// the spoken-language sentence: what the hearing person said, or the translation of the
// signer's glosses.
type Entry struct {
	ID         string `json:"id"`          // unique in the dataset, e.g. "d000042-t03"
	DialogueID string `json:"dialogue_id"` // turns of one dialogue share it
	Turn       int    `json:"turn"`        // 0-based position in the dialogue
	Speaker    string `json:"speaker"`     // SpeakerSigner or SpeakerHearing
	SignerID   string `json:"signer_id"`   // who signs; hearing turns carry the signer they talk to
	Split      string `json:"split"`       // train, dev or test; fixed per signer

	Pose    string   `json:"pose,omitempty"`    // path of the .pose file, relative to the dataset directory, '/'-separated
	Glosses []string `json:"glosses,omitempty"` // gloss sequence of a signer turn
	Text    string   `json:"text"`

	// Ambiguous holds the indices into Glosses of tokens whose sign belongs to a group of
	// near-identical signs (minimal pairs/triples) that only the context tells apart.
	// Always present (possibly empty) on signer turns.
	Ambiguous []int `json:"ambiguous"`

	// Optional fields. Importers and the synthetic signer fill what they know.

	// Start and End select the turn's frames inside Pose, in seconds from the file's
	// start; both zero means the whole file.
	Start float64 `json:"start,omitempty"`
	End   float64 `json:"end,omitempty"`
	// Frames is the number of frames of the turn (after Start/End), so readers can sort
	// or bucket turns by length without opening the .pose files.
	Frames int `json:"frames,omitempty"`
	// Spans holds, per gloss, the [first, end) frame range of the sign inside the turn's
	// frames (after Start is applied). Synthetic data has it; real corpora usually not.
	Spans [][2]int `json:"spans,omitempty"`
	// Domain and Topic name the dialogue's setting (e.g. "pharmacy", "pharmacy/dosage").
	// They are ground truth for analysis only: models must take context from the text of
	// the previous turns, never from these fields.
	Domain string `json:"domain,omitempty"`
	Topic  string `json:"topic,omitempty"`
	// Groups holds, parallel to Ambiguous, the name of each ambiguous token's group.
	Groups []string `json:"groups,omitempty"`
}

// IsSigner reports whether e is a signer turn.
func (e *Entry) IsSigner() bool { return e.Speaker == SpeakerSigner }

// Validate checks one entry on its own.
func (e *Entry) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: field %q: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
	}
	switch {
	case e.ID == "":
		return bad("id", "is empty; give every turn a unique id")
	case e.DialogueID == "":
		return bad("dialogue_id", "is empty")
	case e.Turn < 0:
		return bad("turn", "is %d; turns count from 0", e.Turn)
	case e.SignerID == "":
		return bad("signer_id", "is empty; splits are made by signer, so every turn needs one")
	}
	if !validSplit(e.Split) {
		return bad("split", "is %q; use train, dev or test", e.Split)
	}
	switch e.Speaker {
	case SpeakerSigner:
		if e.Pose == "" {
			return bad("pose", "is empty on a signer turn; name the .pose file relative to the dataset directory")
		}
		if len(e.Glosses) == 0 {
			return bad("glosses", "is empty on a signer turn; give the gloss sequence that was signed (a turn without signs is not a signer turn)")
		}
		for i, g := range e.Glosses {
			if g == "" || strings.ContainsAny(g, " \t\n\r") || !utf8.ValidString(g) {
				return bad("glosses", "gloss %d %q must be one non-empty UTF-8 word without spaces", i, g)
			}
		}
		if path.IsAbs(e.Pose) || strings.HasPrefix(path.Clean(e.Pose), "..") {
			return bad("pose", "%q must be relative and inside the dataset directory", e.Pose)
		}
		for _, i := range e.Ambiguous {
			if i < 0 || i >= len(e.Glosses) {
				return bad("ambiguous", "index %d is outside the %d glosses", i, len(e.Glosses))
			}
		}
		if e.Groups != nil && len(e.Groups) != len(e.Ambiguous) {
			return bad("groups", "has %d names for %d ambiguous indices", len(e.Groups), len(e.Ambiguous))
		}
		if e.Spans != nil {
			if len(e.Spans) != len(e.Glosses) {
				return bad("spans", "has %d spans for %d glosses", len(e.Spans), len(e.Glosses))
			}
			for i, s := range e.Spans {
				if s[0] < 0 || s[1] <= s[0] || (i > 0 && s[0] < e.Spans[i-1][1]) {
					return bad("spans", "span %d %v is empty, negative or overlaps the previous one", i, s)
				}
			}
		}
	case SpeakerHearing:
		if e.Pose != "" || len(e.Glosses) > 0 || len(e.Ambiguous) > 0 {
			return bad("speaker", "hearing turns carry only text; pose/glosses/ambiguous belong to signer turns")
		}
	default:
		return bad("speaker", "is %q; use %q or %q", e.Speaker, SpeakerSigner, SpeakerHearing)
	}
	if e.Frames < 0 {
		return bad("frames", "is %d", e.Frames)
	}
	if len(e.Spans) > 0 && e.Frames > 0 && e.Spans[len(e.Spans)-1][1] > e.Frames {
		return bad("spans", "reach frame %d of a %d-frame turn", e.Spans[len(e.Spans)-1][1], e.Frames)
	}
	// Written so that NaN fails: NaN compares false with everything.
	if !(e.Start >= 0 && e.End >= 0 && !math.IsInf(e.Start, 0) && !math.IsInf(e.End, 0) && (e.End == 0 || e.End > e.Start)) {
		return bad("start/end", "%g..%g is not a forward range of seconds", e.Start, e.End)
	}
	if !utf8.ValidString(e.Text) {
		return bad("text", "is not UTF-8")
	}
	return nil
}

func validSplit(s string) bool {
	for _, x := range Splits {
		if s == x {
			return true
		}
	}
	return false
}

// MarshalJSON writes ambiguous as [] on signer turns and leaves it out on hearing turns.
func (e Entry) MarshalJSON() ([]byte, error) {
	type plain Entry
	if e.Speaker == SpeakerSigner {
		if e.Ambiguous == nil {
			e.Ambiguous = []int{}
		}
		return json.Marshal(plain(e))
	}
	type hearing struct {
		plain
		Ambiguous []int `json:"ambiguous,omitempty"`
	}
	return json.Marshal(hearing{plain: plain(e), Ambiguous: e.Ambiguous})
}

// ReadManifest reads manifest.jsonl from r and checks every entry and the dataset-wide
// rules (unique ids, one split per signer). name is used in error messages.
func ReadManifest(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var e Entry
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w: %v", name, line, ErrInvalid, err)
		}
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("%s:%d (id %q): %w", name, line, e.ID, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if err := CheckEntries(out); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// ReadManifestFile reads a manifest.jsonl file.
func ReadManifestFile(file string) ([]Entry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("opening manifest: %w", err)
	}
	defer f.Close()
	return ReadManifest(f, file)
}

// CheckEntries checks the rules that span entries: ids are unique, a signer has one
// split, and a dialogue has no repeated turn number. (A dialogue may have several
// signers: a broadcast with two interpreters, a conversation between two signers.)
func CheckEntries(es []Entry) error {
	ids := make(map[string]bool, len(es))
	split := map[string]string{}
	turns := map[string]map[int]bool{}
	for _, e := range es {
		if ids[e.ID] {
			return fmt.Errorf("%w: id %q appears twice; ids must be unique", ErrInvalid, e.ID)
		}
		ids[e.ID] = true
		if s, ok := split[e.SignerID]; ok && s != e.Split {
			return fmt.Errorf("%w: signer %q is in both %q and %q; splits are by signer, so move all of the signer's dialogues to one split", ErrInvalid, e.SignerID, s, e.Split)
		}
		split[e.SignerID] = e.Split
		if turns[e.DialogueID] == nil {
			turns[e.DialogueID] = map[int]bool{}
		}
		if turns[e.DialogueID][e.Turn] {
			return fmt.Errorf("%w: dialogue %q has turn %d twice", ErrInvalid, e.DialogueID, e.Turn)
		}
		turns[e.DialogueID][e.Turn] = true
	}
	return nil
}

// ManifestWriter writes entries as JSON lines, one per call to Write.
type ManifestWriter struct {
	w   *bufio.Writer
	err error
}

// NewManifestWriter writes to w; call Flush at the end.
func NewManifestWriter(w io.Writer) *ManifestWriter {
	return &ManifestWriter{w: bufio.NewWriter(w)}
}

// Write checks e and appends it as one line.
func (m *ManifestWriter) Write(e Entry) error {
	if m.err != nil {
		return m.err
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("entry %q: %w", e.ID, err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		m.err = err
		return err
	}
	b = append(b, '\n')
	if _, err := m.w.Write(b); err != nil {
		m.err = err
	}
	return m.err
}

// Flush writes buffered lines.
func (m *ManifestWriter) Flush() error {
	if m.err != nil {
		return m.err
	}
	return m.w.Flush()
}
