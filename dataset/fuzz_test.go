package dataset

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzReadManifest: no manifest.jsonl makes the reader panic (glosses [] with spans []
// did), and entries that are read write back and read again as the same entries.
// Seeds: testdata/fuzz/FuzzReadManifest.
func FuzzReadManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ReadManifest(bytes.NewReader(b), "manifest.jsonl")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		w := NewManifestWriter(&buf)
		for _, e := range es {
			if err := w.Write(e); err != nil {
				t.Fatalf("an entry that was read does not write: %v", err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		back, err := ReadManifest(bytes.NewReader(buf.Bytes()), "again")
		if err != nil {
			t.Fatalf("written entries do not read back: %v\n%s", err, buf.Bytes())
		}
		if len(back) != len(es) {
			t.Fatalf("%d entries read back, %d written", len(back), len(es))
		}
		for i := range es {
			a, b := es[i], back[i]
			// nil and empty optional slices are the same entry.
			if len(a.Groups) == 0 {
				a.Groups, b.Groups = nil, nil
			}
			if len(a.Spans) == 0 {
				a.Spans, b.Spans = nil, nil
			}
			if len(a.Ambiguous) == 0 {
				a.Ambiguous, b.Ambiguous = nil, nil
			}
			if len(a.Glosses) == 0 {
				a.Glosses, b.Glosses = nil, nil
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("entry %d changed:\n%+v\n%+v", i, a, b)
			}
		}
	})
}

// FuzzAnnotations: no CSV or stm annotation file makes the importers' readers panic, and
// every row they accept has finite, forward times and a signer. Seeds:
// testdata/fuzz/FuzzAnnotations (the CSV layout of testdata/synth, Phoenix-style stm).
func FuzzAnnotations(f *testing.F) {
	f.Fuzz(func(t *testing.T, csv, stm, text []byte) {
		dir := t.TempDir()
		write := func(name string, b []byte) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		check := func(rows []row) {
			for _, r := range rows {
				for _, v := range []float64{r.start, r.end} {
					if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
						t.Fatalf("line %d: time %v accepted", r.line, v)
					}
				}
				if r.signer == "" {
					t.Fatalf("line %d: a row without a signer accepted", r.line)
				}
			}
		}
		if rows, err := readCSV(write("a.csv", csv)); err == nil {
			check(rows)
		}
		if rows, err := readSTM(write("a.stm", stm), write("t.stm", text)); err == nil {
			check(rows)
		}
	})
}
