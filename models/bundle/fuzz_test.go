package bundle

import (
	"encoding/json"
	"testing"
)

// FuzzParse: no manifest.json makes Parse panic, and one that parses writes back to JSON
// that parses to the same manifest. Seeds: testdata/fuzz/FuzzParse (the demo recogniser's
// manifest, a translator bundle, broken ones).
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		_ = m.CheckScopeVersion("0.1.0")
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("a parsed manifest does not marshal: %v", err)
		}
		m2, err := Parse(out)
		if err != nil {
			t.Fatalf("a manifest written from a parsed one does not parse: %v\n%s", err, out)
		}
		again, _ := json.Marshal(m2)
		if string(again) != string(out) {
			t.Fatalf("round trip changed the manifest:\n%s\n%s", out, again)
		}
	})
}
