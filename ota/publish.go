package ota

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"scope/models/bundle"
)

// TargetPrefix is where bundles live among a repository's targets.
const TargetPrefix = "bundles/"

// BundleInfo is a bundle target's custom metadata (signed with the targets role), so a
// device knows a target's version before downloading it.
type BundleInfo struct {
	Name            string   `json:"name"`
	Version         string   `json:"version"`
	MinScopeVersion string   `json:"min_scope_version"`
	Hash            string   `json:"hash"` // sha256 of the bundle's manifest.json
	Roles           []string `json:"roles"`
}

type customField struct {
	Scope BundleInfo `json:"scope_bundle"`
}

// PublishOptions configure Publish.
type PublishOptions struct {
	Repo   string // repository folder (created when missing)
	Keys   string // key folder (GenerateKeys)
	Bundle string // bundle folder to add; "" re-signs the metadata with fresh expiry dates
	// Keep is how many bundles the targets list keeps (default 3); older ones and their
	// files are removed.
	Keep int
	// Expires overrides the key folder's policy per role (tests, emergencies).
	Expires map[string]time.Duration
	// Force allows a bundle version not newer than the newest published (devices will not
	// install it; use it only to republish).
	Force    bool
	Now      func() time.Time
	Progress io.Writer
}

// PublishResult says what Publish wrote.
type PublishResult struct {
	Target      string // target path, "bundles/scope-demo-0.3.0.tar" ("" without a bundle)
	Info        BundleInfo
	RootVersion int64
	RootRotated bool
	Versions    map[string]int64 // new version of each role's metadata
}

type repo struct {
	dir       string
	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
}

// loadRepo reads the newest metadata of a repository folder; all nil when it is new.
func loadRepo(dir string) (*repo, error) {
	r := &repo{dir: dir}
	tsPath := filepath.Join(dir, "timestamp.json")
	if _, err := os.Stat(tsPath); errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	var err error
	if r.timestamp, err = metadata.Timestamp().FromFile(tsPath); err != nil {
		return nil, fmt.Errorf("repository %s: %w", tsPath, err)
	}
	sv := r.timestamp.Signed.Meta["snapshot.json"].Version
	if r.snapshot, err = metadata.Snapshot().FromFile(filepath.Join(dir, fmt.Sprintf("%d.snapshot.json", sv))); err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	tv := r.snapshot.Signed.Meta["targets.json"].Version
	if r.targets, err = metadata.Targets().FromFile(filepath.Join(dir, fmt.Sprintf("%d.targets.json", tv))); err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	roots, _ := filepath.Glob(filepath.Join(dir, "*.root.json"))
	var best int64
	for _, p := range roots {
		n, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(p), ".root.json"), 10, 64)
		if err == nil && n > best {
			best = n
		}
	}
	if best == 0 {
		return nil, fmt.Errorf("repository %s has a timestamp but no N.root.json", dir)
	}
	if r.root, err = metadata.Root().FromFile(filepath.Join(dir, fmt.Sprintf("%d.root.json", best))); err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	return r, nil
}

