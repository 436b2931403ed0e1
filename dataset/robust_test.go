package dataset

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scope/models/poseformat"
)

// TestEmptyGlossesAndSpansAreAnErrorNotAPanic: a signer entry with "glosses":[] and
// "spans":[] panicked in Entry.Validate (and so in eval slr and dataset stats).
func TestEmptyGlossesAndSpansAreAnErrorNotAPanic(t *testing.T) {
	line := `{"id":"a","dialogue_id":"d","turn":0,"speaker":"signer","signer_id":"s1","split":"train","pose":"p.pose","glosses":[],"spans":[],"frames":10,"text":"","ambiguous":[]}`
	_, err := ReadManifest(strings.NewReader(line), "manifest.jsonl")
	if err == nil || !strings.Contains(err.Error(), "manifest.jsonl:1") || !strings.Contains(err.Error(), `"glosses"`) {
		t.Fatalf("err = %v, want the file, line and field glosses", err)
	}
	for _, g := range []string{`["A B"]`, `[""]`} {
		bad := strings.Replace(strings.Replace(line, `"glosses":[]`, `"glosses":`+g, 1), `"spans":[],`, "", 1)
		if _, err := ReadManifest(strings.NewReader(bad), "m"); err == nil || !strings.Contains(err.Error(), `"glosses"`) {
			t.Errorf("glosses %s: err = %v", g, err)
		}
	}
	e := Entry{ID: "a", DialogueID: "d", Speaker: SpeakerHearing, SignerID: "s", Split: "train", Text: "x", Start: math.NaN()}
	if err := e.Validate(); err == nil || !strings.Contains(err.Error(), "start/end") {
		t.Errorf("NaN start: %v", err)
	}
}

// writeBadPose writes a Holistic .pose file of n frames at fps, then lets edit spoil it.
func writeBadPose(t *testing.T, file string, n int, fps float32, edit func(f *poseformat.File)) {
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
	p.FPS = fps
	if edit != nil {
		edit(p)
	}
	if err := p.WriteFile(file); err != nil {
		t.Fatal(err)
	}
}

// TestImportRefusesBadInputAndWritesNothing: non-finite times, bad frame rates, empty or
// NaN keypoints, an end past the clip and non-UTF-8 glosses are refused with the file and
// line named, and nothing is left in the output folder that `dataset check` could take
// for a finished dataset.
func TestImportRefusesBadInputAndWritesNothing(t *testing.T) {
	src := t.TempDir()
	writeBadPose(t, filepath.Join(src, "good.pose"), 50, 25, nil)
	writeBadPose(t, filepath.Join(src, "fps0.pose"), 50, 0, nil)
	writeBadPose(t, filepath.Join(src, "fpsneg.pose"), 50, -25, nil)
	writeBadPose(t, filepath.Join(src, "fpsnan.pose"), 50, float32(math.NaN()), nil)
	writeBadPose(t, filepath.Join(src, "fpsinf.pose"), 50, float32(math.Inf(1)), nil)
	writeBadPose(t, filepath.Join(src, "empty.pose"), 0, 25, nil)
	writeBadPose(t, filepath.Join(src, "nan.pose"), 50, 25, func(f *poseformat.File) { f.Data[1234] = float32(math.NaN()) })
	head := "video,start,end,glosses,text,dialogue_id,turn,signer_id\n"
	good := "good.pose,,,A,a,d0,0,s0\n"
	for _, tc := range []struct{ name, row, want string }{
		{"start NaN", "good.pose,NaN,,A,a,d,0,s", "ann.csv:3: start"},
		{"end Inf", "good.pose,0,Inf,A,a,d,0,s", "ann.csv:3: end"},
		{"start negative", "good.pose,-1,,A,a,d,0,s", "ann.csv:3: start"},
		{"fps 0", "fps0.pose,,,A,a,d,0,s", "frame rate 0"},
		{"fps negative", "fpsneg.pose,,,A,a,d,0,s", "frame rate -25"},
		{"fps NaN", "fpsnan.pose,,,A,a,d,0,s", "frame rate NaN"},
		{"fps Inf", "fpsinf.pose,,,A,a,d,0,s", "frame rate +Inf"},
		{"no frames", "empty.pose,,,A,a,d,0,s", "no frames"},
		{"NaN keypoint", "nan.pose,,,A,a,d,0,s", "coordinate 1234 is NaN"},
		{"end past the clip", "good.pose,0.5,9.5,A,a,d,0,s", "end 9.50 s is past the end of good.pose (2.00 s"},
		{"non-UTF-8 gloss", "good.pose,,,GR\xdc\xdfE,a,d,0,s", `"glosses"`},
		{"non-UTF-8 text", "good.pose,,,A,gr\xfc\xdfe,d,0,s", `"text"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ann := filepath.Join(src, "ann.csv")
			os.WriteFile(ann, []byte(head+good+tc.row+"\n"), 0o644)
			out := filepath.Join(t.TempDir(), "ds")
			_, err := Import(context.Background(), ImportOptions{Annotations: ann, Out: out})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ann) {
				t.Fatalf("err = %v, want the file and %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(out, ManifestName)); err == nil {
				t.Errorf("a manifest was written for a failed import")
			}
			if _, err := Open(out); err == nil {
				t.Errorf("the output of a failed import opens as a dataset")
			}
		})
	}
	// stm: non-finite times.
	stm := filepath.Join(src, "x.stm")
	os.WriteFile(stm, []byte("good 1 s1 NaN 1.0 A\n"), 0o644)
	if _, err := Import(context.Background(), ImportOptions{Annotations: stm, Out: filepath.Join(t.TempDir(), "ds")}); err == nil || !strings.Contains(err.Error(), "x.stm:1") {
		t.Errorf("stm NaN start: %v", err)
	}
	// The good row alone imports, and its keypoints are the owner's only.
	ann := filepath.Join(src, "ann.csv")
	os.WriteFile(ann, []byte(head+good), 0o644)
	out := filepath.Join(t.TempDir(), "ds")
	if _, err := Import(context.Background(), ImportOptions{Annotations: ann, Out: out}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(out, "pose", "good.pose"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("imported .pose: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
}
