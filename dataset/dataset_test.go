package dataset

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scope/internal/shareddata"
	"scope/models/poseformat"
)

func TestManifestRoundTrip(t *testing.T) {
	es := []Entry{
		{ID: "d1-t00", DialogueID: "d1", Turn: 0, Speaker: SpeakerHearing, SignerID: "s1", Split: SplitTrain, Text: "Hello."},
		{ID: "d1-t01", DialogueID: "d1", Turn: 1, Speaker: SpeakerSigner, SignerID: "s1", Split: SplitTrain, Pose: "pose/a.pose",
			Glosses: []string{"IX-1", "PAIN"}, Text: "I am in pain.", Ambiguous: []int{1}, Groups: []string{"pain/injury"}, Spans: [][2]int{{2, 10}, {12, 20}}, Frames: 25},
		{ID: "d1-t02", DialogueID: "d1", Turn: 2, Speaker: SpeakerSigner, SignerID: "s1", Split: SplitTrain, Pose: "pose/b.pose", Glosses: []string{"HELLO"}, Text: "Hello."},
	}
	var buf bytes.Buffer
	w := NewManifestWriter(&buf)
	for _, e := range es {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if strings.Contains(lines[0], "ambiguous") || strings.Contains(lines[0], "glosses") {
		t.Errorf("hearing turn carries signer keys: %s", lines[0])
	}
	if !strings.Contains(lines[2], `"ambiguous":[]`) {
		t.Errorf("signer turn without ambiguous tokens should say \"ambiguous\":[]: %s", lines[2])
	}
	got, err := ReadManifest(&buf, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Spans[1] != [2]int{12, 20} || got[1].Groups[0] != "pain/injury" || got[1].Frames != 25 {
		t.Errorf("read back %+v", got)
	}
}

func TestManifestErrorsNameLineAndField(t *testing.T) {
	ok := `{"id":"a","dialogue_id":"d","turn":0,"speaker":"signer","signer_id":"s1","split":"train","pose":"p.pose","glosses":["A"],"text":"","ambiguous":[]}`
	cases := []struct{ name, manifest, want string }{
		{"bad split", strings.Replace(ok, `"train"`, `"val"`, 1), `"split"`},
		{"no pose", strings.Replace(ok, `"pose":"p.pose",`, "", 1), `"pose"`},
		{"pose outside", strings.Replace(ok, `p.pose`, `../p.pose`, 1), `"pose"`},
		{"ambiguous index", strings.Replace(ok, `"ambiguous":[]`, `"ambiguous":[3]`, 1), `"ambiguous"`},
		{"unknown key", strings.Replace(ok, `"text":""`, `"txt":""`, 1), `unknown field`},
		{"speaker", strings.Replace(ok, `"signer","signer_id"`, `"deaf","signer_id"`, 1), `"speaker"`},
		{"signer in two splits", ok + "\n" + strings.Replace(strings.Replace(ok, `"id":"a"`, `"id":"b"`, 1), `"d"`, `"e"`, 1)[:0] +
			strings.Replace(strings.Replace(strings.Replace(ok, `"id":"a"`, `"id":"b"`, 1), `"dialogue_id":"d"`, `"dialogue_id":"e"`, 1), `"train"`, `"test"`, 1), "splits are by signer"},
		{"duplicate id", ok + "\n" + strings.Replace(ok, `"turn":0`, `"turn":1`, 1), "appears twice"},
		{"not json", "{", "m:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadManifest(strings.NewReader(c.manifest), "m")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %s", err, c.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestParseSplits(t *testing.T) {
	s, err := ParseSplits("train,dev")
	if err != nil || !s["train"] || !s["dev"] || s["test"] {
		t.Errorf("train,dev -> %v %v", s, err)
	}
	if s, err := ParseSplits("all"); err != nil || len(s) != 0 {
		t.Errorf("all -> %v %v", s, err)
	}
	if _, err := ParseSplits("validation"); err == nil {
		t.Error("validation accepted as a split")
	}
}

// writePose writes a small .pose file of n frames with a moving right hand.
func writePose(t *testing.T, file string, n int) {
	t.Helper()
	pts := make([][poseformat.NumPoints][3]float32, n)
	conf := make([][poseformat.NumPoints]float32, n)
	for f := range pts {
		for i := range pts[f] {
			pts[f][i] = [3]float32{float32(100 + i%50 + f), float32(100 + i/50), 0}
			conf[f][i] = 1
		}
	}
	p, err := poseformat.NewHolistic(640, 480, 25, pts, conf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteFile(file); err != nil {
		t.Fatal(err)
	}
}

func TestImportCSV(t *testing.T) {
	src := t.TempDir()
	writePose(t, filepath.Join(src, "clip1.pose"), 100)
	writePose(t, filepath.Join(src, "clip2.pose"), 50)
	fixture, err := os.ReadFile(filepath.Join("..", "testdata", "synth", "annotations.csv"))
	if err != nil {
		t.Fatal(err)
	}
	csv := string(fixture)
	ann := filepath.Join(src, "ann.csv")
	if err := os.WriteFile(ann, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "ds")
	es, err := Import(context.Background(), ImportOptions{Annotations: ann, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 7 {
		t.Fatalf("%d entries, want 7", len(es))
	}
	d, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	splits := map[string]bool{}
	for _, e := range d.Entries {
		splits[e.Split] = true
		if !e.IsSigner() {
			continue
		}
		turn, err := d.LoadTurn(&e)
		if err != nil {
			t.Fatal(err)
		}
		if e.DialogueID == "dlg1" && len(turn.Points) != 50 {
			t.Errorf("%s: %d frames, want 50 (2 s at 25 fps)", e.ID, len(turn.Points))
		}
	}
	if len(splits) != 3 {
		t.Errorf("4 signers spread over splits %v, want all three", splits)
	}
	// A video without keypoints and without the pose pipeline is refused by name.
	os.WriteFile(filepath.Join(src, "clip3.mp4"), []byte("not a video"), 0o644)
	os.WriteFile(ann, []byte(csv+"clip3.mp4,,,HELLO,Hi.,dlg5,0,ed\n"), 0o644)
	_, err = Import(context.Background(), ImportOptions{Annotations: ann, Out: filepath.Join(t.TempDir(), "ds")})
	if !errors.Is(err, ErrNoPipeline) || !strings.Contains(err.Error(), "clip3") {
		t.Errorf("error %v, want ErrNoPipeline naming clip3", err)
	}
}

func TestImportCSVErrors(t *testing.T) {
	src := t.TempDir()
	cases := []struct{ name, csv, want string }{
		{"missing column", "video,start,end,glosses,text,dialogue_id,turn\n", `"signer_id"`},
		{"no signer", "video,start,end,glosses,text,dialogue_id,turn,signer_id\nx.pose,,,A,a,d,0,\n", "signer_id is empty"},
		{"bad start", "video,start,end,glosses,text,dialogue_id,turn,signer_id\nx.pose,soon,,A,a,d,0,s\n", "ann.csv:2: start"},
		{"missing recording", "video,start,end,glosses,text,dialogue_id,turn,signer_id\nx.mp4,,,A,a,d,0,s\n", "x.mp4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ann := filepath.Join(src, "ann.csv")
			os.WriteFile(ann, []byte(c.csv), 0o644)
			_, err := Import(context.Background(), ImportOptions{Annotations: ann, Out: filepath.Join(t.TempDir(), "ds")})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %s", err, c.want)
			}
		})
	}
}

func TestImportSTM(t *testing.T) {
	src := t.TempDir()
	ids := []string{"01April_2010_Thursday_heute-6694", "01April_2010_Thursday_heute-6695", "02May_2011_Monday_tagesschau-100", "03June_2012_Friday_tagesschau-7"}
	var gl, tx strings.Builder
	for i, id := range ids {
		writePose(t, filepath.Join(src, id+".pose"), 20+i)
		gl.WriteString(id + " 1 Signer0" + string(rune('1'+i)) + " 0.0 1.79769e+308 REGEN MORGEN\n")
		tx.WriteString(id + " 1 Signer0" + string(rune('1'+i)) + " 0.0 1.79769e+308 morgen regnet es\n")
	}
	os.WriteFile(filepath.Join(src, "dev.gloss.stm"), []byte(gl.String()), 0o644)
	os.WriteFile(filepath.Join(src, "dev.text.stm"), []byte(tx.String()), 0o644)
	out := filepath.Join(t.TempDir(), "ds")
	es, err := Import(context.Background(), ImportOptions{Annotations: filepath.Join(src, "dev.gloss.stm"), Text: filepath.Join(src, "dev.text.stm"), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if es[0].DialogueID != "01April_2010_Thursday_heute" || es[0].Turn != 6694 || es[1].Turn != 6695 || es[0].Text != "morgen regnet es" {
		t.Errorf("first entries %+v %+v", es[0], es[1])
	}
	if _, err := Open(out); err != nil {
		t.Fatal(err)
	}
}

// TestImportRealSamples imports the real MediaPipe samples through a CSV, so real
// keypoints travel the same path as synthetic ones.
func TestImportRealSamples(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	csv := "video,start,end,glosses,text,dialogue_id,turn,signer_id\n" +
		"0ff215ef4f1f111e217e2cefee0adc77.pose,,,A B,a b,d1,0,s1\n" +
		"mediapipe.pose,1.0,3.0,C,c,d2,0,s2\n" +
		"84322c38ff23406f222641da30d0a49b.pose,,,D,d,d3,0,s3\n"
	ann := filepath.Join(t.TempDir(), "ann.csv")
	os.WriteFile(ann, []byte(csv), 0o644)
	out := filepath.Join(t.TempDir(), "ds")
	if _, err := Import(context.Background(), ImportOptions{Annotations: ann, Media: dir, Out: out}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range d.Entries {
		tr, err := d.LoadTurn(&e)
		if err != nil {
			t.Fatal(err)
		}
		if e.DialogueID == "d2" && len(tr.Points) != 48 {
			t.Errorf("mediapipe.pose 1-3 s at 24 fps: %d frames, want 48", len(tr.Points))
		}
	}
}

func TestReadVocabulary(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "v.txt")
	os.WriteFile(txt, []byte("# glosses\nA\n\nB\n"), 0o644)
	js := filepath.Join(dir, "v.json")
	os.WriteFile(js, []byte(`{"name":"x","vocabulary":["A","C"]}`), 0o644)
	a, err := ReadVocabulary(txt)
	if err != nil || strings.Join(a, ",") != "A,B" {
		t.Errorf("txt: %v %v", a, err)
	}
	b, err := ReadVocabulary(js)
	if err != nil || strings.Join(b, ",") != "A,C" {
		t.Errorf("json: %v %v", b, err)
	}
	d := &Dataset{Info: &Info{FPS: 30}, Entries: []Entry{
		{ID: "x", DialogueID: "d", Speaker: SpeakerSigner, SignerID: "s", Split: "train", Pose: "p", Glosses: []string{"A", "B", "B", "Z"}, Ambiguous: []int{0}, Frames: 60},
	}}
	st, err := ComputeStats(d, nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if st.OOVTokens != 3 || st.OOVRate() != 0.75 || st.AmbiguousShare() != 0.25 || st.TurnSeconds.Mean != 2 {
		t.Errorf("OOV %d (%.2f), ambiguous %.2f, turn %.2f s", st.OOVTokens, st.OOVRate(), st.AmbiguousShare(), st.TurnSeconds.Mean)
	}
}
