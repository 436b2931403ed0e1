package dialogue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Errors callers can test with errors.Is. The errors a Store returns wrap these with
// the operation, the file and, where it helps, what the user can do.
var (
	// ErrNotFound: the conversation (or embedding) does not exist, or was deleted.
	ErrNotFound = errors.New("not found")
	// ErrClosed: the Store was closed (or a failed Wipe left it closed).
	ErrClosed = errors.New("dialogue store is closed")
	// ErrNotStore: the file exists but is not a SCOPE dialogue store (another program's
	// bbolt file, a truncated file, or not a bbolt file at all).
	ErrNotStore = errors.New("not a SCOPE dialogue store")
	// ErrSchemaTooNew: the file was written by a newer scope with a schema this build
	// cannot read. Upgrade scope, or point it at another file.
	ErrSchemaTooNew = errors.New("dialogue store schema is newer than this scope")
	// ErrInUse: another process (usually the scope daemon) holds the file.
	ErrInUse = errors.New("dialogue store is in use by another process")
	// ErrNoStore: Options.MustExist was set and there is no file.
	ErrNoStore = errors.New("no dialogue store")
	// ErrInvalid: a turn or argument that the store refuses (unknown speaker, empty turn).
	ErrInvalid = errors.New("invalid argument")
	// ErrCorrupt: a record inside the file could not be read back.
	ErrCorrupt = errors.New("dialogue store is corrupt")
)

// FileMode is the permission of the store file: conversation text is personal data,
// so only the owning user may read it.
const FileMode os.FileMode = 0o600

// Options configures Open. The zero value keeps conversations forever and logs nothing.
type Options struct {
	// Retention is how long a conversation is kept after its last turn; older ones,
	// and embeddings older than this, are deleted by a timer. 0 keeps everything.
	Retention time.Duration
	// RetentionInterval is how often the timer runs. 0 means Retention/4, at most an
	// hour and at least a second.
	RetentionInterval time.Duration
	// Now is the clock for timestamps and retention; nil means time.Now. Tests move it.
	Now func() time.Time
	// Logger receives retention runs, migrations and repairs; nil discards them.
	Logger *slog.Logger
	// LockTimeout is how long Open waits while another process holds the file before
	// it fails with ErrInUse. 0 means 2 s; a negative value waits forever.
	LockTimeout time.Duration
	// MustExist makes Open fail with ErrNoStore instead of creating a missing file
	// (command-line tools that only read or delete use it).
	MustExist bool
	// Quarantine moves a damaged store aside (to <path>.damaged-<time>, kept for
	// recovery, never deleted) and starts an empty one, instead of failing: for the
	// daemon, which must keep interpreting. Another program's file (by its buckets), a
	// store in use and one of a newer schema are never moved.
	// Quarantined reports the file moved aside.
	Quarantine bool
	// ReadOnly opens an existing file without ever writing to it (no migration, no
	// mode change, no retention, no clean-up of leftovers): for tools that only look,
	// so that they work on a read-only file and never write into a damaged one. The
	// file must already have this build's schema. Writing methods fail.
	ReadOnly bool
}

// Store is a dialogue store backed by one bbolt file. Its methods are safe for
// concurrent use: one write transaction runs at a time, and any number of readers run
// beside it on consistent snapshots. Results are copies; no lock or transaction is held
// after a method returns.
type Store struct {
	path string
	opts Options
	log  *slog.Logger
	now  func() time.Time
	migs []migration

	// mu guards db: methods hold it shared for the length of one transaction; Wipe
	// and Close hold it exclusively while they replace or close the file.
	mu sync.RWMutex
	db *bolt.DB

	stop context.CancelFunc
	done sync.WaitGroup

	quarantined string // where Open moved a damaged store (Options.Quarantine)
}

// Quarantined is the path a damaged store was moved to when this Store was opened with
// Options.Quarantine, or "".
func (s *Store) Quarantined() string { return s.quarantined }

// damaged reports whether err from opening path means the file is a damaged SCOPE store
// (and not another program's file, a store in use or of a newer schema).
func damaged(path string, err error) bool {
	if !errors.Is(err, ErrNotStore) && !errors.Is(err, ErrCorrupt) {
		return false
	}
	if errors.Is(err, ErrInUse) || errors.Is(err, ErrSchemaTooNew) {
		return false
	}
	if st, serr := os.Stat(path); serr != nil || !st.Mode().IsRegular() {
		return false
	}
	// A file too damaged to tell is moved too: moving keeps every byte, and the file
	// sits where scope's configuration puts its store. A file that names another
	// program's buckets is never moved.
	werr := Whose(path)
	return werr == nil || errors.Is(werr, ErrUnverified)
}

