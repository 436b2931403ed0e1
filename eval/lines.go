package eval

import (
	"fmt"
	"os"
	"strings"
)

// ReadLines reads a file of one sentence per line, as the scoring scripts take them: a
// final newline ends the last line rather than starting an empty one, and a carriage return
// before a newline is dropped. Empty lines are kept: they are (empty) sentences.
func ReadLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := string(b)
	if s == "" {
		return nil, nil
	}
	s = strings.TrimSuffix(s, "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines, nil
}

// ReadAligned reads a hypothesis file and reference files that must have one line each per
// sentence, and says which file is off when they do not.
func ReadAligned(hypPath string, refPaths ...string) (hyps []string, refs [][]string, err error) {
	if hyps, err = ReadLines(hypPath); err != nil {
		return nil, nil, err
	}
	for _, p := range refPaths {
		r, err := ReadLines(p)
		if err != nil {
			return nil, nil, err
		}
		if len(r) != len(hyps) {
			return nil, nil, fmt.Errorf("%s has %d lines but %s has %d: hypotheses and references must be line-aligned", p, len(r), hypPath, len(hyps))
		}
		refs = append(refs, r)
	}
	return hyps, refs, nil
}
