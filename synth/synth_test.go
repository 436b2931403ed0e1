package synth

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"scope/dataset"
	"scope/models/poseformat"
)

func writeCorpus(t *testing.T, cfg Config) string {
	t.Helper()
	g, err := NewGenerator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := g.Write(context.Background(), dir, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestSmoke(t *testing.T) {
	dir := writeCorpus(t, Config{Dialogues: 3, Seed: 7})
	b, _ := os.ReadFile(filepath.Join(dir, "manifest.jsonl"))
	t.Logf("%s", b)
	ds, err := dataset.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ds.Entries {
		if !e.IsSigner() {
			continue
		}
		f, err := poseformat.ReadFile(ds.PosePath(&e))
		if err != nil {
			t.Fatal(err)
		}
		fr, conf, pres, _, err := f.Holistic(0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := range pres {
			if pres[i][poseformat.PartRightHand] {
				n++
			}
		}
		t.Logf("%s frames %d right present %d f0 nose %v conf %v rh %v", e.ID, len(fr), n, fr[len(fr)/2][0], conf[len(fr)/2][0], fr[len(fr)/2][poseformat.RightHandOffset:poseformat.RightHandOffset+2])
	}
	_ = bytes.Equal
}
