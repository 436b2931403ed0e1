package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scope/dataset"
	"scope/models/poseformat"
)

func TestSynthThenDatasetTools(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "corpus")
	out := mustRun(t, "synth", "--out", dir, "--dialogues", "4", "--seed", "9")
	if !strings.Contains(out, "synthetic") || !strings.Contains(out, "4 dialogues") {
		t.Errorf("synth printed %q", out)
	}
	// An existing corpus is not overwritten by accident.
	var o, e bytes.Buffer
	if err := runMain(context.Background(), []string{"synth", "--out", dir, "--dialogues", "1"}, &o, &e); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("writing into a full directory: %v, want an error suggesting --force", err)
	}
	vocab := filepath.Join(t.TempDir(), "vocab.txt")
	os.WriteFile(vocab, []byte("IX-1\nHELLO\n"), 0o644)
	stats := mustRun(t, "dataset", "stats", dir, "--split", "train", "--vocab", vocab)
	for _, want := range []string{"(synthetic)", "split train", "out of vocabulary against the model's 2 glosses", "ambiguous"} {
		if !strings.Contains(stats, want) {
			t.Errorf("stats lack %q:\n%s", want, stats)
		}
	}
	if check := mustRun(t, "dataset", "check", dir); !strings.Contains(check, "all readable") {
		t.Errorf("check printed %q", check)
	}
}

// TestDatasetImportRunsVideosThroughThePosePipeline imports a recording that is not a
// .pose file (a still image of a person, the shortest "video" capture reads), so its
// keypoints come from the Holistic pipeline.
func TestDatasetImportRunsVideosThroughThePosePipeline(t *testing.T) {
	img := "/usr/share/doc/opencv-doc/examples/data/messi5.jpg"
	b, err := os.ReadFile(img)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing: apt-get install opencv-doc", img)
		}
		t.Skipf("%s missing (apt-get install opencv-doc)", img)
	}
	media := t.TempDir()
	os.WriteFile(filepath.Join(media, "player.jpg"), b, 0o644)
	csv := "video,start,end,glosses,text,dialogue_id,turn,signer_id\n" +
		"player.jpg,,,HELLO,Hello.,d1,0,s1\n" +
		",,,,Hi there.,d1,1,s1\n"
	ann := filepath.Join(media, "ann.csv")
	os.WriteFile(ann, []byte(csv), 0o644)
	out := filepath.Join(t.TempDir(), "ds")
	mustRun(t, "dataset", "import", "--annotations", ann, "--out", out)
	d, err := dataset.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	turn, err := d.LoadTurn(&d.Entries[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(turn.Points) != 1 || !turn.Present[0][poseformat.PartPose] {
		t.Errorf("%d frames, pose present %v; want the one frame with the player's pose", len(turn.Points), turn.Present)
	}
}

// Progress written to a log or a pipe comes as plain lines, not carriage returns that pile up
// into one line, and still says when the job is done.
func TestProgressBarToAFileWritesLines(t *testing.T) {
	var buf bytes.Buffer
	bar := newProgressBar(&buf, "dialogues")
	for i := 0; i <= 500; i++ {
		bar.update(i, 500)
	}
	bar.finish()
	out := buf.String()
	if strings.Contains(out, "\r") {
		t.Fatalf("carriage return in progress written to a buffer: %q", out)
	}
	if !strings.HasPrefix(out, "500/500 dialogues") || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("want one final line \"500/500 dialogues ...\" for a fast job, got %q", out)
	}
}
