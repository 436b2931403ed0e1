package synth

import (
	"math"
	"path/filepath"
	"sort"
	"testing"

	"scope/internal/shareddata"
	"scope/models/poseformat"
)

func TestMeasureSamples(t *testing.T) {
	dir := shareddata.Dir(t, "pose-samples")
	files, _ := filepath.Glob(filepath.Join(dir, "*.pose"))
	bones := [][2]int{{0, 9}, {0, 5}, {0, 17}, {5, 6}, {6, 7}, {7, 8}, {9, 10}, {10, 11}, {11, 12}, {13, 14}, {17, 18}, {1, 2}, {2, 3}, {3, 4}, {5, 17}, {0, 1}}
	for _, f := range files {
		pf, err := poseformat.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fr, conf, pres, _, err := pf.Holistic(0)
		if err != nil {
			t.Log(f, err)
			continue
		}
		ratios := make([][]float64, len(bones))
		var zs, fconf, hconf, pconf []float64
		pip := []float64{}
		for i := range fr {
			for _, off := range []int{poseformat.LeftHandOffset, poseformat.RightHandOffset} {
				part := poseformat.PartLeftHand
				if off == poseformat.RightHandOffset {
					part = poseformat.PartRightHand
				}
				if !pres[i][part] {
					continue
				}
				p := func(k int) vec {
					q := fr[i][off+k]
					return vec{float64(q[0]), float64(q[1]), float64(q[2])}
				}
				ref := p(9).sub(p(0)).norm()
				for b, bb := range bones {
					ratios[b] = append(ratios[b], p(bb[1]).sub(p(bb[0])).norm()/ref)
				}
				zs = append(zs, float64(fr[i][off+8][2]))
				hconf = append(hconf, float64(conf[i][off+8]))
				a := p(10).sub(p(9)).unit()
				c := p(11).sub(p(10)).unit()
				pip = append(pip, math.Acos(math.Max(-1, math.Min(1, a.dot(c))))*180/math.Pi)
			}
			fconf = append(fconf, float64(conf[i][poseformat.FaceOffset+1]))
			pconf = append(pconf, float64(conf[i][11]), float64(conf[i][15]), float64(conf[i][25]))
		}
		q := func(xs []float64) [3]float64 {
			if len(xs) == 0 {
				return [3]float64{}
			}
			s := append([]float64(nil), xs...)
			sort.Float64s(s)
			return [3]float64{s[len(s)/10], s[len(s)/2], s[len(s)*9/10]}
		}
		t.Logf("%s %dx%d frames %d", filepath.Base(f), pf.Dimensions.Width, pf.Dimensions.Height, len(fr))
		for b, bb := range bones {
			t.Logf("  bone %v ratio %.3f", bb, q(ratios[b]))
		}
		t.Logf("  tip z %.1f handconf %.2f faceconf %.2f poseconf %.3f middle-PIP %.0f", q(zs), q(hconf), q(fconf), q(pconf), q(pip))
		if len(fr) > 0 {
			t.Logf("  frame0 pose0 %v face1 %v lsh %v rsh %v lw %v hip %v", fr[0][0], fr[0][34], fr[0][11], fr[0][12], fr[0][15], fr[0][23])
			for i := range fr {
				if pres[i][poseformat.PartRightHand] {
					t.Logf("  right hand frame %d wrist %v tip %v pose wrist %v conf %v", i, fr[i][poseformat.RightHandOffset], fr[i][poseformat.RightHandOffset+12], fr[i][16], conf[i][16])
					break
				}
			}
		}
	}
}
