package engine

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"scope/config"
	"scope/internal/assets"
)

// Every configuration key is read by some code outside package config, or it must be
// removed: a key that validates but does nothing misleads whoever sets it (log.level,
// edge.provider, slt.context_tokens and daemon.* used to be such keys).
//
// "Read" means: a non-test Go file outside config/ selects the field, either as
// Section.Field (c.Daemon.Listen) or, in a file that selects the section (s :=
// c.Capture), as .Field. This is a source check: it fails on a key nothing mentions.
func TestEveryConfigKeyIsRead(t *testing.T) {
	root, err := assets.Find("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	root = filepath.Dir(root)
	var sources []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			switch rel {
			case "config", ".cache", "node_modules", "third_party", "bin", ".git":
				return filepath.SkipDir
			}
			if strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sources = append(sources, string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ct := reflect.TypeOf(config.Config{})
	for i := 0; i < ct.NumField(); i++ {
		sec := ct.Field(i)
		if sec.Type.Kind() != reflect.Struct {
			continue
		}
		secRe := regexp.MustCompile(`\.` + sec.Name + `\b`)
		for j := 0; j < sec.Type.NumField(); j++ {
			f := sec.Type.Field(j)
			key := yamlKey(sec) + "." + yamlKey(f)
			direct := regexp.MustCompile(`\.` + sec.Name + `\.` + f.Name + `\b`)
			field := regexp.MustCompile(`\.` + f.Name + `\b`)
			read := false
			for _, src := range sources {
				if direct.MatchString(src) || (secRe.MatchString(src) && field.MatchString(src)) {
					read = true
					break
				}
			}
			if !read {
				t.Errorf("configuration key %s (config.%s.%s) is never read outside package config: use it or remove it", key, sec.Name, f.Name)
			}
		}
	}
}

func yamlKey(f reflect.StructField) string {
	n, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if n == "" {
		return strings.ToLower(f.Name)
	}
	return n
}