// Open opens (creating it if needed, unless Options.MustExist) the dialogue store at
// path, migrates it to the current schema and, if Options.Retention is set, deletes
// expired conversations now and then on a timer until Close.
func Open(path string, opts Options) (*Store, error) {
	return openWith(path, opts, migrations)
}

func openWith(path string, opts Options, migs []migration) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("opening dialogue store: %w: empty path (set --db or dialogue.path)", ErrInvalid)
	}
	if opts.Retention < 0 {
		return nil, fmt.Errorf("opening dialogue store %s: %w: negative retention %v", path, ErrInvalid, opts.Retention)
	}
	if opts.ReadOnly {
		opts.MustExist = true
		opts.Retention = 0 // retention deletes: not for a read-only look
	}
	s := &Store{path: path, opts: opts, log: opts.Logger, now: opts.Now, migs: migs}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	db, err := s.openDB()
	if err != nil && opts.Quarantine && !opts.ReadOnly && damaged(path, err) {
		aside := fmt.Sprintf("%s.damaged-%s", path, s.now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("%w (moving it aside failed too: %v)", err, rerr)
		}
		syncDir(path)
		s.log.Error("the dialogue store was damaged: moved aside, starting an empty one", "damaged", aside, "error", err)
		s.quarantined = aside
		db, err = s.openDB()
	}
	if err != nil {
		return nil, err
	}
	s.db = db
	if opts.Retention > 0 {
		if _, err := s.Sweep(context.Background()); err != nil {
			_ = db.Close()
			return nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.stop = cancel
		s.done.Add(1)
		go s.retentionLoop(ctx)
	}
	return s, nil
}

// Path returns the file the store lives in.
func (s *Store) Path() string { return s.path }

// Close stops the retention timer and closes the file. It waits for running
// transactions to finish. Closing twice is harmless.
func (s *Store) Close() error {
	if s.stop != nil {
		s.stop()
		s.done.Wait()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if err != nil {
		return fmt.Errorf("closing dialogue store %s: %w", s.path, err)
	}
	return nil
}

// openDB opens the bbolt file, checks that it is ours and runs pending migrations.
func (s *Store) openDB() (db *bolt.DB, err error) {
	path := s.path
	info, statErr := os.Stat(path)
	switch {
	case statErr == nil && info.IsDir():
		return nil, fmt.Errorf("opening dialogue store %s: %w: it is a directory; give a file path", path, ErrNotStore)
	case statErr == nil:
	case errors.Is(statErr, os.ErrNotExist):
		if s.opts.MustExist {
			return nil, fmt.Errorf("opening dialogue store %s: %w there (nothing recorded yet, or a different --db/SCOPE_DATA_DIR)", path, ErrNoStore)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating folder for dialogue store %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("opening dialogue store %s: %w", path, statErr)
	}

	timeout := s.opts.LockTimeout
	switch {
	case timeout == 0:
		timeout = 2 * time.Second
	case timeout < 0:
		timeout = 0 // bbolt: wait forever
	}
	// A damaged file can make bbolt panic while it reads pages; report it as a bad
	// file instead of taking the caller down.
	// The file bbolt opened last: a panic inside bbolt.Open leaves it open and locked,
	// and a second Open of the same path in this process would then wait for our own lock.
	var opened *os.File
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				_ = db.Close()
			} else if opened != nil {
				_ = opened.Close() // releases bbolt's flock too
			}
			db, err = nil, fmt.Errorf("opening dialogue store %s: %w: %v (if it is the store and damaged, `scope wipe` starts an empty one)", path, ErrNotStore, r)
		}
	}()
	if statErr == nil {
		if err := preflight(path); err != nil {
			return nil, err
		}
	}
	// A fault while reading the memory map (a file damaged in a way preflight does
	// not see) becomes a panic, recovered above, instead of killing the process.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	for attempt := 0; ; attempt++ {
		var file *os.File
		openFile := func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file, opened = f, f
			return f, err
		}
		db, err = bolt.Open(path, FileMode, &bolt.Options{Timeout: timeout, OpenFile: openFile, ReadOnly: s.opts.ReadOnly})
		if err != nil || attempt == 3 || sameFile(file, path) {
			break
		}
		// While this process waited for the lock, the owner replaced the file
		// (a compaction or a wipe): the lock is on the old one. Open the new one.
		_ = db.Close()
	}
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, fmt.Errorf("opening dialogue store %s: %w (is the scope daemon running? stop it, or use its API)", path, ErrInUse)
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch),
			errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, syscall.EINVAL):
			return nil, fmt.Errorf("opening dialogue store %s: %w: %v (check that --db or dialogue.path names the store; if it is the store and damaged, `scope wipe` starts an empty one)", path, ErrNotStore, err)
		}
		return nil, fmt.Errorf("opening dialogue store %s: %w", path, err)
	}
	if s.opts.ReadOnly {
		if err := s.checkSchema(db); err != nil {
			_ = db.Close()
			return nil, err
		}
		return db, nil
	}
	// Holding the lock, finish what a process killed during a wipe or compaction
	// left beside the store.
	if found, err := wipeLeftovers(path); err != nil {
		_ = db.Close()
		return nil, err
	} else if found {
		s.log.Warn("removed what an interrupted wipe or compaction left beside the dialogue store", "path", path)
	}
	if err := s.migrate(db); err != nil {
		_ = db.Close()
		return nil, err
	}
	// Only now that the file is known to be a store: a copy restored from a backup
	// may be readable by others; tighten it.
	if info, err := os.Stat(path); err == nil && info.Mode().Perm() != FileMode {
		if err := os.Chmod(path, FileMode); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("opening dialogue store %s: setting mode %v: %w", path, FileMode, err)
		}
		s.log.Warn("dialogue store was readable by others; set to 0600", "path", path, "was", info.Mode().Perm())
	}
	return db, nil
}

