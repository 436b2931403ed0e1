package ota

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"scope/models/bundle"
	"scope/models/bundle/modelset"
)

// The tests run against a real HTTP server on loopback serving a repository folder that
// Publish wrote, with bundles of the demo recogniser and translator (no pose models, to
// stay small) built once by modelset.Build.

var (
	baseOnce sync.Once
	baseDir  string
	baseErr  error
)

func TestMain(m *testing.M) {
	if os.Getenv("OTA_CHILD") != "" {
		os.Exit(childMain())
	}
	code := m.Run()
	if baseDir != "" {
		os.RemoveAll(filepath.Dir(baseDir))
	}
	os.Exit(code)
}

// base returns the base bundle folder (version 1.0.0).
func base(tb testing.TB) string {
	tb.Helper()
	baseOnce.Do(func() {
		d, err := os.MkdirTemp("", "ota-test-")
		if err != nil {
			baseErr = err
			return
		}
		baseDir = filepath.Join(d, "base")
		_, baseErr = modelset.Build(context.Background(), modelset.BuildOptions{Out: baseDir, Version: "1.0.0", NoPose: true, GoldenSentences: 2})
	})
	if baseErr != nil {
		tb.Fatal(baseErr)
	}
	return baseDir
}

// variant copies the base bundle as version v; edit may change files (and re-adds them).
func variant(tb testing.TB, v string, edit func(m *bundle.Manifest)) string {
	tb.Helper()
	src := base(tb)
	dst := filepath.Join(tb.TempDir(), "bundle-"+v)
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := bundle.Load(dst)
	if err != nil {
		tb.Fatal(err)
	}
	m.Version = v
	if edit != nil {
		edit(m)
	}
	if err := m.Write(); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// goldenDiffers changes the recorded translation of the first golden case.
func goldenDiffers(tb testing.TB) func(m *bundle.Manifest) {
	return func(m *bundle.Manifest) {
		e, err := modelset.ReadExpected(m)
		if err != nil {
			tb.Fatal(err)
		}
		e.SLT[0].Text = "Something the translator never said."
		b, _ := json.Marshal(e)
		if err := os.WriteFile(filepath.Join(m.Dir(), filepath.FromSlash(modelset.ExpectedName)), b, 0o644); err != nil {
			tb.Fatal(err)
		}
		if _, err := m.AddFile(bundle.RoleGolden, modelset.ExpectedName, ""); err != nil {
			tb.Fatal(err)
		}
	}
}

// modelBroken cuts the translator's GGUF short and re-hashes it: the manifest matches,
// the model does not load.
func modelBroken(tb testing.TB) func(m *bundle.Manifest) {
	return func(m *bundle.Manifest) {
		f, err := m.FileFor(bundle.RoleSLT, "")
		if err != nil {
			tb.Fatal(err)
		}
		b, _ := os.ReadFile(m.Path(f))
		if err := os.WriteFile(m.Path(f), b[:len(b)/4], 0o644); err != nil {
			tb.Fatal(err)
		}
		if _, err := m.AddFile(f.Role, f.Path, f.Precision); err != nil {
			tb.Fatal(err)
		}
	}
}

// server serves a repository folder on loopback and counts the bytes of bundle targets.
type server struct {
	*httptest.Server
	repo        string
	targetBytes atomic.Int64
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func newServer(tb testing.TB, repo string) *server {
	s := &server{repo: repo}
	fs := http.FileServer(http.Dir(repo))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/targets/") {
			w = countingWriter{w, &s.targetBytes}
		}
		fs.ServeHTTP(w, r)
	}))
	tb.Cleanup(s.Close)
	return s
}

// fixture is a publisher (keys, repository, server) and a device data folder.
type fixture struct {
	keys, repo, data string
	srv              *server
}

func newFixture(tb testing.TB) *fixture {
	d := tb.TempDir()
	f := &fixture{keys: filepath.Join(d, "keys"), repo: filepath.Join(d, "repo"), data: filepath.Join(d, "data")}
	if _, err := GenerateKeys(f.keys, "", 1, 0); err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(f.repo, 0o755); err != nil {
		tb.Fatal(err)
	}
	f.srv = newServer(tb, f.repo)
	// The repository exists (root v1) before the device pins its root.
	if _, err := Publish(PublishOptions{Repo: f.repo, Keys: f.keys}); err != nil {
		tb.Fatal(err)
	}
	return f
}

