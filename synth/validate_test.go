package synth

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestConfigRefusesNonFiniteNumbers: NaN passed every bound written as "x < lo || x > hi"
// (--fps NaN failed only when info.json was written, after the corpus; --bias NaN and
// --ambiguous-share NaN wrote a corpus). Each is refused before anything is written,
// naming the field.
func TestConfigRefusesNonFiniteNumbers(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, c := range []struct {
		field string
		edit  func(*Config)
	}{
		{"fps", func(c *Config) { c.FPS = nan }},
		{"fps", func(c *Config) { c.FPS = inf }},
		{"ambiguous share", func(c *Config) { c.AmbiguousShare = nan }},
		{"bias", func(c *Config) { c.Bias = nan }},
		{"bias", func(c *Config) { c.Bias = inf }},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		_, err := NewGenerator(cfg)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v, want ErrConfig naming %q", c.field, err, c.field)
		}
	}
	if _, err := NewGenerator(DefaultConfig()); err != nil {
		t.Fatalf("default configuration: %v", err)
	}
}
