package ota

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"scope/models/bundle"
)

// packBundle writes the bundle folder dir as a tar file at dst: the manifest and every
// file it lists, in sorted order with fixed times and owners, so one bundle always packs
// to the same bytes. Files the manifest does not list are not packed.
func packBundle(m *bundle.Manifest, dst string) error {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	names := []string{bundle.ManifestName}
	for _, x := range m.Files {
		names = append(names, x.Path)
	}
	sort.Strings(names[1:])
	dirs := map[string]bool{}
	epoch := time.Unix(0, 0).UTC()
	for _, n := range names {
		for d := path.Dir(n); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var dl []string
	for d := range dirs {
		dl = append(dl, d)
	}
	sort.Strings(dl)
	for _, d := range dl {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	for _, n := range names {
		src := filepath.Join(m.Dir(), filepath.FromSlash(n))
		st, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("packing bundle: %w", err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Size: st.Size(), Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, in)
		in.Close()
		if err != nil {
			return fmt.Errorf("packing %s: %w", src, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// errUnsafeArchive is wrapped when a bundle archive holds something a bundle never does.
var errUnsafeArchive = errors.New("bundle archive is not a plain bundle")

// unpackBundle extracts a tar written by packBundle into dir (which must not exist):
// plain files and folders only, relative paths inside dir, at most limit bytes in all;
// then checks that every file is the manifest or listed by it, and verifies every hash.
func unpackBundle(tarPath, dir string, limit int64) (*bundle.Manifest, error) {
	f, err := os.Open(tarPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	tr := tar.NewReader(f)
	var total int64
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUnsafeArchive, err)
		}
		name := path.Clean(strings.TrimSuffix(h.Name, "/"))
		if name == "." || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || strings.Contains(h.Name, "\\") {
			return nil, fmt.Errorf("%w: entry %q leaves the bundle folder", errUnsafeArchive, h.Name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return nil, err
			}
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("%w: entry %q is not a plain file or folder", errUnsafeArchive, h.Name)
		}
		total += h.Size
		if h.Size < 0 || total > limit {
			return nil, fmt.Errorf("%w: more than %d bytes unpacked", errUnsafeArchive, limit)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUnsafeArchive, err)
		}
		_, err = io.Copy(out, io.LimitReader(tr, h.Size))
		if err == nil {
			err = out.Sync()
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		seen[name] = true
	}
	m, err := bundle.Load(dir)
	if err != nil {
		return nil, err
	}
	listed := map[string]bool{bundle.ManifestName: true}
	for _, x := range m.Files {
		listed[path.Clean(x.Path)] = true
	}
	for n := range seen {
		if !listed[n] {
			return nil, fmt.Errorf("%w: %s is not listed in the manifest", errUnsafeArchive, n)
		}
	}
	if err := m.Verify(); err != nil {
		return nil, err
	}
	return m, syncDir(dir)
}

// syncDir flushes a folder's entries (after creating, renaming or removing in it).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
