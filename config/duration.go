package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as Go writes durations ("90s", "2h30m") or in
// days ("30d").
type Duration time.Duration

// maxDays is the longest duration a Duration holds (time.Duration's 292 years).
const maxDays = math.MaxInt64 / int64(24*time.Hour)

// ParseDuration parses "30d", "12h", "1h30m", "500ms". NaN, infinities and durations
// past time.Duration's range (about 106751d) are errors, not wrapped-around values.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, fmt.Errorf("bad duration %q: want for example 30d, 12h or 90s", s)
		}
		if math.Abs(n) > float64(maxDays) {
			return 0, fmt.Errorf("duration %q is too long: at most %dd", s, maxDays)
		}
		return Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want for example 30d, 12h or 90s (at most %dd)", s, maxDays)
	}
	return Duration(d), nil
}

func (d Duration) String() string {
	t := time.Duration(d)
	if t != 0 && t%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", t/(24*time.Hour))
	}
	return t.String()
}

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads text durations. The caller names the line and the key.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
