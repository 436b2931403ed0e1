package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"scope/models/slt/gguf"
	"scope/models/slt/tinyllama"
)

func TestBroadcastContext(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	trainIDs := write("train.ids", "d1_show-1\nd1_show-3\nd2_show-1\n")
	trainDE := write("train.de", "eins .\ndrei .\nanderer tag .\n")
	devIDs := write("dev.ids", "d1_show-2\nd1_show-4\n")
	devDE := write("dev.de", "zwei .\nvier .\n")
	b, err := loadBroadcasts([]string{trainIDs, devIDs}, []string{trainDE, devDE})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id    string
		turns int
		want  []string
	}{
		{"d1_show-4", 2, []string{"zwei .", "drei ."}},
		{"d1_show-4", 9, []string{"eins .", "zwei .", "drei ."}},
		{"d1_show-1", 3, []string{}},
		{"d2_show-1", 1, []string{}},
		{"d1_show-3", 1, []string{"zwei ."}},
	} {
		got, err := b.before(tc.id, tc.turns)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("before(%s, %d) = %q, %v; want %q", tc.id, tc.turns, got, err, tc.want)
		}
	}
	if _, err := b.before("no-number-here", 1); err == nil {
		t.Error("a malformed id was accepted")
	}
	if _, err := loadBroadcasts([]string{trainIDs}, []string{devDE}); err == nil {
		t.Error("id and text files of different lengths were accepted")
	}
}

func TestEvalSLTRuns(t *testing.T) {
	dir := t.TempDir()
	m, err := tinyllama.New(tinyllama.Default())
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "tiny.gguf")
	if err := m.WriteGGUF(model, gguf.F16); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"g": "REGEN NORD\n0.9 SONNE ||| 0.1 SONNE SUED\n",
		"r": "im norden regen .\nim süden sonne .\n",
		"i": "d_s-2\nd_s-3\n",
		"d": "guten abend .\n",
		"c": "d_s-1\n",
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := func(k string) string { return filepath.Join(dir, k) }
	out, _, err := run(t, "eval", "slt", "--model", model, "--glosses", p("g"), "--refs", p("r"), "--ids", p("i"),
		"--context-ids", p("c")+","+p("i"), "--context-de", p("d")+","+p("r"), "--context-turns", "2", "--max-tokens", "8", "--format", "plain", "--out", p("hyps"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"BLEU-4", "ROUGE-L", "chrF", "synthetic", "2 sentences"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(p("hyps")); err != nil || strings.Count(string(b), "\n") != 2 {
		t.Errorf("--out file: %q, %v", b, err)
	}
	if _, _, err := run(t, "eval", "slt", "--model", model, "--glosses", p("g"), "--refs", p("d")); err == nil {
		t.Error("files of different lengths were accepted")
	}
	for _, bad := range [][]string{{"--max-tokens", "0"}, {"--max-tokens", "-5"}, {"--beam", "0"}, {"--threads", "100000"}, {"--lora-scale", "NaN"}, {"--context-turns", "-1"}} {
		args := append([]string{"eval", "slt", "--model", model, "--glosses", p("g"), "--refs", p("r")}, bad...)
		if _, _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%v: err = %v, want a usage error naming the flag", bad, err)
		}
	}
	// A byte-order mark in the references is not part of the first word.
	os.WriteFile(p("rb"), append([]byte("\ufeff"), files["r"]...), 0o644)
	withBOM, _, err := run(t, "eval", "slt", "--model", model, "--glosses", p("g"), "--refs", p("rb"), "--max-tokens", "8", "--format", "plain")
	if err != nil {
		t.Fatal(err)
	}
	without, _, _ := run(t, "eval", "slt", "--model", model, "--glosses", p("g"), "--refs", p("r"), "--max-tokens", "8", "--format", "plain")
	bleuLine := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "BLEU-1") {
				return l
			}
		}
		return ""
	}
	if bleuLine(withBOM) == "" || bleuLine(withBOM) != bleuLine(without) {
		t.Errorf("BLEU with a byte-order mark %q, without %q", bleuLine(withBOM), bleuLine(without))
	}
}