func (f *fixture) publish(tb testing.TB, dir string, o ...func(*PublishOptions)) *PublishResult {
	tb.Helper()
	po := PublishOptions{Repo: f.repo, Keys: f.keys, Bundle: dir}
	for _, x := range o {
		x(&po)
	}
	res, err := Publish(po)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// pinRoot copies the repository's current root.json as the device's pinned root.
func (f *fixture) pinRoot(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(f.repo, "root.json"))
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(f.repo), "pinned-root.json")
	if _, err := os.Stat(p); err == nil {
		return p // pinned once, like a device
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func (f *fixture) config(tb testing.TB) Config {
	return Config{DataDir: f.data, Repository: f.srv.URL, Root: f.pinRoot(tb), ProbationSentences: 10}
}

func (f *fixture) updater(tb testing.TB, edit ...func(*Config)) *Updater {
	tb.Helper()
	c := f.config(tb)
	for _, e := range edit {
		e(&c)
	}
	u, err := Open(c)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// healthy feeds n confident sentences.
func healthy(u *Updater, n int) {
	for i := 0; i < n; i++ {
		u.Observe(Outcome{})
	}
}

// installedVersion returns the version of the bundle Active points at ("" = built-in)
// after verifying every file of it.
func installedVersion(tb testing.TB, u *Updater) string {
	tb.Helper()
	dir := u.Active()
	if dir == "" {
		return ""
	}
	m, err := bundle.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if err := m.Verify(); err != nil {
		tb.Fatal(err)
	}
	return m.Version
}

// installCommitted installs version v and commits it through healthy sentences.
func (f *fixture) installCommitted(tb testing.TB, u *Updater, v string) {
	tb.Helper()
	f.publish(tb, variant(tb, v, nil))
	res, err := u.Update(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if res.Action != "installed" {
		tb.Fatalf("update: %+v", res)
	}
	healthy(u, 10)
	st, _ := u.Status()
	if st.Phase != PhaseIdle || st.Installed == nil || st.Installed.Version != v {
		tb.Fatalf("after 10 healthy sentences: phase %s installed %+v", st.Phase, st.Installed)
	}
}

func TestHappyPathTwoUpdatesAndStatus(t *testing.T) {
	f := newFixture(t)
	f.publish(t, variant(t, "1.0.0", nil))
	u := f.updater(t)
	if u.Active() != "" {
		t.Fatal("a fresh device runs a bundle")
	}
	res, err := u.Update(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "installed" || installedVersion(t, u) != "1.0.0" || filepath.Base(u.Active()) != "a" {
		t.Fatalf("first update: %+v, active %s", res, u.Active())
	}
	st, _ := u.Status()
	if st.Phase != PhaseProbation || st.Probation.Baseline != -1 {
		t.Fatalf("after the switch: phase %s probation %+v", st.Phase, st.Probation)
	}
	// While on probation, no further update starts.
	f.publish(t, variant(t, "1.1.0", nil))
	if res, err := u.Update(context.Background()); err != nil || res.Action != "waiting" {
		t.Fatalf("update on probation: %+v %v", res, err)
	}
	healthy(u, 10)
	res, err = u.Update(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "installed" || installedVersion(t, u) != "1.1.0" || filepath.Base(u.Active()) != "b" {
		t.Fatalf("second update: %+v, active %s", res, u.Active())
	}
	st, _ = u.Status()
	if st.Previous == nil || st.Previous.Version != "1.0.0" || st.Previous.Slot != "a" {
		t.Fatalf("previous slot not kept: %+v", st.Previous)
	}
	if _, err := os.Stat(filepath.Join(f.data, "ota", "slots", "a", "manifest.json")); err != nil {
		t.Fatalf("previous slot's bundle removed: %v", err)
	}
	healthy(u, 10)
	if res, err := u.Update(context.Background()); err != nil || res.Action != "up-to-date" {
		t.Fatalf("third check: %+v %v", res, err)
	}
	// Status, as the CLI, the API and /metrics show it.
	s, err := ReadStatus(f.data)
	if err != nil {
		t.Fatal(err)
	}
	if s.Installed.Version != "1.1.0" || s.Highest != "1.1.0" || s.LastResult != "up-to-date" || len(s.History) < 4 {
		t.Fatalf("status %+v", s)
	}
	rec := httptest.NewRecorder()
	u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/ota", nil))
	var api Status
	if err := json.Unmarshal(rec.Body.Bytes(), &api); err != nil || api.Installed.Hash != s.Installed.Hash || api.Repository != f.srv.URL {
		t.Fatalf("GET /api/ota: %v %s", err, rec.Body.String())
	}
	var sb strings.Builder
	WriteMetrics(&sb, s.Metrics())
	want := fmt.Sprintf(`scope_bundle_info{name="scope-demo",version="1.1.0",hash=%q} 1`, s.Installed.Hash)
	if !strings.Contains(sb.String(), want) || !strings.Contains(sb.String(), "scope_ota_last_check_success 1") {
		t.Fatalf("metrics lack %s:\n%s", want, sb.String())
	}
}

func TestTamperedByteRefused(t *testing.T) {
	f := newFixture(t)
	res := f.publish(t, variant(t, "1.0.0", nil))
	u := f.updater(t)
	// One byte of the served bundle changes (a bad mirror or an attacker).
	files, _ := filepath.Glob(filepath.Join(f.repo, "targets", "bundles", "*.tar"))
	if len(files) != 1 {
		t.Fatalf("targets: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	b[len(b)/2] ^= 0x01
	os.WriteFile(files[0], b, 0o644)
	_, err := u.Update(context.Background())
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("err %v, want ErrHashMismatch", err)
	}
	if u.Active() != "" {
		t.Fatal("a tampered bundle was installed")
	}
	parts, _ := filepath.Glob(filepath.Join(f.data, "ota", "download", "*"))
	if len(parts) != 0 {
		t.Errorf("the tampered download was kept: %v", parts)
	}
	s, _ := ReadStatus(f.data)
	if !strings.Contains(s.LastError, "does not match") || s.LastErrorAt.IsZero() {
		t.Errorf("last error %q", s.LastError)
	}
	_ = res
}

// resign replaces a role's metadata file in the repository with one signed by keys.
func resignTargets(t *testing.T, repo string, version int64, edit func(md *metadata.Metadata[metadata.TargetsType])) {
	t.Helper()
	p := filepath.Join(repo, fmt.Sprintf("%d.targets.json", version))
	md, err := metadata.Targets().FromFile(p)
	if err != nil {
		t.Fatal(err)
	}
	edit(md)
	if err := md.ToFile(p, true); err != nil {
		t.Fatal(err)
	}
}

func TestWrongSigningKeyRefused(t *testing.T) {
	f := newFixture(t)
	res := f.publish(t, variant(t, "1.0.0", nil))
	u := f.updater(t)
	stranger := filepath.Join(t.TempDir(), "stranger")
	if _, err := GenerateKeys(stranger, "", 1, 0); err != nil {
		t.Fatal(err)
	}
	ks, err := LoadKeys(stranger)
	if err != nil {
		t.Fatal(err)
	}
	resignTargets(t, f.repo, res.Versions[metadata.TARGETS], func(md *metadata.Metadata[metadata.TargetsType]) {
		md.ClearSignatures()
		if err := sign(md, ks.Keys[metadata.TARGETS]); err != nil {
			t.Fatal(err)
		}
	})
	_, err = u.Update(context.Background())
	var unsigned *metadata.ErrUnsignedMetadata
	if !errors.As(err, &unsigned) || u.Active() != "" {
		t.Fatalf("err %v (%T), want ErrUnsignedMetadata and nothing installed", err, errors.Unwrap(err))
	}
}

func TestThresholdNotMetRefused(t *testing.T) {
	f := newFixture(t)
	// Targets need 2 of 2 keys.
	if _, err := GenerateKeys(f.keys, metadata.TARGETS, 2, 2); err != nil {
		t.Fatal(err)
	}
	res := f.publish(t, variant(t, "1.0.0", nil))
	u := f.updater(t)
	resignTargets(t, f.repo, res.Versions[metadata.TARGETS], func(md *metadata.Metadata[metadata.TargetsType]) {
		if len(md.Signatures) != 2 {
			t.Fatalf("%d signatures, want 2", len(md.Signatures))
		}
		md.Signatures = md.Signatures[:1]
	})
	_, err := u.Update(context.Background())
	var unsigned *metadata.ErrUnsignedMetadata
	if !errors.As(err, &unsigned) || !strings.Contains(err.Error(), "threshold") && !strings.Contains(err.Error(), "signatures") || u.Active() != "" {
		t.Fatalf("err %v, want a threshold error and nothing installed", err)
	}
	// The publisher refuses a key folder below a threshold.
	os.RemoveAll(filepath.Join(f.keys, metadata.TARGETS, "retired"))
	ps, _ := filepath.Glob(filepath.Join(f.keys, metadata.TARGETS, "*.pem"))
	os.Remove(ps[0])
	if _, err := Publish(PublishOptions{Repo: f.repo, Keys: f.keys}); err == nil || !strings.Contains(err.Error(), "threshold") {
		t.Fatalf("publish with 1 of 2 keys: %v", err)
	}
}

func TestExpiredTimestampAndUntrustedClock(t *testing.T) {
	f := newFixture(t)
	f.publish(t, variant(t, "1.0.0", nil), func(o *PublishOptions) {
		o.Expires = map[string]time.Duration{metadata.TIMESTAMP: -time.Hour}
	})
	u := f.updater(t)
	_, err := u.Update(context.Background())
	var expired *metadata.ErrExpiredMetadata
	if !errors.As(err, &expired) || u.Active() != "" {
		t.Fatalf("err %v, want ErrExpiredMetadata", err)
	}
	// A site without a trusted clock: the expiry of metadata signed after the latest time
	// the device knows (here: none) does not stop the install; signatures still do.
	u2 := f.updater(t, func(c *Config) { c.Clock = ClockUntrusted })
	if res, err := u2.Update(context.Background()); err != nil || res.Action != "installed" {
		t.Fatalf("untrusted clock: %+v %v", res, err)
	}
}

func TestClockSetBackUsesFloor(t *testing.T) {
	f := newFixture(t)
	f.publish(t, variant(t, "1.0.0", nil), func(o *PublishOptions) {
		o.Expires = map[string]time.Duration{metadata.TIMESTAMP: time.Hour}
	})
	u := f.updater(t)
	if _, err := u.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	healthy(u, 10)
	// Two days on, the one-hour timestamp has expired: refused.
	later := time.Now().Add(48 * time.Hour)
	u2 := f.updater(t, func(c *Config) { c.Now = func() time.Time { return later } })
	var expired *metadata.ErrExpiredMetadata
	if _, err := u2.Update(context.Background()); !errors.As(err, &expired) {
		t.Fatalf("expired metadata: %v", err)
	}
	// The RTC resets to 1970: expiry is checked against the floor (the latest time the
	// device trusted), so winding the clock back does not revive expired metadata.
	u3 := f.updater(t, func(c *Config) { c.Now = func() time.Time { return time.Unix(0, 0) } })
	st, _ := u3.st.load()
	ref, note := u3.refTime(st)
	if st.Floor.Before(time.Now().Add(-time.Hour)) || !ref.Equal(st.Floor) || !strings.Contains(note, "behind") {
		t.Fatalf("ref %s floor %s note %q", ref, st.Floor, note)
	}
}

func TestRollbackReplayAndFreezeRefused(t *testing.T) {
	f := newFixture(t)
	f.publish(t, variant(t, "1.0.0", nil))
	old, _ := os.ReadFile(filepath.Join(f.repo, "timestamp.json"))
	f.publish(t, variant(t, "1.1.0", nil))
	u := f.updater(t)
	if _, err := u.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	healthy(u, 10)
	// Replay the older timestamp: TUF's rollback protection.
	os.WriteFile(filepath.Join(f.repo, "timestamp.json"), old, 0o644)
	_, err := u.Update(context.Background())
	var badVersion *metadata.ErrBadVersionNumber
	if !errors.As(err, &badVersion) {
		t.Fatalf("replayed timestamp: err %v, want ErrBadVersionNumber", err)
	}
	// Freeze: the repository keeps serving the same metadata; once the timestamp expires
	// (7 days) the device refuses it.
	f.publish(t, "")
	later := time.Now().Add(8 * 24 * time.Hour)
	u2 := f.updater(t, func(c *Config) { c.Now = func() time.Time { return later } })
	_, err = u2.Update(context.Background())
	var expired *metadata.ErrExpiredMetadata
	if !errors.As(err, &expired) {
		t.Fatalf("frozen metadata: err %v, want ErrExpiredMetadata", err)
	}
	if installedVersion(t, u2) != "1.1.0" {
		t.Fatal("the installed bundle changed")
	}
}

func TestMixAndMatchRefused(t *testing.T) {
	f := newFixture(t)
	r1 := f.publish(t, variant(t, "1.0.0", nil))
	t1, _ := os.ReadFile(filepath.Join(f.repo, fmt.Sprintf("%d.targets.json", r1.Versions[metadata.TARGETS])))
	r2 := f.publish(t, variant(t, "1.1.0", nil))
	// The new snapshot with the targets of the old one, served under the new name.
	os.WriteFile(filepath.Join(f.repo, fmt.Sprintf("%d.targets.json", r2.Versions[metadata.TARGETS])), t1, 0o644)
	u := f.updater(t)
	_, err := u.Update(context.Background())
	var badVersion *metadata.ErrBadVersionNumber
	if !errors.As(err, &badVersion) || u.Active() != "" {
		t.Fatalf("err %v, want ErrBadVersionNumber and nothing installed", err)
	}
}

func TestBadBundlesRejectedAndNotRetried(t *testing.T) {
	for name, edit := range map[string]func(testing.TB) func(*bundle.Manifest){"model fails to load": modelBroken, "golden differs": goldenDiffers} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			u := f.updater(t)
			f.installCommitted(t, u, "1.0.0")
			f.publish(t, variant(t, "1.1.0", edit(t)))
			_, err := u.Update(context.Background())
			want := modelset.ErrGolden
			if name == "model fails to load" {
				want = modelset.ErrLoad
			}
			if !errors.Is(err, ErrRejected) || !errors.Is(err, want) {
				t.Fatalf("err %v, want ErrRejected wrapping %v", err, want)
			}
			if installedVersion(t, u) != "1.0.0" {
				t.Fatal("the device left its good bundle")
			}
			if _, err := os.Stat(filepath.Join(f.data, "ota", "slots", "b")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the rejected bundle stayed in slot b: %v", err)
			}
			if res, err := u.Update(context.Background()); err != nil || res.Action != "up-to-date" {
				t.Fatalf("a failed bundle was retried: %+v %v", res, err)
			}
			s, _ := ReadStatus(f.data)
			if len(s.Failed) != 1 || s.History[len(s.History)-1].Kind == "" {
				t.Errorf("status %+v", s)
			}
		})
	}
}

func TestOlderBundleNeverInstalled(t *testing.T) {
	f := newFixture(t)
	u := f.updater(t)
	f.installCommitted(t, u, "2.0.0")
	if _, err := Publish(PublishOptions{Repo: f.repo, Keys: f.keys, Bundle: variant(t, "1.5.0", nil)}); err == nil || !strings.Contains(err.Error(), "not newer") {
		t.Fatalf("publisher accepted an older version: %v", err)
	}
	f.publish(t, variant(t, "1.5.0", nil), func(o *PublishOptions) { o.Force = true; o.Keep = 1 })
	res, err := u.Update(context.Background())
	if err != nil || res.Action != "up-to-date" || installedVersion(t, u) != "2.0.0" {
		t.Fatalf("older bundle: %+v %v, installed %s", res, err, installedVersion(t, u))
	}
}

func TestHealthRollbackAfterSwitch(t *testing.T) {
	eng := &recordingEngine{}
	f := newFixture(t)
	u := f.updater(t, func(c *Config) { c.Engine = eng })
	f.installCommitted(t, u, "1.0.0")
	good := u.Active()
	// 10 sentences before the switch, 1 unsure: baseline 10%.
	for i := 0; i < 10; i++ {
		u.Observe(Outcome{Unsure: i == 0})
	}
	f.publish(t, variant(t, "1.1.0", nil))
	if _, err := u.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	if eng.last() != u.Active() || u.Active() == good {
		t.Fatalf("engine swapped to %q, active %q", eng.last(), u.Active())
	}
	// 5 of 10 unsure after the switch: far above 10% -> rollback.
	for i := 0; i < 10; i++ {
		u.Observe(Outcome{Unsure: i%2 == 0})
	}
	if u.Active() != good || eng.last() != good || installedVersion(t, u) != "1.0.0" {
		t.Fatalf("no rollback: active %s engine %s", u.Active(), eng.last())
	}
	s, _ := ReadStatus(f.data)
	if s.Phase != PhaseIdle || !strings.Contains(s.LastError, "unsure on 50%") || len(s.Failed) != 1 {
		t.Fatalf("status %+v", s)
	}
	// A non-finite output rolls back at once.
	f.publish(t, variant(t, "1.2.0", nil))
	if _, err := u.Update(context.Background()); err != nil {
		t.Fatal(err)
	}
	u.Observe(Outcome{NonFinite: true})
	if installedVersion(t, u) != "1.0.0" {
		t.Fatal("no rollback on a non-finite output")
	}
	// An engine that cannot load the bundle: the old one keeps running.
	eng.fail = true
	f.publish(t, variant(t, "1.3.0", nil))
	if _, err := u.Update(context.Background()); !errors.Is(err, ErrRejected) || installedVersion(t, u) != "1.0.0" {
		t.Fatalf("engine failure: %v, installed %s", err, installedVersion(t, u))
	}
}

type recordingEngine struct {
	mu   sync.Mutex
	dirs []string
	fail bool
}

func (e *recordingEngine) Swap(ctx context.Context, dir string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail && strings.HasSuffix(dir, "/b") || e.fail && strings.HasSuffix(dir, "/a") && len(e.dirs) > 0 && !strings.HasSuffix(e.dirs[len(e.dirs)-1], "/a") {
		return errors.New("model does not load")
	}
	e.dirs = append(e.dirs, dir)
	return nil
}

func (e *recordingEngine) last() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.dirs) == 0 {
		return ""
	}
	return e.dirs[len(e.dirs)-1]
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	u := f.updater(t)
	f.installCommitted(t, u, "1.0.0")
	for _, role := range []string{metadata.ROOT, metadata.TARGETS} {
		if _, err := GenerateKeys(f.keys, role, 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	res := f.publish(t, variant(t, "1.1.0", nil))
	if !res.RootRotated || res.RootVersion != 2 {
		t.Fatalf("publish after rotation: %+v", res)
	}
	up, err := u.Update(context.Background())
	if err != nil || up.Action != "installed" {
		t.Fatalf("update across a root rotation: %+v %v", up, err)
	}
	b, _ := os.ReadFile(filepath.Join(f.data, "ota", "tuf", "root.json"))
	r, err := metadata.Root().FromBytes(b)
	if err != nil || r.Signed.Version != 2 {
		t.Fatalf("stored root version %v %v, want 2", r, err)
	}
	// Without the old root keys the next rotation cannot be signed.
	os.RemoveAll(filepath.Join(f.keys, metadata.ROOT, "retired"))
	GenerateKeys(f.keys, metadata.ROOT, 1, 0)
	os.RemoveAll(filepath.Join(f.keys, metadata.ROOT, "retired"))
	if _, err := Publish(PublishOptions{Repo: f.repo, Keys: f.keys}); err == nil || !strings.Contains(err.Error(), "old root") {
		t.Fatalf("rotation without the old root keys: %v", err)
	}
}

func TestOfflineInstallFromFolder(t *testing.T) {
	f := newFixture(t)
	f.publish(t, variant(t, "1.0.0", nil))
	root := f.pinRoot(t)
	u, err := Open(Config{DataDir: f.data})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Install(context.Background(), f.repo, ""); !errors.Is(err, ErrNoRoot) {
		t.Fatalf("install without a root: %v", err)
	}
	res, err := u.Install(context.Background(), f.repo, root)
	if err != nil || res.Action != "installed" || installedVersion(t, u) != "1.0.0" {
		t.Fatalf("offline install: %+v %v", res, err)
	}
	// Another repository's root is refused once the device trusts one.
	g := newFixture(t)
	g.publish(t, variant(t, "9.0.0", nil))
	healthy(u, 10)
	if _, err := u.Install(context.Background(), g.repo, g.pinRoot(t)); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("foreign root: %v", err)
	}
}

// --- a child updater killed with -9 at each step ---

// childMain runs in a child process: OTA_MODE=update runs one update (pausing forever at
// step OTA_PAUSE), OTA_MODE=boot recovers as the daemon's start does and prints the bundle
// it would run.
func childMain() int {
	c := Config{DataDir: os.Getenv("OTA_DATA"), Repository: os.Getenv("OTA_REPO"), Root: os.Getenv("OTA_ROOT"), ProbationSentences: 10}
	pause := os.Getenv("OTA_PAUSE")
	c.Hook = func(step string) {
		fmt.Printf("STEP %s\n", step)
		if step == pause {
			fmt.Printf("PAUSED %s\n", step)
			select {}
		}
	}
	u, err := Open(c)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	switch os.Getenv("OTA_MODE") {
	case "boot":
		dir, err := u.Boot()
		if err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
		fmt.Printf("ACTIVE %s\n", dir)
	default:
		res, err := u.Update(context.Background())
		if err != nil {
			fmt.Println("ERROR", err)
			return 1
		}
		fmt.Printf("RESULT %s\n", res.Action)
	}
	return 0
}

type child struct {
	cmd   *exec.Cmd
	lines chan string
	steps []string
}

func startChild(tb testing.TB, f *fixture, mode, pause string) *child {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OTA_CHILD=1", "OTA_MODE="+mode, "OTA_PAUSE="+pause, "OTA_DATA="+f.data,
		"OTA_REPO="+f.srv.URL, "OTA_ROOT="+f.pinRoot(tb))
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	return c
}

// wait reads lines until one starts with prefix (or the child ends), recording steps.
func (c *child) wait(prefix string, timeout time.Duration) (string, bool) {
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return "", false
			}
			if s, ok := strings.CutPrefix(l, "STEP "); ok {
				c.steps = append(c.steps, s)
			}
			if strings.HasPrefix(l, prefix) {
				return l, true
			}
			if strings.HasPrefix(l, "ERROR") && prefix != "ERROR" {
				return l, false
			}
		case <-deadline:
			return "", false
		}
	}
}

