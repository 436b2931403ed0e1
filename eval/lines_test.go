package eval

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadAligned(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hyp := write("hyp.txt", "a b\r\n\nc\n")
	ref := write("ref.txt", "a b\nx\nc") // no final newline
	short := write("short.txt", "a b\n")
	hyps, refs, err := ReadAligned(hyp, ref)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hyps, []string{"a b", "", "c"}) || !slices.Equal(refs[0], []string{"a b", "x", "c"}) {
		t.Errorf("hyps %q refs %q", hyps, refs)
	}
	if _, _, err := ReadAligned(hyp, short); err == nil || !strings.Contains(err.Error(), "short.txt") {
		t.Errorf("error %v should name short.txt", err)
	}
}
