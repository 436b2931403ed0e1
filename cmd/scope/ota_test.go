package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The commands as a technician scripts them (issue 16): keygen, bundle build and verify,
// publish into a repository folder, install it offline into the device's
// $SCOPE_DATA_DIR with the pinned root, status printing the installed version, commit
// ending its probation; a second install of the same repository installs nothing, and
// verify finds one byte changed in the bundle folder.
func TestOTACommandsAsScripted(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "device")
	t.Setenv("SCOPE_DATA_DIR", data)
	keys, repo, b := filepath.Join(dir, "keys"), filepath.Join(dir, "usb", "repo"), filepath.Join(dir, "bundle")
	mustRun(t, "ota", "keygen", "--out", keys)
	mustRun(t, "bundle", "build", "--out", b, "--version", "3.2.1", "--no-pose", "--golden-sentences", "2")
	mustRun(t, "bundle", "verify", b)
	if out := mustRun(t, "ota", "publish", "--repo", repo, "--keys", keys, b); !strings.Contains(out, "3.2.1") {
		t.Fatalf("publish says: %s", out)
	}
	if out := mustRun(t, "ota", "status"); !strings.Contains(out, "built-in models") {
		t.Fatalf("status before any install: %s", out)
	}
	mustRun(t, "ota", "install", "--root", filepath.Join(repo, "root.json"), repo)
	out := mustRun(t, "ota", "status")
	if !strings.Contains(out, "version:   3.2.1") {
		t.Fatalf("status after the install does not print the version:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "ota", "current")); err != nil {
		t.Fatalf("the install did not land in $SCOPE_DATA_DIR: %v", err)
	}
	// On probation until sentences (or the technician) commit it; meanwhile nothing newer installs.
	if out := mustRun(t, "ota", "install", repo); !strings.Contains(out, "3.2.1 is on probation") {
		t.Fatalf("an install during probation says %q", out)
	}
	mustRun(t, "ota", "commit")
	if out := mustRun(t, "ota", "install", repo); out != "installed: 3.2.1\n" { // the stored root now
		t.Fatalf("a second install of the same bundle says %q, want that 3.2.1 stays installed", out)
	}
	if out := mustRun(t, "ota", "status"); !strings.Contains(out, "version:   3.2.1") {
		t.Fatalf("status after the second install:\n%s", out)
	}
	// One byte changed in a model file: verify refuses the bundle.
	var victim string
	filepath.WalkDir(b, func(p string, d fs.DirEntry, err error) error {
		if err == nil && victim == "" && !d.IsDir() && d.Name() != "manifest.json" && strings.HasPrefix(filepath.ToSlash(p), filepath.ToSlash(b)+"/slr/") {
			victim = p
		}
		return nil
	})
	x, err := os.ReadFile(victim)
	if victim == "" || err != nil || len(x) == 0 {
		t.Fatalf("no recogniser file to tamper with (%q): %v", victim, err)
	}
	x[len(x)/2] ^= 1
	if err := os.WriteFile(victim, x, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, err := run(t, "bundle", "verify", b); err == nil {
		t.Fatalf("verify passed with one byte of %s changed", victim)
	} else if !strings.Contains(err.Error()+errs, filepath.Base(victim)) {
		t.Errorf("verify's error does not name %s: %v %s", filepath.Base(victim), err, errs)
	}
}
