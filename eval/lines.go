package eval

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// ReadLines reads a file of one sentence per line, as the scoring scripts take them: a
// final newline ends the last line rather than starting an empty one, a carriage return
// before a newline is dropped, and so is a UTF-8 byte-order mark at the start (editors on
// Windows write one; left in, it glues itself to the first word and costs BLEU). Empty
// lines are kept: they are (empty) sentences. A line that is not UTF-8 is an error that
// names the file and the line.
func ReadLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimPrefix(string(b), "\ufeff")
	if s == "" {
		return nil, nil
	}
	s = strings.TrimSuffix(s, "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
		if !utf8.ValidString(lines[i]) {
			return nil, fmt.Errorf("%s line %d is not UTF-8 text (convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8)", path, i+1)
		}
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
