package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
)

// HashFile returns a file's sha256 (hex) and size.
func HashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// AddFile hashes the file at rel (a '/'-separated path inside the bundle folder) and lists
// it with role and precision; it returns the new entry, which the caller may complete
// (inputs, outputs).
func (m *Manifest) AddFile(role, rel, precision string) (*File, error) {
	rel = path.Clean(rel)
	sum, n, err := HashFile(filepath.Join(m.dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("bundle file: %w", err)
	}
	for i := range m.Files {
		if m.Files[i].Path == rel {
			m.Files[i] = File{Role: role, Path: rel, Precision: precision, SHA256: sum, Bytes: n}
			return &m.Files[i], nil
		}
	}
	m.Files = append(m.Files, File{Role: role, Path: rel, Precision: precision, SHA256: sum, Bytes: n})
	return &m.Files[len(m.Files)-1], nil
}

// Write validates m and writes it as manifest.json in its folder (through a temporary file
// and a rename, so a reader never sees half a manifest), then sets Hash.
func (m *Manifest) Write() error {
	if m.Format == "" {
		m.Format = FormatRevision
	}
	if err := m.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dst := filepath.Join(m.dir, ManifestName)
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	sum := sha256.Sum256(b)
	m.hash = hex.EncodeToString(sum[:])
	return nil
}
