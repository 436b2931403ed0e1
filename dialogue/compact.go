package dialogue

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// compactSuffix names the new file a compaction writes before it replaces the store.
const compactSuffix = ".compact"

// scrub rewrites the store into a new file that holds only live records and renames it
// over the old one, so that deleted conversations no longer sit in the file's free
// pages (bbolt frees pages without overwriting them). DeleteConversation and Sweep run
// it after deleting. Readers and the writer wait while it runs: about the time to copy
// the file.
//
// A crash before the rename leaves the old store and a partial ".compact" file, which
// the next Open destroys; after the rename, the new store is complete.
func (s *Store) scrub() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return ErrClosed
	}
	tmp := s.path + compactSuffix
	if err := destroyLeftover(tmp); err != nil {
		return err
	}
	dst, err := bolt.Open(tmp, FileMode, &bolt.Options{})
	if err != nil {
		return fmt.Errorf("compacting dialogue store %s: %w", s.path, err)
	}
	if err := compactSafely(dst, s.db); err != nil {
		dst.Close()
		_ = destroyLeftover(tmp)
		return fmt.Errorf("compacting dialogue store %s: %w", s.path, err)
	}
	if err := dst.Close(); err != nil {
		_ = destroyLeftover(tmp)
		return fmt.Errorf("compacting dialogue store %s: %w", s.path, err)
	}
	// Rename while the old file is still open and locked, so that a process waiting
	// for the lock finds the new file (see openDB) rather than the replaced one.
	if err := os.Rename(tmp, s.path); err != nil {
		_ = destroyLeftover(tmp)
		return fmt.Errorf("compacting dialogue store %s: %w", s.path, err)
	}
	syncDir(s.path)
	if err := s.db.Close(); err != nil {
		s.log.Warn("closing the dialogue store's old file after compaction", "path", s.path, "err", err)
	}
	s.db = nil
	db, err := s.openDB()
	if err != nil {
		return fmt.Errorf("compacting dialogue store: reopening: %w", err)
	}
	s.db = db
	return nil
}

// compactSafely copies src into dst, turning a panic or memory fault that a damaged
// src causes into an error.
func compactSafely(dst, src *bolt.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return bolt.Compact(dst, src, 4<<20)
}

// destroyLeftover zeroes and removes path if it exists.
func destroyLeftover(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing left-over %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err == nil {
		err = destroy(f, path, info.Size())
	}
	if err != nil {
		return fmt.Errorf("removing left-over %s: %w", path, err)
	}
	return nil
}
