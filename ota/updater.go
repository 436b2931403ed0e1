package ota

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	tufconfig "github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"scope/internal/release"
	"scope/models/bundle"
	"scope/models/bundle/modelset"
)

// Engine is what the updater needs of the running interpreter (daemon/engine.Engine):
// load the bundle in dir beside the running one and switch to it between sentences,
// keeping the old one running on error. An empty dir means the models of the engine's
// own configuration (no OTA bundle).
type Engine interface {
	Swap(ctx context.Context, dir string) error
}

// Clock settings (ota.clock).
const (
	// ClockSystem checks TUF expiry against the system clock, never earlier than the latest
	// time the device has seen before (a clock reset to 1970 cannot revive expired metadata).
	ClockSystem = "system"
	// ClockUntrusted is for sites without a trusted clock: the system clock is ignored and
	// expiry is checked against the latest time the device knows has passed (this scope's
	// build time, or the floor recorded while the clock was trusted). Signatures, thresholds,
	// version rollback and our monotonic bundle versions are all still enforced; what is
	// lost is TUF's freeze protection (an attacker can withhold newer metadata unseen).
	ClockUntrusted = "untrusted"
)

// Config configures an Updater.
type Config struct {
	// DataDir is the device's data folder (SCOPE_DATA_DIR); the updater keeps <DataDir>/ota.
	DataDir string
	// Repository is the TUF repository: an http(s) URL, or a folder. Empty: offline only.
	Repository string
	// Root is the pinned root.json the device trusts the first time; afterwards the stored
	// root (which TUF rotates forward) is used.
	Root string
	// MaxBundleBytes bounds a download (default 4 GiB).
	MaxBundleBytes int64
	// Clock is ClockSystem (default) or ClockUntrusted.
	Clock string
	// ProbationSentences is how many sentences after a switch decide between commit and
	// rollback (default 10).
	ProbationSentences int
	// UnsureRise is how far above the rate before the switch the unsure rate may rise
	// (absolute, default 0.3) before a rollback; it must also at least double.
	UnsureRise float64
	// MaxProbationBoots is how many restarts on probation are tolerated; one more rolls
	// back (default 2).
	MaxProbationBoots int
	// Poll is how often Run checks the repository (default 1h).
	Poll time.Duration
	// Engine, when set, is switched to a new bundle at once (no restart).
	Engine Engine
	// Check runs the golden check on a staged bundle (default modelset.CheckDir).
	Check func(ctx context.Context, dir string) error
	// CheckThreads is the golden check's threads per model (default 1).
	CheckThreads int
	HTTPClient   *http.Client
	Log          *slog.Logger
	Now          func() time.Time
	// Hook is called at each step ("download", "verify", "stage", "golden", "switch",
	// "after-switch"): tests kill the process there.
	Hook func(step string)
}

// Updater is the device side. Its methods are safe for concurrent use; across processes,
// an update holds <DataDir>/ota/lock.
type Updater struct {
	cfg     Config
	dir     string
	st      store
	log     *slog.Logger
	mu      sync.Mutex
	running string // the bundle folder the engine runs ("" = its own configuration)
}

// Errors an update can end with.
var (
	ErrBusy         = errors.New("another OTA update is in progress")
	ErrNoRoot       = errors.New("no trusted root")
	ErrRootMismatch = errors.New("the given root is not the one this device trusts")
	ErrOlder        = errors.New("bundle is not newer than the installed one")
	ErrRejected     = errors.New("bundle rejected")
)