func (c *child) kill() {
	c.cmd.Process.Kill() // SIGKILL
	c.cmd.Wait()
}

// bootCheck restarts the device side (a child, as the daemon starting) and checks that it
// comes up on a bundle whose every file verifies and that is one of good.
func bootCheck(tb testing.TB, f *fixture, good ...string) string {
	tb.Helper()
	c := startChild(tb, f, "boot", "")
	l, ok := c.wait("ACTIVE", 60*time.Second)
	c.cmd.Wait()
	if !ok {
		tb.Fatalf("restart did not come up: %q", l)
	}
	dir := strings.TrimSpace(strings.TrimPrefix(l, "ACTIVE"))
	v := ""
	if dir != "" {
		m, err := bundle.Load(dir)
		if err != nil {
			tb.Fatalf("restart came up on %s: %v", dir, err)
		}
		if err := m.Verify(); err != nil {
			tb.Fatalf("restart came up on %s: %v", dir, err)
		}
		v = m.Version
	}
	for _, g := range good {
		if v == g {
			return v
		}
	}
	tb.Fatalf("restart came up on %q, want one of %v", v, good)
	return v
}

func TestKillNineAtEachStep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, step := range []string{"download", "verify", "stage", "golden", "switch", "after-switch"} {
		t.Run(step, func(t *testing.T) {
			f := newFixture(t)
			u := f.updater(t)
			f.installCommitted(t, u, "1.0.0")
			f.publish(t, variant(t, "1.1.0", nil))
			f.srv.targetBytes.Store(0)
			c := startChild(t, f, "update", step)
			if l, ok := c.wait("PAUSED "+step, 120*time.Second); !ok {
				c.kill()
				t.Fatalf("child did not reach %s: %q (steps %v)", step, l, c.steps)
			}
			c.kill()
			good := []string{"1.0.0"}
			if step == "switch" || step == "after-switch" {
				good = []string{"1.0.0", "1.1.0"}
			}
			v := bootCheck(t, f, good...)
			// A restarted update finishes on the new bundle; a download resumes.
			before := f.srv.targetBytes.Load()
			c = startChild(t, f, "update", "")
			l, ok := c.wait("RESULT", 120*time.Second)
			c.cmd.Wait()
			if !ok {
				t.Fatalf("update after the restart: %q", l)
			}
			if v == "1.0.0" && l != "RESULT installed" || v == "1.1.0" && l != "RESULT waiting" {
				t.Fatalf("after restart on %s: %s", v, l)
			}
			if got := bootCheck(t, f, "1.1.0"); got != "1.1.0" {
				t.Fatal(got)
			}
			if step == "download" {
				u2, _ := Open(f.config(t))
				_ = u2
				full := fileSize(t, f.repo)
				if total := f.srv.targetBytes.Load(); total >= 2*full || before <= 0 {
					t.Errorf("download did not resume: %d bytes served in all for a %d-byte bundle (%d before the kill)", total, full, before)
				}
			}
		})
	}
}

