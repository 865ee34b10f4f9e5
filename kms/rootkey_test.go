package kms

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadRootKey: the raw and base64 forms are read; a file readable by
// others, of the wrong length, or too long to be a root key (a link to a
// device or a huge file named by mistake: read with a bound, never whole)
// is refused, and says why.
func TestReadRootKey(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{0x5a}, 32)
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, p := range []string{
		write("raw", key, 0o600),
		write("b64", []byte("\n  "+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600),
	} {
		k, err := readRootKey(p)
		if err != nil || !bytes.Equal(k, key) {
			t.Fatalf("%s: %x, %v", p, k, err)
		}
	}
	for _, tc := range []struct {
		path, want string
	}{
		{write("open", key, 0o644), "readable by others"},
		{write("short", key[:31], 0o600), "not 32 bytes of base64"},
		{write("huge", bytes.Repeat([]byte("A"), 1<<20), 0o600), "longer than 1024 bytes"},
		{filepath.Join(dir, "absent"), "no such file"},
	} {
		if _, err := readRootKey(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to say %q", tc.path, err, tc.want)
		}
	}
	// A device without end is refused at the bound, not read forever.
	if _, err := os.Stat("/dev/zero"); err == nil {
		link := filepath.Join(dir, "zero")
		if err := os.Symlink("/dev/zero", link); err != nil {
			t.Fatal(err)
		}
		// /dev/zero's mode is 0666: the mode check refuses it first;
		// the bound is what the huge file above proves.
		if _, err := readRootKey(link); err == nil {
			t.Error("/dev/zero: a root key")
		}
	}
}