// Publish adds a bundle to a TUF repository folder (creating the repository on first use)
// and signs new targets, snapshot and timestamp metadata with the key folder's keys. When
// the key folder's keys or thresholds differ from the repository's root, it first writes
// the next root version, signed by the new root keys and by enough of the old ones
// (current or root/retired/) for devices to accept it: that is key rotation. Files are
// written so that a device polling meanwhile sees either the old or the new repository:
// the bundle, then targets, snapshot and root, and timestamp.json last.
func Publish(o PublishOptions) (*PublishResult, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	if o.Keep <= 0 {
		o.Keep = 3
	}
	ks, err := LoadKeys(o.Keys)
	if err != nil {
		return nil, err
	}
	expires := func(role string) (time.Time, error) {
		if d, ok := o.Expires[role]; ok {
			return now().Add(d).UTC().Truncate(time.Second), nil
		}
		d, err := ks.Policy.Expiry(role)
		return now().Add(d).UTC().Truncate(time.Second), err
	}
	if err := os.MkdirAll(filepath.Join(o.Repo, "targets"), 0o755); err != nil {
		return nil, err
	}
	r, err := loadRepo(o.Repo)
	if err != nil {
		return nil, err
	}
	res := &PublishResult{Versions: map[string]int64{}}

	// Root: new, or the next version when the keys or thresholds changed.
	want, err := desiredRoot(ks)
	if err != nil {
		return nil, err
	}
	var newRoot *metadata.Metadata[metadata.RootType]
	rootExp, err := expires(metadata.ROOT)
	if err != nil {
		return nil, err
	}
	switch {
	case r.root == nil:
		newRoot = metadata.Root(rootExp)
		newRoot.Signed.Keys, newRoot.Signed.Roles = want.Keys, want.Roles
		say("new repository %s: root version 1", o.Repo)
	case !sameRoles(r.root.Signed, want) || r.root.Signed.Expires.Before(now().Add(rootRefresh(ks))):
		newRoot = metadata.Root(rootExp)
		newRoot.Signed.Keys, newRoot.Signed.Roles = want.Keys, want.Roles
		newRoot.Signed.Version = r.root.Signed.Version + 1
		res.RootRotated = !sameRoles(r.root.Signed, want)
		say("root version %d (keys rotated: %v)", newRoot.Signed.Version, res.RootRotated)
	}
	if newRoot != nil {
		if err := sign(newRoot, ks.Keys[metadata.ROOT]); err != nil {
			return nil, err
		}
		if r.root != nil {
			// The old root's keys must also sign, as many as its threshold.
			old := append(append([]ed25519.PrivateKey(nil), ks.Retired...), ks.Keys[metadata.ROOT]...)
			if err := signWithTrusted(newRoot, r.root.Signed, old); err != nil {
				return nil, err
			}
			if err := r.root.VerifyDelegate(metadata.ROOT, newRoot); err != nil {
				return nil, fmt.Errorf("the new root is not signed by %d of the old root's keys (put the old root keys in %s): %w",
					r.root.Signed.Roles[metadata.ROOT].Threshold, filepath.Join(o.Keys, "root", "retired"), err)
			}
		}
		if err := newRoot.VerifyDelegate(metadata.ROOT, newRoot); err != nil {
			return nil, fmt.Errorf("new root does not verify with its own keys: %w", err)
		}
		r.root = newRoot
	}
	res.RootVersion = r.root.Signed.Version

	// Targets.
	texp, err := expires(metadata.TARGETS)
	if err != nil {
		return nil, err
	}
	if r.targets == nil {
		r.targets = metadata.Targets(texp)
		r.targets.Signed.Version = 0
	}
	var targetFile, targetTmp string
	if o.Bundle != "" {
		m, err := bundle.Load(o.Bundle)
		if err != nil {
			return nil, err
		}
		if err := m.Verify(); err != nil {
			return nil, err
		}
		if m.Golden == nil {
			return nil, fmt.Errorf("bundle %s has no golden inputs; devices refuse such bundles: build it with `scope bundle build`", o.Bundle)
		}
		if newest := newestVersion(r.targets.Signed); newest != "" && bundle.CompareVersions(m.Version, newest) <= 0 && !o.Force {
			return nil, fmt.Errorf("bundle %s %s is not newer than %s, the newest in %s; devices never install an older or equal version: rebuild with a higher --version",
				m.Name, m.Version, newest, o.Repo)
		}
		info := BundleInfo{Name: m.Name, Version: m.Version, MinScopeVersion: m.MinScopeVersion, Hash: m.Hash(), Roles: m.Roles()}
		res.Info = info
		res.Target = TargetPrefix + m.Name + "-" + m.Version + ".tar"
		targetTmp = filepath.Join(o.Repo, "targets", ".packing-"+strconv.FormatInt(now().UnixNano(), 36))
		if err := packBundle(m, targetTmp); err != nil {
			os.Remove(targetTmp)
			return nil, err
		}
		tf, err := metadata.TargetFile().FromFile(targetTmp, "sha256")
		if err != nil {
			os.Remove(targetTmp)
			return nil, err
		}
		raw, _ := json.Marshal(customField{Scope: info})
		rm := json.RawMessage(raw)
		tf.Custom = &rm
		tf.Path = res.Target
		r.targets.Signed.Targets[res.Target] = tf
		// Consistent snapshots: the file is named by its hash.
		targetFile = filepath.Join(o.Repo, "targets", filepath.FromSlash(path.Dir(res.Target)),
			tf.Hashes["sha256"].String()+"."+path.Base(res.Target))
		say("target %s: %d bytes, sha256 %s", res.Target, tf.Length, tf.Hashes["sha256"].String())
	}
	removed := prune(r.targets.Signed, o.Keep)
	r.targets.Signed.Version++
	r.targets.Signed.Expires = texp
	r.targets.ClearSignatures()
	if err := sign(r.targets, ks.Keys[metadata.TARGETS]); err != nil {
		return nil, err
	}

	// Snapshot and timestamp.
	sexp, err := expires(metadata.SNAPSHOT)
	if err != nil {
		return nil, err
	}
	if r.snapshot == nil {
		r.snapshot = metadata.Snapshot(sexp)
		r.snapshot.Signed.Version = 0
	}
	r.snapshot.Signed.Meta = map[string]*metadata.MetaFiles{"targets.json": metadata.MetaFile(r.targets.Signed.Version)}
	r.snapshot.Signed.Version++
	r.snapshot.Signed.Expires = sexp
	r.snapshot.ClearSignatures()
	if err := sign(r.snapshot, ks.Keys[metadata.SNAPSHOT]); err != nil {
		return nil, err
	}
	snapBytes, err := r.snapshot.ToBytes(true)
	if err != nil {
		return nil, err
	}
	tsExp, err := expires(metadata.TIMESTAMP)
	if err != nil {
		return nil, err
	}
	if r.timestamp == nil {
		r.timestamp = metadata.Timestamp(tsExp)
		r.timestamp.Signed.Version = 0
	}
	mf := metadata.MetaFile(r.snapshot.Signed.Version)
	mf.Length = int64(len(snapBytes))
	tmpTF, err := metadata.TargetFile().FromBytes("snapshot.json", snapBytes, "sha256")
	if err != nil {
		return nil, err
	}
	mf.Hashes = tmpTF.Hashes
	r.timestamp.Signed.Meta = map[string]*metadata.MetaFiles{"snapshot.json": mf}
	r.timestamp.Signed.Version++
	r.timestamp.Signed.Expires = tsExp
	r.timestamp.ClearSignatures()
	if err := sign(r.timestamp, ks.Keys[metadata.TIMESTAMP]); err != nil {
		return nil, err
	}

	// Write: bundle, targets, snapshot, root, then timestamp.
	if targetTmp != "" {
		if err := os.MkdirAll(filepath.Dir(targetFile), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(targetTmp, targetFile); err != nil {
			return nil, err
		}
	}
	tb, err := r.targets.ToBytes(true)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(o.Repo, fmt.Sprintf("%d.targets.json", r.targets.Signed.Version)), tb); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(o.Repo, fmt.Sprintf("%d.snapshot.json", r.snapshot.Signed.Version)), snapBytes); err != nil {
		return nil, err
	}
	if newRoot != nil {
		rb, err := r.root.ToBytes(true)
		if err != nil {
			return nil, err
		}
		if err := writeAtomic(filepath.Join(o.Repo, fmt.Sprintf("%d.root.json", r.root.Signed.Version)), rb); err != nil {
			return nil, err
		}
		if err := writeAtomic(filepath.Join(o.Repo, "root.json"), rb); err != nil {
			return nil, err
		}
	}
	tsb, err := r.timestamp.ToBytes(true)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(o.Repo, "timestamp.json"), tsb); err != nil {
		return nil, err
	}
	for _, rf := range removed {
		os.Remove(filepath.Join(o.Repo, "targets", filepath.FromSlash(path.Dir(rf.Path)), rf.Hashes["sha256"].String()+"."+path.Base(rf.Path)))
		say("removed %s from the targets (keeping the newest %d)", rf.Path, o.Keep)
	}
	res.Versions = map[string]int64{metadata.ROOT: r.root.Signed.Version, metadata.TARGETS: r.targets.Signed.Version,
		metadata.SNAPSHOT: r.snapshot.Signed.Version, metadata.TIMESTAMP: r.timestamp.Signed.Version}
	say("signed: root v%d, targets v%d (until %s), snapshot v%d, timestamp v%d (until %s)",
		r.root.Signed.Version, r.targets.Signed.Version, texp.Format(time.RFC3339), r.snapshot.Signed.Version,
		r.timestamp.Signed.Version, tsExp.Format(time.RFC3339))
	return res, nil
}

