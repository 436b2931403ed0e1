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

func TestReadLinesStripsTheByteOrderMarkAndRefusesOtherEncodings(t *testing.T) {
	dir := t.TempDir()
	bom := filepath.Join(dir, "bom.txt")
	os.WriteFile(bom, []byte("\ufeffder regen fällt heute im norden .\r\ndie sonne scheint im süden .\r\n"), 0o644)
	got, err := ReadLines(bom)
	if err != nil || len(got) != 2 || got[0] != "der regen fällt heute im norden ." || got[1] != "die sonne scheint im süden ." {
		t.Fatalf("ReadLines = %q, %v", got, err)
	}
	// The mark would glue itself to the first word: with it stripped the first
	// sentence scores as the same sentence without one.
	plain := filepath.Join(dir, "plain.txt")
	os.WriteFile(plain, []byte("der regen fällt heute im norden .\ndie sonne scheint im süden .\n"), 0o644)
	h, _ := ReadLines(bom)
	r, _ := ReadLines(plain)
	if b, err := CorpusBLEU(h, [][]string{r}, BLEUOptions{}); err != nil || b.Score < 99.99 {
		t.Fatalf("BLEU of a file against itself without its mark = %v, %v", b.Score, err)
	}
	latin1 := filepath.Join(dir, "latin1.txt")
	os.WriteFile(latin1, []byte("gr\xfc\xdfe\n"), 0o644)
	if _, err := ReadLines(latin1); err == nil || !strings.Contains(err.Error(), latin1) || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("latin-1 file: %v", err)
	}
}
