package dialogue

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
)

// preflight reads the file's two bbolt meta pages itself before bbolt maps the file.
// bbolt trusts the page count in the newest valid meta page and reads pages through
// the memory map; a file shorter than that (a truncated copy, a full disk during a
// copy) makes the process die of SIGBUS, which no recover can catch. So such a file
// is refused here with an error. Files without a valid meta page are left to bbolt,
// which reports them as invalid.
func preflight(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening dialogue store %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening dialogue store %s: %w", path, err)
	}
	if info.Size() == 0 {
		return nil // bbolt initialises an empty file
	}
	best, ok := newestMeta(f)
	if !ok {
		return nil
	}
	need := int64(best.pgid) * int64(best.pageSize)
	if best.pgid > 1<<40 || info.Size() < need {
		return fmt.Errorf("opening dialogue store %s: %w: file is %d bytes but its pages reach %d (truncated copy?); restore a full copy, or run `scope wipe` to start empty",
			path, ErrNotStore, info.Size(), need)
	}
	if best.freelist != noFreelist && best.freelist >= best.pgid {
		return fmt.Errorf("opening dialogue store %s: %w: free-page list at page %d is beyond the file's %d pages; run `scope wipe` to start empty",
			path, ErrNotStore, best.freelist, best.pgid)
	}
	// bbolt panics on a damaged free-page list while opening for writing, with the file
	// mapped and locked, and a recover cannot unmap it: the lock would stay with this
	// process. So the list's page header is checked here first.
	if best.freelist != noFreelist {
		var h [16]byte
		if _, err := f.ReadAt(h[:], int64(best.freelist)*int64(best.pageSize)); err != nil ||
			binary.LittleEndian.Uint64(h[:]) != best.freelist || binary.LittleEndian.Uint16(h[8:])&0x10 == 0 {
			return fmt.Errorf("opening dialogue store %s: %w: its free-page list (page %d) is damaged; restore a copy, or `scope wipe` starts an empty store",
				path, ErrNotStore, best.freelist)
		}
	}
	return nil
}

// noFreelist marks a meta page of a file written without a free-page list.
const noFreelist = ^uint64(0)

// boltMeta is the part of a bbolt meta page preflight needs.
type boltMeta struct {
	root     uint64 // page of the root bucket
	pageSize uint32
	freelist uint64
	pgid     uint64
	txid     uint64
}

// readMeta reads and validates (magic, version, checksum) the meta page at offset.
// bbolt writes it in the machine's byte order; the devices SCOPE runs on (amd64,
// arm64) are little-endian.
func readMeta(f *os.File, offset int64) (boltMeta, bool) {
	// Layout after the 16-byte page header: magic u32, version u32, pageSize u32,
	// flags u32, root bucket (u64 page, u64 sequence), freelist u64, pgid u64,
	// txid u64, checksum u64 (FNV-64a of everything before it).
	var b [64]byte
	if _, err := f.ReadAt(b[:], offset+16); err != nil {
		return boltMeta{}, false
	}
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != 0xED0CDAED || le.Uint32(b[4:]) != 2 {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(b[:56])
	if h.Sum64() != le.Uint64(b[56:]) {
		return boltMeta{}, false
	}
	m := boltMeta{root: le.Uint64(b[16:]), pageSize: le.Uint32(b[8:]), freelist: le.Uint64(b[32:]), pgid: le.Uint64(b[40:]), txid: le.Uint64(b[48:])}
	if m.pageSize < 512 || m.pageSize > 1<<20 {
		return boltMeta{}, false
	}
	return m, true
}

// newestMeta returns the newer of the file's two valid meta pages.
func newestMeta(f *os.File) (boltMeta, bool) {
	best, ok := readMeta(f, 0)
	pageSizes := []int64{4096, 16384, 65536}
	if ok {
		pageSizes = []int64{int64(best.pageSize)}
	}
	for _, ps := range pageSizes {
		if m, ok1 := readMeta(f, ps); ok1 && (!ok || m.txid > best.txid) {
			return m, true
		}
	}
	return best, ok
}

// rootBuckets reads the names of the root buckets from the file itself, without bbolt,
// so that it works on a store bbolt cannot open: the root bucket's page is a leaf
// (SCOPE's few buckets always fit one) whose elements are the bucket names. ok is false
// when the meta pages or the root page cannot be read (the caller cannot tell whose the
// file is).
func rootBuckets(f *os.File) (names []string, ok bool) {
	m, ok := newestMeta(f)
	if !ok || m.root < 2 || m.root >= m.pgid {
		return nil, false
	}
	page := make([]byte, m.pageSize)
	if _, err := f.ReadAt(page, int64(m.root)*int64(m.pageSize)); err != nil {
		return nil, false
	}
	le := binary.LittleEndian
	// Page header: id u64, flags u16, count u16, overflow u32.
	if le.Uint64(page) != m.root {
		return nil, false
	}
	flags, count := le.Uint16(page[8:]), int(le.Uint16(page[10:]))
	if flags&0x02 == 0 && flags&0x01 == 0 {
		return nil, false // neither a leaf nor a branch
	}
	for i := range count {
		// Leaf element: flags u32, pos u32, ksize u32, vsize u32; branch element:
		// pos u32, ksize u32, pgid u64. pos counts from the element itself.
		e := 16 + 16*i
		if e+16 > len(page) {
			return nil, false
		}
		var pos, ksize int
		if flags&0x02 != 0 {
			pos, ksize = int(le.Uint32(page[e+4:])), int(le.Uint32(page[e+8:]))
		} else {
			pos, ksize = int(le.Uint32(page[e:])), int(le.Uint32(page[e+4:]))
		}
		if ksize <= 0 || e+pos+ksize > len(page) {
			return nil, false
		}
		names = append(names, string(page[e+pos:e+pos+ksize]))
	}
	return names, true
}