// rootRefresh: a root within this long of expiring is re-signed by the next publish.
func rootRefresh(ks *KeySet) time.Duration {
	d, err := ks.Policy.Expiry(metadata.ROOT)
	if err != nil {
		return 0
	}
	return d / 3
}

func desiredRoot(ks *KeySet) (metadata.RootType, error) {
	want := metadata.Root().Signed
	for _, role := range Roles {
		for _, k := range ks.Keys[role] {
			tk, err := tufKey(k.Public().(ed25519.PublicKey))
			if err != nil {
				return want, err
			}
			if err := want.AddKey(tk, role); err != nil {
				return want, err
			}
		}
		want.Roles[role].Threshold = ks.Policy.Threshold(role)
	}
	return want, nil
}

func sameRoles(a, b metadata.RootType) bool {
	for _, role := range Roles {
		ra, rb := a.Roles[role], b.Roles[role]
		if ra == nil || rb == nil || ra.Threshold != rb.Threshold || len(ra.KeyIDs) != len(rb.KeyIDs) {
			return false
		}
		x := append([]string(nil), ra.KeyIDs...)
		y := append([]string(nil), rb.KeyIDs...)
		sort.Strings(x)
		sort.Strings(y)
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	}
	return true
}

// signWithTrusted adds signatures of the keys in keys that root trusts for the root role
// and that have not signed md yet.
func signWithTrusted(md *metadata.Metadata[metadata.RootType], root metadata.RootType, keys []ed25519.PrivateKey) error {
	trusted := map[string]bool{}
	for _, id := range root.Roles[metadata.ROOT].KeyIDs {
		trusted[id] = true
	}
	signed := map[string]bool{}
	for _, s := range md.Signatures {
		signed[s.KeyID] = true
	}
	for _, k := range keys {
		id, err := keyID(k.Public().(ed25519.PublicKey))
		if err != nil {
			return err
		}
		if trusted[id] && !signed[id] {
			if err := sign(md, []ed25519.PrivateKey{k}); err != nil {
				return err
			}
			signed[id] = true
		}
	}
	return nil
}

