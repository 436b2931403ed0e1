package slr

import (
	"fmt"
	"math"
	"path/filepath"

	"scope/internal/assets"
	"scope/models/bundle"
	"scope/models/poseformat"
)

// ReadPose reads person 0 of a .pose file as frames, keeping the frames of [start, end)
// seconds (both 0: all), as the dataset format selects a turn inside a file.
func ReadPose(path string, start, end float64) ([]Frame, float64, error) {
	f, err := poseformat.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	pts, conf, _, _, err := f.Holistic(0)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	fps := float64(f.FPS)
	if !(fps > 0) {
		return nil, 0, fmt.Errorf("%s: frame rate %g in the header; a .pose for recognition needs fps > 0", path, fps)
	}
	a, b := 0, len(pts)
	if start != 0 || end != 0 {
		a = min(len(pts), max(0, int(math.Floor(start*fps+0.5))))
		if end != 0 {
			b = min(len(pts), max(a, int(math.Floor(end*fps+0.5))))
		}
	}
	frames := make([]Frame, b-a)
	for i := range frames {
		frames[i].Points = pts[a+i]
		frames[i].Conf = conf[a+i]
	}
	return frames, fps, nil
}

// DefaultBundleDir finds the project's demo recogniser bundle, models/demo/slr, in the
// source tree that holds the running binary or the current directory.
func DefaultBundleDir() (string, error) {
	d, err := assets.Find(filepath.Join("models", "demo", "slr", bundle.ManifestName))
	if err != nil {
		return "", fmt.Errorf("demo recogniser bundle: %w; pass --model DIR or set slr.bundle", err)
	}
	return filepath.Dir(d), nil
}
