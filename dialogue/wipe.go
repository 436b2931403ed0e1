package dialogue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Wipe deletes every conversation, turn and cached embedding by overwriting the file
// with zeros and removing it, then starts a new empty file at the same path. Unlike
// deleting records (whose bytes bbolt leaves in free pages until reused), nothing of
// the old conversations stays in the file. If reopening fails the Store is closed.
func (s *Store) Wipe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("wiping dialogue store %s: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return fmt.Errorf("wiping dialogue store %s: %w", s.path, ErrClosed)
	}
	if err := s.db.Close(); err != nil {
		s.db = nil
		return fmt.Errorf("wiping dialogue store %s: closing: %w", s.path, err)
	}
	s.db = nil
	if _, err := WipeFile(s.path); err != nil {
		return err
	}
	db, err := s.openDB()
	if err != nil {
		return fmt.Errorf("wiping dialogue store: the old file is gone, but a new one could not be made: %w", err)
	}
	s.db = db
	s.log.Info("dialogue store wiped", "path", s.path)
	return nil
}

// WipeFile destroys the store file at path without opening it as a database, so it
// also works on a damaged file: it takes the file's lock (failing with ErrInUse while
// a scope process has it open), overwrites the contents with zeros, syncs, and removes
// it. It reports whether there was a file. A missing file is not an error.
//
// Overwriting removes the data from the file system's view; on flash storage the old
// blocks may survive below the file system until the device reuses them (use full-disk
// encryption where that matters).
func WipeFile(path string) (existed bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("wiping dialogue store %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return true, fmt.Errorf("wiping dialogue store %s: %w", path, err)
	}
	if info.IsDir() {
		return true, fmt.Errorf("wiping dialogue store %s: %w: it is a directory", path, ErrInvalid)
	}
	if err := lockFile(f); err != nil {
		return true, fmt.Errorf("wiping dialogue store %s: %w (stop the scope daemon first): %v", path, ErrInUse, err)
	}
	if err := zeroFile(f, info.Size()); err != nil {
		return true, fmt.Errorf("wiping dialogue store %s: overwriting: %w", path, err)
	}
	// Remove while still holding the lock, so that no other process opens the old file
	// between the overwrite and the removal.
	if err := os.Remove(path); err != nil {
		return true, fmt.Errorf("wiping dialogue store %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // make the removal durable
		d.Close()
	}
	return true, nil
}

func zeroFile(f *os.File, size int64) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := int64(len(zeros))
		if left < n {
			n = left
		}
		if _, err := f.Write(zeros[:n]); err != nil {
			return err
		}
		left -= n
	}
	return f.Sync()
}
