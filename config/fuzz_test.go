package config

import (
	"reflect"
	"testing"
)

// FuzzConfig: no YAML file and no SCOPE_* variable makes loading panic, and a
// configuration that validates prints (secrets hidden aside) to YAML that loads back the
// same and validates again. Seeds: testdata/fuzz/FuzzConfig (the printed defaults, a
// kiosk's file, files with NaN, overflowing durations, unknown keys).
func FuzzConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, yaml []byte, envKey, envValue string) {
		c := Default()
		if err := c.overlayYAML(yaml); err != nil {
			return
		}
		if envKey != "" {
			if err := c.overlayEnv([]string{"SCOPE_" + envKey + "=" + envValue}); err != nil {
				return
			}
		}
		if err := c.Validate(); err != nil {
			return
		}
		_ = c.CheckFiles()
		out, err := c.YAML()
		if err != nil {
			t.Fatalf("a valid configuration does not print: %v", err)
		}
		back := Default()
		if err := back.overlayYAML(out); err != nil {
			t.Fatalf("printed configuration does not load: %v\n%s", err, out)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("printed configuration does not validate: %v\n%s", err, out)
		}
		if len(c.SLT.Adapters) == 0 {
			c.SLT.Adapters, back.SLT.Adapters = nil, nil
		}
		if !reflect.DeepEqual(c, back) {
			t.Fatalf("printed configuration loads as another:\n%+v\n%+v\n%s", c, back, out)
		}
		if _, err := c.Redact().YAML(); err != nil {
			t.Fatal(err)
		}
	})
}
