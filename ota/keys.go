package ota

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Roles are TUF's four top-level roles, in the order a key folder lists them.
var Roles = []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// PolicyName is the key folder's file of thresholds and expiry periods.
const PolicyName = "policy.json"

// Policy is KEYDIR/policy.json: how many keys of each role must sign, and how long each
// role's metadata stays valid after publishing.
type Policy struct {
	Thresholds map[string]int    `json:"thresholds"`
	Expires    map[string]string `json:"expires"` // Go durations: "8760h"
}

// DefaultPolicy: one key per role; root valid a year, targets 90 days, snapshot 30 days,
// timestamp 7 days (re-run `scope ota publish` without a bundle, from cron, to re-sign it).
func DefaultPolicy() Policy {
	return Policy{
		Thresholds: map[string]int{metadata.ROOT: 1, metadata.TARGETS: 1, metadata.SNAPSHOT: 1, metadata.TIMESTAMP: 1},
		Expires:    map[string]string{metadata.ROOT: "8760h", metadata.TARGETS: "2160h", metadata.SNAPSHOT: "720h", metadata.TIMESTAMP: "168h"},
	}
}

// Expiry returns role's validity period.
func (p Policy) Expiry(role string) (time.Duration, error) {
	s, ok := p.Expires[role]
	if !ok {
		return DefaultPolicy().Expiry(role)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: expires.%s %q: %w", PolicyName, role, s, err)
	}
	return d, nil
}

// Threshold returns role's threshold (default 1).
func (p Policy) Threshold(role string) int {
	if t := p.Thresholds[role]; t > 0 {
		return t
	}
	return 1
}

// KeySet is a key folder, loaded.
type KeySet struct {
	Dir     string
	Policy  Policy
	Keys    map[string][]ed25519.PrivateKey // current keys by role
	Retired []ed25519.PrivateKey            // KEYDIR/root/retired: old root keys, to sign a rotation
}

// GenerateKeys creates a key folder or rotates one role's keys in it. With role "" it
// creates dir with n keys per role (it refuses a folder that already has keys). With a
// role it moves that role's keys to <role>/retired/ and writes n new ones: the next
// publish writes a new root version that trusts only the new keys, signed by the old root
// keys too (from root/retired/) so devices accept it. threshold <= 0 keeps the policy's.
func GenerateKeys(dir, role string, n, threshold int) ([]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("keygen: want at least 1 key, got %d", n)
	}
	if threshold > n {
		return nil, fmt.Errorf("keygen: threshold %d is more than the %d keys", threshold, n)
	}
	roles := Roles
	pol := DefaultPolicy()
	if role == "" {
		for _, r := range Roles {
			if ks, _ := filepath.Glob(filepath.Join(dir, r, "*.pem")); len(ks) > 0 {
				return nil, fmt.Errorf("keygen: %s already holds keys; rotate one role with --role, or choose a new folder", dir)
			}
		}
	} else {
		if !validRole(role) {
			return nil, fmt.Errorf("keygen: unknown role %q (want %s)", role, strings.Join(Roles, ", "))
		}
		roles = []string{role}
		if b, err := os.ReadFile(filepath.Join(dir, PolicyName)); err == nil {
			if err := json.Unmarshal(b, &pol); err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(dir, PolicyName), err)
			}
		}
	}
	var made []string
	for _, r := range roles {
		rd := filepath.Join(dir, r)
		if err := os.MkdirAll(rd, 0o700); err != nil {
			return nil, err
		}
		old, _ := filepath.Glob(filepath.Join(rd, "*.pem"))
		if len(old) > 0 {
			if err := os.MkdirAll(filepath.Join(rd, "retired"), 0o700); err != nil {
				return nil, err
			}
			for _, p := range old {
				if err := os.Rename(p, filepath.Join(rd, "retired", filepath.Base(p))); err != nil {
					return nil, err
				}
			}
		}
		for i := 0; i < n; i++ {
			pub, priv, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return nil, err
			}
			id, err := keyID(pub)
			if err != nil {
				return nil, err
			}
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				return nil, err
			}
			p := filepath.Join(rd, id[:16]+".pem")
			if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				return nil, err
			}
			made = append(made, p)
		}
		if threshold > 0 {
			pol.Thresholds[r] = threshold
		} else if pol.Threshold(r) > n {
			pol.Thresholds[r] = n
		}
	}
	b, _ := json.MarshalIndent(pol, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, PolicyName), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	return made, nil
}

func validRole(r string) bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

// LoadKeys reads a key folder written by GenerateKeys.
func LoadKeys(dir string) (*KeySet, error) {
	ks := &KeySet{Dir: dir, Policy: DefaultPolicy(), Keys: map[string][]ed25519.PrivateKey{}}
	if b, err := os.ReadFile(filepath.Join(dir, PolicyName)); err == nil {
		if err := json.Unmarshal(b, &ks.Policy); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, PolicyName), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, r := range Roles {
		keys, err := readKeys(filepath.Join(dir, r))
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("key folder %s has no %s keys (%s/*.pem); create it with `scope ota keygen --out %s`", dir, r, r, dir)
		}
		if len(keys) < ks.Policy.Threshold(r) {
			return nil, fmt.Errorf("key folder %s has %d %s keys but the %s threshold is %d", dir, len(keys), r, PolicyName, ks.Policy.Threshold(r))
		}
		ks.Keys[r] = keys
	}
	var err error
	if ks.Retired, err = readKeys(filepath.Join(dir, metadata.ROOT, "retired")); err != nil {
		return nil, err
	}
	return ks, nil
}

func readKeys(dir string) ([]ed25519.PrivateKey, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.pem"))
	sort.Strings(files)
	var out []ed25519.PrivateKey
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("key %s: not a PEM \"PRIVATE KEY\" block", p)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", p, err)
		}
		ed, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("key %s: %T is not an ed25519 key", p, k)
		}
		out = append(out, ed)
	}
	return out, nil
}

func tufKey(pub ed25519.PublicKey) (*metadata.Key, error) { return metadata.KeyFromPublicKey(pub) }

func keyID(pub ed25519.PublicKey) (string, error) {
	k, err := tufKey(pub)
	if err != nil {
		return "", err
	}
	return k.ID()
}

func signer(k ed25519.PrivateKey) (signature.Signer, error) {
	return signature.LoadSigner(k, crypto.Hash(0))
}

// sign signs md with every key of keys.
func sign[T metadata.Roles](md *metadata.Metadata[T], keys []ed25519.PrivateKey) error {
	for _, k := range keys {
		s, err := signer(k)
		if err != nil {
			return err
		}
		if _, err := md.Sign(s); err != nil {
			return err
		}
	}
	return nil
}
