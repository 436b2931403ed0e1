package ota

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Phases of an update, as State.Phase records them.
const (
	PhaseIdle        = "idle"        // nothing in progress
	PhaseDownloading = "downloading" // the bundle is being fetched (resumable)
	PhaseStaging     = "staging"     // unpacking into the inactive slot
	PhaseChecking    = "checking"    // golden check beside the running bundle
	PhaseSwitching   = "switching"   // the current pointer is being renamed
	PhaseProbation   = "probation"   // switched; health checks decide commit or rollback
)

// Installed describes a bundle in a slot.
type Installed struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Hash    string    `json:"hash"`
	Slot    string    `json:"slot"` // "a", "b", or "" for the built-in models
	Since   time.Time `json:"since"`
}

// Probation counts the health of the sentences since a switch.
type Probation struct {
	Since     time.Time `json:"since"`
	Sentences int       `json:"sentences"`
	Unsure    int       `json:"unsure"`
	Errors    int       `json:"errors"`
	NonFinite int       `json:"non_finite"`
	Boots     int       `json:"boots"`    // restarts of the process while on probation
	Baseline  float64   `json:"baseline"` // unsure rate before the switch (-1: unknown)
}

// State is the updater's persistent state (bbolt, bucket "ota", key "state").
type State struct {
	Phase     string     `json:"phase"`
	Current   *Installed `json:"current,omitempty"`  // what `current` points at
	Previous  *Installed `json:"previous,omitempty"` // the slot kept for rollback
	Target    *Installed `json:"target,omitempty"`   // the update in progress
	Probation *Probation `json:"probation,omitempty"`
	// Highest is the highest bundle version ever committed: never install one lower.
	Highest string `json:"highest_version"`
	// Failed lists bundle hashes that failed a check; they are not tried again.
	Failed []string `json:"failed,omitempty"`
	// Recent is the committed bundle's last sentences, true for "unsure" (the baseline).
	Recent      []bool    `json:"recent,omitempty"`
	LastCheck   time.Time `json:"last_check"`
	LastResult  string    `json:"last_result"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at"`
	// Floor is the latest time this device knows to have passed (see Clock).
	Floor time.Time `json:"clock_floor"`
}

func (s *State) failed(hash string) bool {
	for _, h := range s.Failed {
		if h == hash {
			return true
		}
	}
	return false
}

func (s *State) markFailed(hash string) {
	if hash != "" && !s.failed(hash) {
		s.Failed = append(s.Failed, hash)
		if len(s.Failed) > 32 {
			s.Failed = s.Failed[len(s.Failed)-32:]
		}
	}
}

// Event is one history entry.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // check, installed, rejected, switched, committed, rolled-back, recovered, error
	Version string    `json:"version,omitempty"`
	Hash    string    `json:"hash,omitempty"`
	Message string    `json:"message"`
}

var (
	bucketOTA     = []byte("ota")
	bucketHistory = []byte("history")
	keyState      = []byte("state")
)

// store is the bbolt file. It is opened for each transaction so that `scope ota status`
// can read while the daemon runs.
type store struct{ path string }

func (s store) open() (*bolt.DB, error) {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("OTA state %s: %w", s.path, err)
	}
	return db, nil
}

// load returns the stored state (a new one when there is none).
func (s store) load() (*State, error) {
	if _, err := os.Stat(s.path); errors.Is(err, os.ErrNotExist) {
		return &State{Phase: PhaseIdle}, nil
	}
	db, err := s.open()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	st := &State{Phase: PhaseIdle}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOTA)
		if b == nil {
			return nil
		}
		if v := b.Get(keyState); v != nil {
			if err := json.Unmarshal(v, st); err != nil {
				return fmt.Errorf("OTA state %s: %w", s.path, err)
			}
		}
		return nil
	})
	return st, err
}

// save writes the state and appends events to the history, in one transaction.
func (s store) save(st *State, events ...Event) error {
	db, err := s.open()
	if err != nil {
		return err
	}
	defer db.Close()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		ob, err := tx.CreateBucketIfNotExists(bucketOTA)
		if err != nil {
			return err
		}
		if err := ob.Put(keyState, b); err != nil {
			return err
		}
		hb, err := tx.CreateBucketIfNotExists(bucketHistory)
		if err != nil {
			return err
		}
		for _, e := range events {
			if e.Time.IsZero() {
				e.Time = time.Now().UTC()
			}
			seq, _ := hb.NextSequence()
			k := make([]byte, 8)
			binary.BigEndian.PutUint64(k, seq)
			v, _ := json.Marshal(e)
			if err := hb.Put(k, v); err != nil {
				return err
			}
		}
		// Keep the newest 1000 entries.
		if n := hb.Stats().KeyN; n > 1000 {
			c := hb.Cursor()
			for k, _ := c.First(); k != nil && n > 1000; k, _ = c.Next() {
				if err := c.Delete(); err != nil {
					return err
				}
				n--
			}
		}
		return nil
	})
}

// history returns the newest n events, newest first.
func (s store) history(n int) ([]Event, error) {
	if _, err := os.Stat(s.path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := s.open()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var out []Event
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHistory)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			var e Event
			if json.Unmarshal(v, &e) == nil {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}
