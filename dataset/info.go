package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// InfoName is the name of the optional description file inside a dataset directory.
const InfoName = "info.json"

// Info describes how a dataset was made. Every field is optional; a dataset without
// info.json is still valid.
type Info struct {
	Name      string  `json:"name,omitempty"`
	Generator string  `json:"generator,omitempty"` // e.g. "scope synth v1" or "scope dataset import"
	Synthetic bool    `json:"synthetic"`           // results on it must be labelled synthetic
	Seed      int64   `json:"seed,omitempty"`
	FPS       float64 `json:"fps,omitempty"`
	Width     int     `json:"width,omitempty"` // frame size the keypoints' pixels refer to
	Height    int     `json:"height,omitempty"`
	// Vocabulary is the gloss vocabulary of the generator or annotation, sorted.
	Vocabulary []string `json:"vocabulary,omitempty"`
	// Groups lists the groups of near-identical signs, by name, with their members.
	Groups map[string][]string `json:"groups,omitempty"`
	// Signers maps each split to its signer ids.
	Signers map[string][]string `json:"signers,omitempty"`
	// Domains lists the dialogue settings and their topics.
	Domains map[string][]string `json:"domains,omitempty"`
}

// WriteInfo writes info.json into dir.
func WriteInfo(dir string, in *Info) error {
	b, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, InfoName), err)
	}
	b = append(b, '\n')
	path := filepath.Join(dir, InfoName)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadInfo reads dir/info.json; a missing file gives a zero Info and no error.
func ReadInfo(dir string) (*Info, error) {
	file := filepath.Join(dir, InfoName)
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return &Info{}, nil
	}
	if err != nil {
		return nil, err
	}
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &in, nil
}

// Dataset is an opened dataset directory.
type Dataset struct {
	Dir     string
	Info    *Info
	Entries []Entry
}

// Open reads the manifest (and info.json when present) of the dataset in dir.
func Open(dir string) (*Dataset, error) {
	es, err := ReadManifestFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, err
	}
	in, err := ReadInfo(dir)
	if err != nil {
		return nil, err
	}
	return &Dataset{Dir: dir, Info: in, Entries: es}, nil
}

// ParseSplits turns a --split flag value ("train", "dev,test", "all" or "") into a set;
// an empty result means every split.
func ParseSplits(s string) (map[string]bool, error) {
	out := map[string]bool{}
	if s == "" || s == "all" {
		return out, nil
	}
	for _, x := range splitComma(s) {
		if !validSplit(x) {
			return nil, fmt.Errorf("--split %q: %q is not a split; use train, dev, test, a comma list of them, or all", s, x)
		}
		out[x] = true
	}
	return out, nil
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// Select returns the entries of the given splits (all when splits is empty), keeping
// the manifest's order.
func (d *Dataset) Select(splits map[string]bool) []Entry {
	if len(splits) == 0 {
		return d.Entries
	}
	var out []Entry
	for _, e := range d.Entries {
		if splits[e.Split] {
			out = append(out, e)
		}
	}
	return out
}

// PosePath returns the file path of an entry's .pose file.
func (d *Dataset) PosePath(e *Entry) string {
	return filepath.Join(d.Dir, filepath.FromSlash(e.Pose))
}

// Dialogues groups entries by dialogue, each sorted by turn, in order of first appearance.
func Dialogues(es []Entry) [][]Entry {
	idx := map[string]int{}
	var out [][]Entry
	for _, e := range es {
		i, ok := idx[e.DialogueID]
		if !ok {
			i = len(out)
			idx[e.DialogueID] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], e)
	}
	for _, d := range out {
		sort.SliceStable(d, func(i, j int) bool { return d[i].Turn < d[j].Turn })
	}
	return out
}