// Open prepares <DataDir>/ota and recovers from an interrupted update (a kill or power
// loss at any step leaves the device on a good bundle: see Recover).
func Open(cfg Config) (*Updater, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("ota: no data folder")
	}
	if cfg.MaxBundleBytes <= 0 {
		cfg.MaxBundleBytes = 4 << 30
	}
	switch cfg.Clock {
	case "":
		cfg.Clock = ClockSystem
	case ClockSystem, ClockUntrusted:
	default:
		return nil, fmt.Errorf("ota.clock %q: want %s or %s", cfg.Clock, ClockSystem, ClockUntrusted)
	}
	if cfg.ProbationSentences <= 0 {
		cfg.ProbationSentences = 10
	}
	if cfg.UnsureRise <= 0 {
		cfg.UnsureRise = 0.3
	}
	if cfg.MaxProbationBoots <= 0 {
		cfg.MaxProbationBoots = 2
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Hour
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Minute}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CheckThreads <= 0 {
		cfg.CheckThreads = 1
	}
	if cfg.Check == nil {
		threads := cfg.CheckThreads
		cfg.Check = func(ctx context.Context, dir string) error {
			_, err := modelset.CheckDir(ctx, dir, modelset.Options{Threads: threads, SkipVerify: true, Log: cfg.Log})
			return err
		}
	}
	u := &Updater{cfg: cfg, dir: filepath.Join(cfg.DataDir, "ota"), log: cfg.Log}
	u.st = store{path: filepath.Join(u.dir, "state.db")}
	for _, d := range []string{u.dir, u.path("slots"), u.path("download"), u.path("tuf")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("ota: %w", err)
		}
	}
	if err := u.recover(false); err != nil && !errors.Is(err, ErrBusy) {
		return nil, err
	}
	u.running = u.Active()
	return u, nil
}

func (u *Updater) path(p ...string) string { return filepath.Join(append([]string{u.dir}, p...)...) }

func (u *Updater) slotDir(s string) string { return u.path("slots", s) }

// currentSlot reads the current pointer: "a", "b" or "" (none).
func (u *Updater) currentSlot() string {
	t, err := os.Readlink(u.path("current"))
	if err != nil {
		return ""
	}
	return filepath.Base(t)
}

// Active returns the folder of the bundle the device should run: the current slot, or ""
// for the built-in models of the configuration when no bundle is installed.
func (u *Updater) Active() string {
	if s := u.currentSlot(); s != "" {
		return u.slotDir(s)
	}
	return ""
}

// setCurrent points current at slot s ("" removes it) by renaming a new link over it.
func (u *Updater) setCurrent(s string) error {
	link := u.path("current")
	if s == "" {
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return syncDir(u.dir)
	}
	tmp := u.path("current.new")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join("slots", s), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		return err
	}
	return syncDir(u.dir)
}