func fileSize(t *testing.T, repo string) int64 {
	files, _ := filepath.Glob(filepath.Join(repo, "targets", "bundles", "*1.1.0.tar"))
	if len(files) != 1 {
		t.Fatalf("targets %v", files)
	}
	st, _ := os.Stat(files[0])
	return st.Size()
}

// A bundle whose signed length is over ota.max_bundle_mb is refused before a byte of it
// is downloaded, and the device keeps what it runs.
func TestBundleOverTheSizeBoundRefused(t *testing.T) {
	f := newFixture(t)
	f.publish(t, variant(t, "1.0.0", nil))
	u := f.updater(t, func(c *Config) { c.MaxBundleBytes = 1 << 10 })
	f.srv.targetBytes.Store(0)
	_, err := u.Update(context.Background())
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("err %v, want ErrTooLarge naming the limit", err)
	}
	if u.Active() != "" || f.srv.targetBytes.Load() != 0 {
		t.Fatalf("active %q, %d bundle bytes served", u.Active(), f.srv.targetBytes.Load())
	}
}

// A daemon whose engine cannot load the bundle Boot gave it reports so: the bundle is
// rolled back as failed and the previous one is what to load.
func TestBootFailedRollsBack(t *testing.T) {
	f := newFixture(t)
	u := f.updater(t)
	f.installCommitted(t, u, "1.0.0")
	f.installCommitted(t, u, "1.1.0")
	bad, _ := u.Status()
	dir, err := u.BootFailed("opening the recogniser: no such file")
	if err != nil {
		t.Fatal(err)
	}
	if dir != u.Active() || installedVersion(t, u) != "1.0.0" {
		t.Fatalf("after BootFailed: dir %q, active %q, version %s", dir, u.Active(), installedVersion(t, u))
	}
	st, _ := u.Status()
	if st.Installed.Version != "1.0.0" || len(st.Failed) != 1 || st.Failed[0] != bad.Installed.Hash || !strings.Contains(st.LastError, "did not load at start") {
		t.Fatalf("status after BootFailed: %+v", st)
	}
	// Past the first bundle: the built-in models.
	if dir, err := u.BootFailed("again"); err != nil || dir != "" || u.Active() != "" {
		t.Fatalf("second BootFailed: %q %v, active %q", dir, err, u.Active())
	}
}
