package kms

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/attestkms/attestkms/kms/internal/sealer"
)

// The root key file holds the 32-byte root key as standard base64 and a
// newline (raw 32 bytes are accepted too), readable by its owner only.

func readRootKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("root key %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	// Read with a bound: the operator names the file, and a link to
	// /dev/zero or a huge file by mistake must not be read without end. A
	// root key is 32 bytes, or their base64 with some whitespace.
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	defer f.Close()
	raw := make([]byte, maxRootKeyFile+1)
	defer clear(raw)
	n, err := io.ReadFull(f, raw)
	switch {
	case err == nil:
		return nil, fmt.Errorf("root key %s is longer than %d bytes: not a root key", path, maxRootKeyFile)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
	default:
		return nil, fmt.Errorf("root key: %w", err)
	}
	raw = raw[:n]
	if len(raw) == sealer.RootKeySize {
		return bytes.Clone(raw), nil
	}
	text := bytes.TrimSpace(raw)
	k := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	m, err := base64.StdEncoding.Decode(k, text)
	if err != nil || m != sealer.RootKeySize {
		clear(k)
		return nil, fmt.Errorf("root key %s is not %d bytes of base64", path, sealer.RootKeySize)
	}
	return k[:m], nil
}

// maxRootKeyFile bounds what readRootKey reads of a root key file.
const maxRootKeyFile = 1024

// createRootKey writes a new random root key to path, failing if it exists.
func createRootKey(path string) ([]byte, error) {
	k := make([]byte, sealer.RootKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	text := base64.StdEncoding.EncodeToString(k) + "\n"
	if err := writeFileSync(path, []byte(text), 0o600); err != nil {
		clear(k)
		return nil, fmt.Errorf("root key: %w", err)
	}
	return k, nil
}

// writeFileSync creates path exclusively with data, all or nothing: data
// goes to a temporary file beside it, synced, then linked to path (which,
// like O_EXCL, fails if path exists), and the directory is synced. A crash
// at any instant leaves path absent or whole — never empty, which would
// make every rerun of what made it (init, a root-key rotation) refuse —
// and at worst a stray temporary file.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	return putFileSync(path, data, perm, os.Link)
}

// putFileSync writes data, mode perm, to a synced temporary file beside
// path, puts it at path with place (os.Link: never over a file there;
// os.Rename: replacing it) and syncs the directory.
func putFileSync(path string, data []byte, perm os.FileMode, place func(tmp, path string) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := place(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