// lock takes the cross-process update lock.
func (u *Updater) lock() (func(), error) {
	f, err := os.OpenFile(u.path("lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, ErrBusy
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func (u *Updater) hook(step string) {
	if u.cfg.Hook != nil {
		u.cfg.Hook(step)
	}
}

// Boot is called once when the interpreter starts: it recovers (as Open does) and counts
// the start if the current bundle is on probation; past MaxProbationBoots starts the
// previous slot comes back. It returns the bundle folder to run ("" = the built-in models).
func (u *Updater) Boot() (string, error) {
	if err := u.recover(true); err != nil && !errors.Is(err, ErrBusy) {
		return "", err
	}
	u.mu.Lock()
	u.running = u.Active()
	u.mu.Unlock()
	return u.Active(), nil
}

// BootFailed is called by a daemon whose engine could not load the bundle Boot returned
// (say a runtime library it needs is gone): that bundle is rolled back as a failed one
// (never retried), the previous slot or the built-in models become current, and the
// folder to load now is returned ("" = the built-in models).
func (u *Updater) BootFailed(reason string) (string, error) {
	unlock, err := u.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	st, err := u.st.load()
	if err != nil {
		return "", err
	}
	if st.Current != nil {
		var events []Event
		if err := u.rollback(st, &events, "it did not load at start: "+reason, false); err != nil {
			return "", err
		}
		if err := u.st.save(st, events...); err != nil {
			return "", err
		}
	}
	u.running = u.Active()
	return u.running, nil
}

// recover brings the device to a consistent state after a kill at any step:
//   - half-written slots, links and folders are removed (downloads are kept: they resume);
//   - an update interrupted before its switch is abandoned: current still points at the
//     bundle that ran before;
//   - a switch interrupted between the rename and its record is completed from what the
//     link says;
//   - a restart on probation counts; past MaxProbationBoots the previous slot comes back;
//   - a current slot whose files do not verify is replaced by the previous slot, or by the
//     built-in models.
func (u *Updater) recover(boot bool) error {
	unlock, err := u.lock()
	if err != nil {
		return err
	}
	defer unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	st, err := u.st.load()
	if err != nil {
		return err
	}
	var events []Event
	note := func(kind, format string, args ...any) {
		e := Event{Kind: kind, Message: fmt.Sprintf(format, args...)}
		if st.Target != nil {
			e.Version, e.Hash = st.Target.Version, st.Target.Hash
		}
		events = append(events, e)
		u.log.Warn("ota: "+e.Message, "kind", kind)
	}
	os.Remove(u.path("current.new"))
	ents, _ := os.ReadDir(u.path("slots"))
	for _, e := range ents {
		if n := e.Name(); n != "a" && n != "b" {
			os.RemoveAll(u.path("slots", n))
		}
	}
	cur := u.currentSlot()
	switch st.Phase {
	case PhaseIdle, PhaseProbation:
	case PhaseSwitching:
		if st.Target != nil && cur == st.Target.Slot {
			note("recovered", "restarted during the switch to %s: the switch had happened; %s is on probation", st.Target.Version, st.Target.Version)
			u.beginProbation(st, 0)
		} else {
			note("recovered", "restarted during the switch; current still points at the bundle before it")
			st.Phase, st.Target = PhaseIdle, nil
		}
	default:
		note("recovered", "restarted while %s; the running bundle was not touched", st.Phase)
		st.Phase, st.Target = PhaseIdle, nil
	}
	counted := false
	if boot && st.Phase == PhaseProbation && st.Probation != nil {
		counted = true
		st.Probation.Boots++
		if st.Probation.Boots > u.cfg.MaxProbationBoots {
			note("rolled-back", "restarted %d times before %s was committed", st.Probation.Boots, versionOf(st.Current))
			if err := u.rollback(st, &events, fmt.Sprintf("restarted %d times on probation", st.Probation.Boots), false); err != nil {
				return err
			}
		}
	}
	// The current slot must verify; else fall back.
	cur = u.currentSlot()
	if cur != "" {
		if err := verifySlot(u.slotDir(cur), st.Current); err != nil {
			note("recovered", "the current bundle does not verify (%v)", err)
			if err := u.rollback(st, &events, "current bundle does not verify", false); err != nil {
				return err
			}
		}
	} else if st.Current != nil && st.Current.Slot != "" {
		note("recovered", "current pointer missing; running the built-in models")
		st.Current = nil
	}
	if len(events) == 0 {
		// Nothing to record; but boots on probation must still be counted.
		if counted {
			return u.st.save(st)
		}
		return nil
	}
	return u.st.save(st, events...)
}

func versionOf(i *Installed) string {
	if i == nil {
		return "the built-in models"
	}
	return i.Version
}

// verifySlot loads and hashes a slot's bundle, and checks it is the one recorded.
func verifySlot(dir string, want *Installed) error {
	m, err := bundle.Load(dir)
	if err != nil {
		return err
	}
	if err := m.Verify(); err != nil {
		return err
	}
	if want != nil && want.Hash != "" && want.Hash != m.Hash() {
		return fmt.Errorf("slot %s holds bundle %s, the state says %s", dir, bundle.ShortHash(m.Hash()), bundle.ShortHash(want.Hash))
	}
	return nil
}

// rollback points current back at the previous slot (or the built-in models), marks the
// current bundle failed, and, when an engine runs, switches it back. At Open, Boot and
// BootFailed none runs yet: the engine then starts on what Boot or BootFailed returns.
func (u *Updater) rollback(st *State, events *[]Event, reason string, engineRuns bool) error {
	bad := st.Current
	prev := st.Previous
	slot := ""
	if prev != nil && prev.Slot != "" {
		if err := verifySlot(u.slotDir(prev.Slot), prev); err == nil {
			slot = prev.Slot
		} else {
			*events = append(*events, Event{Kind: "error", Message: fmt.Sprintf("previous slot %s does not verify (%v); using the built-in models", prev.Slot, err)})
			prev = nil
		}
	}
	if err := u.setCurrent(slot); err != nil {
		return fmt.Errorf("ota rollback: %w", err)
	}
	if bad != nil {
		st.markFailed(bad.Hash)
		*events = append(*events, Event{Kind: "rolled-back", Version: bad.Version, Hash: bad.Hash,
			Message: fmt.Sprintf("rolled back from %s to %s: %s", bad.Version, versionOf(prev), reason)})
	}
	st.Current, st.Previous, st.Probation, st.Target, st.Phase = prev, nil, nil, nil, PhaseIdle
	st.Recent = nil
	st.LastError, st.LastErrorAt = "rolled back: "+reason, u.cfg.Now().UTC()
	if engineRuns && u.cfg.Engine != nil && u.running != u.Active() {
		if err := u.cfg.Engine.Swap(context.Background(), u.Active()); err != nil {
			*events = append(*events, Event{Kind: "error", Message: "engine did not switch back: " + err.Error()})
		} else {
			u.running = u.Active()
		}
	}
	return nil
}

func (u *Updater) beginProbation(st *State, boots int) {
	base := -1.0
	if len(st.Recent) >= 10 {
		n := 0
		for _, x := range st.Recent {
			if x {
				n++
			}
		}
		base = float64(n) / float64(len(st.Recent))
	}
	st.Previous = st.Current
	st.Current = st.Target
	st.Current.Since = u.cfg.Now().UTC()
	st.Target = nil
	st.Phase = PhaseProbation
	st.Probation = &Probation{Since: u.cfg.Now().UTC(), Boots: boots, Baseline: base}
	st.Recent = nil
}

// Result says what an update did.
type Result struct {
	Action  string     // "up-to-date", "installed", "rejected", "waiting"
	Bundle  BundleInfo // the target considered
	Message string
}

// Update polls the configured repository and installs a newer bundle.
func (u *Updater) Update(ctx context.Context) (*Result, error) {
	if u.cfg.Repository == "" {
		return nil, errors.New("ota: no repository configured (ota.repository); use `scope ota install` offline")
	}
	return u.update(ctx, u.cfg.Repository, u.cfg.Root)
}

// Install installs from a published repository folder (a USB stick), with the same TUF
// verification against the pinned root as online updates. root may be "" when the device
// already trusts a root.
func (u *Updater) Install(ctx context.Context, repoDir, root string) (*Result, error) {
	if root == "" {
		root = u.cfg.Root
	}
	return u.update(ctx, repoDir, root)
}

func (u *Updater) update(ctx context.Context, repoSetting, rootFile string) (res *Result, err error) {
	unlock, err := u.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	st, err := u.st.load()
	if err != nil {
		return nil, err
	}
	var events []Event
	defer func() {
		st.LastCheck = u.cfg.Now().UTC()
		if err != nil {
			st.LastResult = "error"
			st.LastError, st.LastErrorAt = err.Error(), u.cfg.Now().UTC()
			ev := Event{Kind: "error", Message: err.Error()}
			if res != nil {
				ev.Version, ev.Hash = res.Bundle.Version, res.Bundle.Hash
			}
			events = append(events, ev)
			if st.Phase != PhaseProbation {
				st.Phase, st.Target = PhaseIdle, nil
			}
		} else {
			st.LastResult = res.Action
		}
		if serr := u.st.save(st, events...); serr != nil && err == nil {
			err = serr
		}
	}()
	if st.Phase == PhaseProbation {
		return &Result{Action: "waiting", Message: fmt.Sprintf("bundle %s is on probation; the next update waits for its commit", versionOf(st.Current))}, nil
	}
	remote, err := repoURL(repoSetting)
	if err != nil {
		return nil, err
	}
	up, err := u.refresh(st, remote, rootFile)
	if err != nil {
		return nil, err
	}
	tf, info, err := u.choose(st, up)
	if err != nil || tf == nil {
		if err == nil {
			return &Result{Action: "up-to-date", Message: "installed: " + versionOf(st.Current)}, nil
		}
		return nil, err
	}
	res = &Result{Bundle: info}
	if tf.Length > u.cfg.MaxBundleBytes {
		return res, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrTooLarge, tf.Path, tf.Length, u.cfg.MaxBundleBytes)
	}
	if err := freeSpace(u.dir, 2*tf.Length+(64<<20)); err != nil {
		return res, err
	}
	slot := "a"
	if u.currentSlot() == "a" {
		slot = "b"
	}
	st.Target = &Installed{Name: info.Name, Version: info.Version, Hash: info.Hash, Slot: slot}

	// Download (resumable) and verify against the signed length and hashes.
	st.Phase = PhaseDownloading
	if err := u.st.save(st); err != nil {
		return res, err
	}
	sum := fmt.Sprintf("%x", []byte(tf.Hashes["sha256"]))
	part := u.path("download", sum+".part")
	hooked := false
	if err := download(ctx, u.cfg.HTTPClient, targetURL(remote, tf), part, tf.Length, func(n int64) {
		if !hooked && n >= 1<<20 {
			hooked = true
			u.hook("download")
		}
	}); err != nil {
		return res, err
	}
	u.hook("verify")
	if err := verifyTarget(part, tf); err != nil {
		os.Remove(part) // a corrupted or tampered copy: fetch it whole again next time
		return res, err
	}

	// Stage in the inactive slot.
	st.Phase = PhaseStaging
	if err := u.st.save(st); err != nil {
		return res, err
	}
	staging := u.slotDir(slot + ".new")
	os.RemoveAll(staging)
	m, err := unpackBundle(part, staging, tf.Length*2+(1<<20))
	if err != nil {
		os.RemoveAll(staging)
		st.markFailed(info.Hash)
		events = append(events, Event{Kind: "rejected", Version: info.Version, Hash: info.Hash, Message: err.Error()})
		return res, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if m.Hash() != info.Hash || m.Version != info.Version {
		os.RemoveAll(staging)
		st.markFailed(info.Hash)
		return res, fmt.Errorf("%w: the archive holds %s %s (hash %s), the signed target says %s (hash %s)", ErrRejected,
			m.Name, m.Version, bundle.ShortHash(m.Hash()), info.Version, bundle.ShortHash(info.Hash))
	}
	if missing := u.missingRoles(st, m); len(missing) > 0 {
		os.RemoveAll(staging)
		st.markFailed(info.Hash)
		return res, fmt.Errorf("%w: %s %s has no %v model, which this device runs now", ErrRejected, m.Name, m.Version, missing)
	}
	u.hook("stage")
	if err := os.RemoveAll(u.slotDir(slot)); err != nil {
		return res, err
	}
	if err := os.Rename(staging, u.slotDir(slot)); err != nil {
		return res, err
	}
	if err := syncDir(u.path("slots")); err != nil {
		return res, err
	}

	// Golden check beside the running bundle.
	st.Phase = PhaseChecking
	if err := u.st.save(st); err != nil {
		return res, err
	}
	u.hook("golden")
	if err := u.cfg.Check(ctx, u.slotDir(slot)); err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		st.markFailed(info.Hash)
		os.RemoveAll(u.slotDir(slot))
		events = append(events, Event{Kind: "rejected", Version: info.Version, Hash: info.Hash, Message: err.Error()})
		res.Action, res.Message = "rejected", err.Error()
		return res, fmt.Errorf("%w: %s %s: %w", ErrRejected, info.Name, info.Version, err)
	}

	// Switch: record, rename, record.
	st.Phase = PhaseSwitching
	if err := u.st.save(st); err != nil {
		return res, err
	}
	if err := u.setCurrent(slot); err != nil {
		return res, err
	}
	u.hook("switch")
	u.beginProbation(st, 0)
	events = append(events, Event{Kind: "switched", Version: info.Version, Hash: info.Hash,
		Message: fmt.Sprintf("switched to %s %s in slot %s; previous %s kept", info.Name, info.Version, slot, versionOf(st.Previous))})
	if err := u.st.save(st, events...); err != nil {
		return res, err
	}
	events = nil
	os.Remove(part)
	if u.cfg.Engine != nil {
		if err := u.cfg.Engine.Swap(ctx, u.slotDir(slot)); err != nil {
			if rerr := u.rollback(st, &events, "the engine could not load it: "+err.Error(), true); rerr != nil {
				return res, rerr
			}
			return res, fmt.Errorf("%w: the engine could not load %s: %w", ErrRejected, info.Version, err)
		}
		u.running = u.slotDir(slot)
	}
	u.hook("after-switch")
	res.Action = "installed"
	res.Message = fmt.Sprintf("%s %s installed in slot %s; on probation for %d sentences", info.Name, info.Version, slot, u.cfg.ProbationSentences)
	return res, nil
}

// missingRoles lists the roles the current bundle has that m lacks.
func (u *Updater) missingRoles(st *State, m *bundle.Manifest) []string {
	cur := u.Active()
	if cur == "" {
		return nil
	}
	cm, err := bundle.Load(cur)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range cm.Roles() {
		if !m.HasRole(r) {
			out = append(out, r)
		}
	}
	return out
}

// refresh runs TUF's client workflow against the pinned (or stored) root.
func (u *Updater) refresh(st *State, remote, rootFile string) (*updater.Updater, error) {
	rootBytes, err := u.trustedRoot(rootFile)
	if err != nil {
		return nil, err
	}
	cfg, err := tufconfig.New(remote, rootBytes)
	if err != nil {
		return nil, err
	}
	cfg.LocalMetadataDir = u.path("tuf")
	cfg.LocalTargetsDir = u.path("download")
	cfg.RemoteTargetsURL = remote + "/targets"
	cfg.Fetcher = newFetcher(remote, u.cfg.HTTPClient)
	up, err := updater.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("TUF: %w", err)
	}
	ref, note := u.refTime(st)
	if note != "" {
		u.log.Warn("ota: " + note)
	}
	up.UnsafeSetRefTime(ref)
	if err := up.Refresh(); err != nil {
		return nil, fmt.Errorf("TUF metadata from %s does not verify: %w", remote, err)
	}
	if u.cfg.Clock == ClockSystem && u.cfg.Now().After(st.Floor) {
		st.Floor = u.cfg.Now().UTC()
	}
	return up, nil
}

// trustedRoot returns the root to start from: the stored one, else the pinned file, which
// is then stored as the anchor.
func (u *Updater) trustedRoot(rootFile string) ([]byte, error) {
	stored, serr := os.ReadFile(u.path("tuf", "root.json"))
	anchor, _ := os.ReadFile(u.path("tuf", "anchor.json"))
	if rootFile == "" {
		if serr != nil {
			return nil, fmt.Errorf("%w: pass --root ROOT.json (the repository's root.json, from its publisher) or set ota.root", ErrNoRoot)
		}
		return stored, nil
	}
	given, err := os.ReadFile(rootFile)
	if err != nil {
		return nil, fmt.Errorf("pinned root: %w", err)
	}
	if _, err := metadata.Root().FromBytes(given); err != nil {
		return nil, fmt.Errorf("pinned root %s: %w", rootFile, err)
	}
	if serr != nil {
		if err := writeAtomic(u.path("tuf", "anchor.json"), given); err != nil {
			return nil, err
		}
		return given, nil
	}
	if bytes.Equal(given, stored) || bytes.Equal(given, anchor) {
		return stored, nil
	}
	return nil, fmt.Errorf("%w: %s differs from the root pinned on this device (%s); to trust another repository, remove %s (this also resets TUF's rollback protection)",
		ErrRootMismatch, rootFile, u.path("tuf", "anchor.json"), u.path("tuf"))
}

// refTime is the time TUF checks expiry against (see the Clock settings).
func (u *Updater) refTime(st *State) (time.Time, string) {
	floor := st.Floor
	if b := buildTime(); b.After(floor) {
		floor = b
	}
	if u.cfg.Clock == ClockUntrusted {
		return floor, ""
	}
	now := u.cfg.Now().UTC()
	if now.Before(floor) {
		return floor, fmt.Sprintf("the system clock (%s) is behind the latest time this device has seen (%s); checking expiry against that",
			now.Format(time.RFC3339), floor.Format(time.RFC3339))
	}
	return now, ""
}

// buildTime is when this scope was committed (VCS time), or zero.
func buildTime() time.Time {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return time.Time{}
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.time" {
			t, err := time.Parse(time.RFC3339, s.Value)
			if err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

// choose picks the newest bundle target this scope can run that is newer than what is
// installed and has not failed before; nil when there is none.
func (u *Updater) choose(st *State, up *updater.Updater) (*metadata.TargetFiles, BundleInfo, error) {
	t := up.GetTopLevelTargets()
	tt := metadata.TargetsType{Targets: t}
	installed := st.Highest
	if st.Current != nil && bundle.CompareVersions(st.Current.Version, installed) > 0 {
		installed = st.Current.Version
	}
	for _, tf := range bundleTargets(tt) {
		info, err := targetInfo(tf)
		if err != nil {
			u.log.Warn("ota: skipping target", "target", tf.Path, "err", err)
			continue
		}
		if installed != "" && bundle.CompareVersions(info.Version, installed) <= 0 {
			return nil, info, nil // sorted newest first: nothing newer
		}
		if bundle.CompareVersions(release.Version, info.MinScopeVersion) < 0 {
			u.log.Warn("ota: bundle needs a newer scope", "bundle", info.Version, "min_scope_version", info.MinScopeVersion, "scope", release.Version)
			continue
		}
		if st.failed(info.Hash) {
			u.log.Info("ota: bundle failed before; waiting for a newer one", "bundle", info.Version)
			continue
		}
		// Re-read the target through TUF's own lookup (delegations, path checks).
		got, err := up.GetTargetInfo(tf.Path)
		if err != nil {
			return nil, info, err
		}
		return got, info, nil
	}
	return nil, BundleInfo{}, nil
}

func freeSpace(dir string, need int64) error {
	var s syscall.Statfs_t
	if err := syscall.Statfs(dir, &s); err != nil {
		return nil
	}
	if have := int64(s.Bavail) * int64(s.Bsize); have < need {
		return fmt.Errorf("ota: %s has %d MB free, an update needs %d MB (download and unpacked bundle)", dir, have>>20, need>>20)
	}
	return nil
}

// Outcome is what the health check learns from one interpreted sentence.
type Outcome struct {
	Err       error // a stage of the interpreter failed on it
	NonFinite bool  // a model produced NaN or infinity
	Unsure    bool  // the confidence gate said "unsure"
}

// Observe feeds one sentence's outcome to the health check. On probation it decides:
// any non-finite output, 2 errors, or (after ProbationSentences sentences) an unsure rate
// at least UnsureRise above and at least double the rate before the switch roll back to
// the previous slot; otherwise the bundle is committed.
func (u *Updater) Observe(o Outcome) {
	u.mu.Lock()
	defer u.mu.Unlock()
	st, err := u.st.load()
	if err != nil {
		u.log.Error("ota: state", "err", err)
		return
	}
	var events []Event
	if st.Phase != PhaseProbation || st.Probation == nil {
		st.Recent = append(st.Recent, o.Unsure)
		if len(st.Recent) > 50 {
			st.Recent = st.Recent[len(st.Recent)-50:]
		}
		if err := u.st.save(st); err != nil {
			u.log.Error("ota: state", "err", err)
		}
		return
	}
	p := st.Probation
	p.Sentences++
	if o.Unsure {
		p.Unsure++
	}
	if o.Err != nil {
		p.Errors++
	}
	if o.NonFinite {
		p.NonFinite++
	}
	reason := ""
	switch {
	case p.NonFinite > 0:
		reason = "a model produced non-finite numbers"
	case p.Errors >= 2:
		reason = fmt.Sprintf("%d errors in the first %d sentences", p.Errors, p.Sentences)
	case p.Sentences >= u.cfg.ProbationSentences:
		rate := float64(p.Unsure) / float64(p.Sentences)
		base := p.Baseline
		if base < 0 {
			base = 0.2 // no history before the switch: assume a fifth unsure
		}
		if rate >= base+u.cfg.UnsureRise && rate >= 2*base {
			reason = fmt.Sprintf("unsure on %.0f%% of the first %d sentences, %.0f%% before the switch", 100*rate, p.Sentences, 100*base)
		} else {
			st.Phase, st.Probation = PhaseIdle, nil
			if bundle.CompareVersions(st.Current.Version, st.Highest) > 0 || st.Highest == "" {
				st.Highest = st.Current.Version
			}
			events = append(events, Event{Kind: "committed", Version: st.Current.Version, Hash: st.Current.Hash,
				Message: fmt.Sprintf("committed %s after %d healthy sentences (unsure %.0f%%)", st.Current.Version, p.Sentences, 100*rate)})
		}
	}
	if reason != "" {
		if err := u.rollback(st, &events, reason, true); err != nil {
			u.log.Error("ota: rollback", "err", err)
		}
	}
	if err := u.st.save(st, events...); err != nil {
		u.log.Error("ota: state", "err", err)
	}
	for _, e := range events {
		u.log.Info("ota: "+e.Message, "kind", e.Kind)
	}
}

// Commit ends probation now (an operator who has seen the new bundle work).
func (u *Updater) Commit() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	st, err := u.st.load()
	if err != nil {
		return err
	}
	if st.Phase != PhaseProbation || st.Current == nil {
		return errors.New("ota: no bundle is on probation")
	}
	st.Phase, st.Probation = PhaseIdle, nil
	if bundle.CompareVersions(st.Current.Version, st.Highest) > 0 || st.Highest == "" {
		st.Highest = st.Current.Version
	}
	return u.st.save(st, Event{Kind: "committed", Version: st.Current.Version, Hash: st.Current.Hash, Message: "committed by the operator"})
}

// Run polls the repository every Poll (when one is configured) and keeps the engine on
// the current bundle (an offline `scope ota install` while the daemon runs is picked up
// within a minute). It returns when ctx ends.
func (u *Updater) Run(ctx context.Context) {
	next := time.Now()
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		u.sync(ctx)
		if u.cfg.Repository != "" && !time.Now().Before(next) {
			res, err := u.Update(ctx)
			switch {
			case errors.Is(err, ErrBusy):
			case err != nil:
				u.log.Warn("ota: update", "err", err)
			case res.Action != "up-to-date":
				u.log.Info("ota: "+res.Message, "action", res.Action)
			}
			next = time.Now().Add(u.cfg.Poll)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sync swaps the engine to the current bundle when another process moved the pointer.
func (u *Updater) sync(ctx context.Context) {
	if u.cfg.Engine == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if a := u.Active(); a != u.running {
		if err := u.cfg.Engine.Swap(ctx, a); err != nil {
			u.log.Error("ota: the engine did not load the current bundle", "dir", a, "err", err)
			return
		}
		u.running = a
	}
}