// bundleTargets returns the bundle targets with their info, newest version first.
func bundleTargets(t metadata.TargetsType) []*metadata.TargetFiles {
	var out []*metadata.TargetFiles
	for p, tf := range t.Targets {
		if strings.HasPrefix(p, TargetPrefix) {
			tf.Path = p
			out = append(out, tf)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := targetInfo(out[i])
		b, _ := targetInfo(out[j])
		if c := bundle.CompareVersions(a.Version, b.Version); c != 0 {
			return c > 0
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// targetInfo reads a target's signed custom metadata.
func targetInfo(tf *metadata.TargetFiles) (BundleInfo, error) {
	if tf.Custom == nil {
		return BundleInfo{}, fmt.Errorf("target %s has no scope_bundle custom metadata", tf.Path)
	}
	var c customField
	if err := json.Unmarshal(*tf.Custom, &c); err != nil {
		return BundleInfo{}, fmt.Errorf("target %s: custom metadata: %w", tf.Path, err)
	}
	if !bundle.ValidVersion(c.Scope.Version) || len(c.Scope.Hash) != 64 {
		return BundleInfo{}, fmt.Errorf("target %s: custom metadata has no valid version and hash", tf.Path)
	}
	return c.Scope, nil
}

func newestVersion(t metadata.TargetsType) string {
	for _, tf := range bundleTargets(t) {
		if info, err := targetInfo(tf); err == nil {
			return info.Version
		}
	}
	return ""
}

// prune keeps the keep newest bundle targets and returns the removed ones.
func prune(t metadata.TargetsType, keep int) []*metadata.TargetFiles {
	all := bundleTargets(t)
	if len(all) <= keep {
		return nil
	}
	for _, tf := range all[keep:] {
		delete(t.Targets, tf.Path)
	}
	return all[keep:]
}

// writeAtomic writes b to p through a temporary file and a rename.
func writeAtomic(p string, b []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, bytes.NewReader(b)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
