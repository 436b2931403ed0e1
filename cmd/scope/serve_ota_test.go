package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scope/dialogue"
	"scope/models/bundle/modelset"
	"scope/ota"
)

// scope serve with ota.repository on a loopback HTTP server that holds a published
// bundle: the daemon starts on its configured (demo) models, its updater fetches,
// verifies and golden-checks the bundle and swaps the engine to it without a restart;
// GET /api/ota, /api/status and /metrics then name it, and the turns interpreted after
// the switch record its hash in the store.
func TestServeSwitchesToPublishedBundle(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("SCOPE_DATA_DIR", data)
	t.Setenv("SCOPE_EDGE_THREADS", "2")

	// Publisher: keys, the repository (root v1, pinned by the device), then a bundle of
	// the demo recogniser and translator (no pose models, to stay small).
	keys, repo := filepath.Join(dir, "keys"), filepath.Join(dir, "repo")
	if _, err := ota.GenerateKeys(keys, "", 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := ota.Publish(ota.PublishOptions{Repo: repo, Keys: keys}); err != nil {
		t.Fatal(err)
	}
	rootJSON, err := os.ReadFile(filepath.Join(repo, "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	pinned := filepath.Join(dir, "pinned-root.json")
	if err := os.WriteFile(pinned, rootJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(dir, "bundle")
	if _, err := modelset.Build(context.Background(), modelset.BuildOptions{Out: bdir, Version: "7.1.0", NoPose: true, GoldenSentences: 2}); err != nil {
		t.Fatal(err)
	}
	pub, err := ota.Publish(ota.PublishOptions{Repo: repo, Keys: keys, Bundle: bdir})
	if err != nil {
		t.Fatal(err)
	}
	hash := pub.Info.Hash
	srv := httptest.NewServer(http.FileServer(http.Dir(repo)))
	defer srv.Close()

	cfg := filepath.Join(dir, "scope.yaml")
	if err := os.WriteFile(cfg, []byte("ota:\n  repository: "+srv.URL+"\n  root: "+pinned+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var out, errs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runMain(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, &out, &errs)
	}()
	deadline := time.Now().Add(10 * time.Minute)
	base := serveAddress(t, &out, &errs, deadline)
	// It started on the configured models, not on the bundle it has not fetched yet.
	if strings.Contains(out.String(), " 7.1.0 ") {
		t.Fatalf("started on the OTA bundle before fetching it:\n%s", out.String())
	}
	get := func(path string, v any) string {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
		}
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("GET %s: %v\n%s", path, err, b)
			}
		}
		return string(b)
	}
	var st ota.Status
	for {
		get("api/ota", &st)
		if st.Installed != nil && st.Installed.Version == "7.1.0" && !st.LastCheck.IsZero() { // the update ended
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bundle was not installed; /api/ota: %+v\n%s", st, errs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if st.Installed.Hash != hash || st.Repository != srv.URL || st.LastCheck.IsZero() {
		t.Fatalf("/api/ota: %+v, want hash %s from %s", st, hash, srv.URL)
	}
	var health struct {
		Bundle struct{ Version, Hash string } `json:"bundle"`
	}
	for {
		get("api/status", &health)
		if health.Bundle.Hash == hash {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine did not swap to the bundle: /api/status bundle %+v\n%s", health.Bundle, errs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	metrics := get("metrics", nil)
	for _, want := range []string{`version="7.1.0"`, `hash="` + hash + `"`, "scope_ota_last_check_timestamp_seconds ", "scope_ota_last_check_success 1", "scope_ota_last_error_timestamp_seconds "} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if n := strings.Count(metrics, "scope_bundle_info{"); n != 1 {
		t.Errorf("/metrics has %d scope_bundle_info samples, want the one that runs", n)
	}
	// A sentence interpreted on the new bundle, seen through the API.
	for {
		var conv struct {
			Turns []struct {
				Bundle *struct{ Version, Hash string } `json:"bundle"`
			} `json:"turns"`
		}
		if res, err := http.Get(base + "api/conversations/current"); err == nil {
			if res.StatusCode == 200 {
				json.NewDecoder(res.Body).Decode(&conv)
			}
			res.Body.Close()
		}
		on := false
		for _, tn := range conv.Turns {
			on = on || (tn.Bundle != nil && tn.Bundle.Hash == hash)
		}
		if on {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no turn on the new bundle:\n%s\n%s", out.String(), errs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("serve: %v\n%s", err, errs.String())
	}
	store, err := dialogue.Open(filepath.Join(data, "dialogue.db"), dialogue.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cs, err := store.Conversations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cs {
		ts, err := store.Turns(context.Background(), c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range ts {
			if tn.Bundle != nil && tn.Bundle.Hash == hash && tn.Bundle.Version == "7.1.0" {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("no stored turn records the OTA bundle %s", hash)
	}
}