// sameFile reports whether f is still the file at path.
func sameFile(f *os.File, path string) bool {
	if f == nil {
		return true
	}
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	if errors.Is(err2, os.ErrNotExist) {
		return false // wiped meanwhile: open (create) it again
	}
	return err1 != nil || err2 != nil || os.SameFile(a, b)
}

// view runs fn in a read transaction on a consistent snapshot.
func (s *Store) view(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	return s.tx(ctx, op, false, fn)
}

// update runs fn in a write transaction; it commits (and syncs to disk) when fn
// returns nil and rolls back otherwise.
func (s *Store) update(ctx context.Context, op string, fn func(tx *bolt.Tx) error) error {
	return s.tx(ctx, op, true, fn)
}

func (s *Store) tx(ctx context.Context, op string, write bool, fn func(tx *bolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return fmt.Errorf("%s: %w", op, ErrClosed)
	}
	defer func() {
		if r := recover(); r != nil {
			hint := "run `scope conversations check` to see the damage; `scope wipe` starts an empty store"
			if strings.HasPrefix(op, "checking") {
				hint = "the file is damaged where bbolt cannot even check it: keep a copy if it matters, then `scope wipe` starts an empty store (or restore a backup)"
			}
			err = fmt.Errorf("%s: %w: %s: %v (%s)", op, ErrCorrupt, s.path, r, hint)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	if write {
		err = s.db.Update(fn)
	} else {
		err = s.db.View(fn)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// checkSchema is the read-only part of migrate: the file is a store of this build's
// schema, and nothing is written.
func (s *Store) checkSchema(db *bolt.DB) error {
	latest := s.migs[len(s.migs)-1].version
	return db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			var other []byte
			_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				other = append([]byte(nil), name...)
				return errStop
			})
			if other != nil {
				return fmt.Errorf("opening dialogue store %s: %w: it is a bbolt file of another program (bucket %q)", s.path, ErrNotStore, other)
			}
			return fmt.Errorf("opening dialogue store %s: %w: it holds nothing yet", s.path, ErrNoStore)
		}
		v := meta.Get(keySchema)
		if len(v) != 4 {
			return fmt.Errorf("opening dialogue store %s: %w: schema version is missing or damaged", s.path, ErrNotStore)
		}
		switch have := binary.BigEndian.Uint32(v); {
		case have > latest:
			return fmt.Errorf("opening dialogue store %s: %w: file has schema %d, this scope knows up to %d; upgrade scope or use another --db", s.path, ErrSchemaTooNew, have, latest)
		case have < latest:
			return fmt.Errorf("opening dialogue store %s read-only: it has schema %d and needs migrating to %d, which writes; start scope (or any command that writes) on it once with write access", s.path, have, latest)
		}
		return nil
	})
}
