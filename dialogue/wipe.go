package dialogue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Wipe deletes every conversation, turn and cached embedding by overwriting the file
// with zeros and removing it (see WipeFile), then starts a new empty file at the same
// path. If reopening fails the Store is closed.
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

// wipeSuffix marks a store file that a wipe has moved aside and not yet destroyed.
const wipeSuffix = ".wiping"

// WipeFile destroys the store file at path without opening it as a database, so it
// also works on a damaged store (but refuses, with ErrNotStore, a file that has no
// bbolt header at all). It takes the file's lock (failing with ErrInUse while a
// scope process has it open), renames it to path+".wiping", overwrites it with zeros,
// syncs and removes it. It reports whether there was a file; a missing file is not an
// error.
//
// The rename comes first so that a crash part-way leaves either the whole store at
// path or none; Open (and the next WipeFile) finish destroying a left-over ".wiping"
// file. Overwriting removes the data from the file system's view; on flash storage
// old blocks may survive below it until the device reuses them (use full-disk
// encryption where that matters).
//
// Before it touches anything it makes sure the file is a SCOPE store: the names of
// the file's root buckets are read from the file itself (so a damaged store still
// qualifies), and a file with buckets SCOPE does not make (another program's bbolt
// database) is refused with ErrNotStore, as is a file whose root cannot be read
// (ErrUnverified): WipeUnverifiedFile destroys that one when the user says so.
func WipeFile(path string) (existed bool, err error) {
	return wipeFile(path, false)
}

// WipeUnverifiedFile is WipeFile for a bbolt file whose root page is too damaged to tell
// whose it is. It still refuses a file that names another program's buckets.
func WipeUnverifiedFile(path string) (existed bool, err error) {
	return wipeFile(path, true)
}

// ErrUnverified: the file is a bbolt file but too damaged to tell whether it is SCOPE's.
var ErrUnverified = errors.New("cannot tell whether this is a SCOPE dialogue store")

// storeBuckets are the root buckets a SCOPE store has (schema.go).
var storeBuckets = map[string]bool{string(bucketMeta): true, string(bucketConvs): true, string(bucketTurns): true,
	string(bucketActivity): true, string(bucketEmbeddings): true}

// Whose tells whether the file at path is a SCOPE store without opening it as a
// database: nil for one (or an empty file), ErrNotStore naming a foreign bucket or
// saying it is not bbolt, ErrUnverified when the root cannot be read.
func Whose(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return whose(f, path)
}

func whose(f *os.File, path string) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() == 0 {
		return nil
	}
	if !looksLikeBolt(f) {
		return fmt.Errorf("%w: %s has no bbolt header, so it is not scope's file (check --db or dialogue.path)", ErrNotStore, path)
	}
	names, ok := rootBuckets(f)
	if !ok {
		return fmt.Errorf("%w: %s is a bbolt file whose root page cannot be read", ErrUnverified, path)
	}
	meta := false
	for _, n := range names {
		if !storeBuckets[n] {
			return fmt.Errorf("%w: %s is another program's bbolt database (it has a bucket %q, which scope never makes); check --db or dialogue.path", ErrNotStore, path, n)
		}
		meta = meta || n == string(bucketMeta)
	}
	if len(names) > 0 && !meta {
		return fmt.Errorf("%w: %s has buckets %q but no %q bucket, so it is not a scope store", ErrNotStore, path, names, bucketMeta)
	}
	return nil
}

func wipeFile(path string, unverified bool) (existed bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return wipeLeftovers(path)
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
	if err := whose(f, path); err != nil && !(unverified && errors.Is(err, ErrUnverified)) {
		return true, fmt.Errorf("not wiping: %w; nothing was changed", err)
	}
	if err := lockFile(f); err != nil {
		return true, fmt.Errorf("wiping dialogue store %s: %w (stop the scope daemon first): %v", path, ErrInUse, err)
	}
	// Still holding the lock, so no other process opens the old file meanwhile.
	if err := os.Rename(path, path+wipeSuffix); err != nil {
		return true, fmt.Errorf("wiping dialogue store %s: %w", path, err)
	}
	syncDir(path)
	if err := destroy(f, path+wipeSuffix, info.Size()); err != nil {
		return true, fmt.Errorf("wiping dialogue store %s: %w", path, err)
	}
	_, err = wipeLeftovers(path)
	return true, err
}

// wipeLeftovers destroys what interrupted wipes and compactions left beside path (a
// compaction's partial copy holds conversations too). The caller holds the store's
// lock, or there is no store.
func wipeLeftovers(path string) (found bool, err error) {
	found, err = finishWipe(path)
	if err != nil {
		return found, err
	}
	if _, serr := os.Lstat(path + compactSuffix); serr == nil {
		found = true
	}
	return found, destroyLeftover(path + compactSuffix)
}

// finishWipe destroys a ".wiping" file that an interrupted wipe left beside path.
func finishWipe(path string) (found bool, err error) {
	aside := path + wipeSuffix
	if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err := destroyLeftover(aside); err != nil {
		return true, fmt.Errorf("finishing an interrupted wipe: %w", err)
	}
	return true, nil
}

// looksLikeBolt reports whether f starts with a bbolt meta page at either of its two
// places (page 0, or page 1 at a common page size), so that a wipe can destroy a
// damaged store but not a file that --db named by mistake.
func looksLikeBolt(f *os.File) bool {
	const magic = 0xED0CDAED // bbolt's meta page marker, after the 16-byte page header
	for _, off := range []int64{16, 4096 + 16, 16384 + 16, 65536 + 16} {
		var b [4]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			continue
		}
		if binary.LittleEndian.Uint32(b[:]) == magic || binary.BigEndian.Uint32(b[:]) == magic {
			return true
		}
	}
	return false
}

// destroy overwrites the open file f (at path) with zeros, syncs it and removes it.
func destroy(f *os.File, path string, size int64) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(zeros)))
		if _, err := f.Write(zeros[:n]); err != nil {
			return fmt.Errorf("overwriting: %w", err)
		}
		left -= n
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	syncDir(path)
	return nil
}

// syncDir makes a rename or removal in path's folder durable.
func syncDir(path string) {
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
