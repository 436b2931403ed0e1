package ota

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/fetcher"
)

// ErrTooLarge is wrapped when a target is larger than the device accepts.
var ErrTooLarge = errors.New("bundle is larger than ota.max_bundle_mb allows")

// ErrHashMismatch is wrapped when a downloaded bundle differs from its signed length or hash.
var ErrHashMismatch = errors.New("downloaded bundle does not match its signed length and hash")

// repoURL turns a repository setting into a URL: http(s) URLs stay, a folder (or file://
// URL) becomes file:///abs/path.
func repoURL(s string) (string, error) {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return strings.TrimRight(s, "/"), nil
	}
	p := strings.TrimPrefix(s, "file://")
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return "", fmt.Errorf("repository %s is not a folder (give an http(s):// URL or a published repository folder)", s)
	}
	return "file://" + filepath.ToSlash(abs), nil
}

func isFileURL(u string) bool { return strings.HasPrefix(u, "file://") }

func filePath(u string) string { return filepath.FromSlash(strings.TrimPrefix(u, "file://")) }

// dirFetcher serves TUF metadata from a folder (a USB stick holding a published repository).
type dirFetcher struct{}

func (dirFetcher) DownloadFile(u string, maxLength int64, _ time.Duration) ([]byte, error) {
	f, err := os.Open(filePath(u))
	if errors.Is(err, os.ErrNotExist) {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: u}
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLength+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is longer than %d bytes", u, maxLength)}
	}
	return b, nil
}

func newFetcher(remote string, client *http.Client) fetcher.Fetcher {
	if isFileURL(remote) {
		return dirFetcher{}
	}
	f := fetcher.NewDefaultFetcher()
	f.SetHTTPClient(client)
	f.SetHTTPUserAgent("scope-ota")
	return f
}

// download fetches the target at u into part, resuming from what part already holds, and
// reading no more than length bytes in all. progress is called after each chunk with the
// bytes so far.
func download(ctx context.Context, client *http.Client, u, part string, length int64, progress func(int64)) error {
	f, err := os.OpenFile(part, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	off := st.Size()
	if off > length {
		off = 0
	}
	if off == length {
		return nil
	}
	var body io.ReadCloser
	if isFileURL(u) {
		in, err := os.Open(filePath(u))
		if err != nil {
			return fmt.Errorf("bundle %s: %w", filePath(u), err)
		}
		if _, err := in.Seek(off, io.SeekStart); err != nil {
			in.Close()
			return err
		}
		body = in
	} else {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "scope-ota")
		if off > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("downloading %s: %w", u, err)
		}
		switch {
		case resp.StatusCode == http.StatusPartialContent && off > 0:
		case resp.StatusCode == http.StatusOK:
			off = 0 // the server ignored the range: start again
		default:
			resp.Body.Close()
			return fmt.Errorf("downloading %s: HTTP %s", u, resp.Status)
		}
		body = resp.Body
	}
	defer body.Close()
	if err := f.Truncate(off); err != nil {
		return err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	n := off
	for n < length {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := int64(len(buf))
		if length-n < want {
			want = length - n
		}
		k, rerr := body.Read(buf[:want])
		if k > 0 {
			if _, err := f.Write(buf[:k]); err != nil {
				return err
			}
			n += int64(k)
			if progress != nil {
				progress(n)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("downloading %s: %w (the next try resumes at byte %d)", u, rerr, n)
		}
	}
	if n < length {
		return fmt.Errorf("downloading %s: the server sent %d of %d bytes (the next try resumes)", u, n, length)
	}
	return f.Sync()
}

// verifyTarget checks a downloaded file's length and every hash TUF signed for it.
func verifyTarget(p string, tf *metadata.TargetFiles) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	hs := map[string]hash.Hash{}
	var ws []io.Writer
	for alg := range tf.Hashes {
		var h hash.Hash
		switch alg {
		case "sha256":
			h = sha256.New()
		case "sha512":
			h = sha512.New()
		default:
			continue
		}
		hs[alg] = h
		ws = append(ws, h)
	}
	if len(hs) == 0 {
		return fmt.Errorf("%w: target %s has no sha256 or sha512 hash", ErrHashMismatch, tf.Path)
	}
	n, err := io.Copy(io.MultiWriter(ws...), f)
	if err != nil {
		return err
	}
	if n != tf.Length {
		return fmt.Errorf("%w: %s is %d bytes, signed length %d", ErrHashMismatch, tf.Path, n, tf.Length)
	}
	for alg, h := range hs {
		if got := hex.EncodeToString(h.Sum(nil)); got != hex.EncodeToString(tf.Hashes[alg]) {
			return fmt.Errorf("%w: %s has %s %s, signed %s", ErrHashMismatch, tf.Path, alg, got, hex.EncodeToString(tf.Hashes[alg]))
		}
	}
	return nil
}

// targetURL is where a consistent-snapshot repository serves a target.
func targetURL(remote string, tf *metadata.TargetFiles) string {
	dir, base := "", tf.Path
	if i := strings.LastIndex(tf.Path, "/"); i >= 0 {
		dir, base = tf.Path[:i+1], tf.Path[i+1:]
	}
	h := hex.EncodeToString(tf.Hashes["sha256"])
	if isFileURL(remote) {
		return remote + "/targets/" + dir + h + "." + base
	}
	return remote + "/targets/" + dir + url.PathEscape(h+"."+base)
}
