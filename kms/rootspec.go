package kms

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/attestkms/attestkms/kms/internal/p11"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// Where the root key lives (Options.RootKey): a spec names a provider and
// its argument.
//
//	file:PATH      a file holding the key as base64 (mode 0600). The
//	               default, file:DataDir/root.key, keeps the two-command
//	               start working, and is the weakest place: a copy of the
//	               data directory is a copy of every key.
//	env:VAR        base64 in an environment variable: a secret manager's
//	               injection, a systemd credential (LoadCredential= and
//	               ${CREDENTIALS_DIRECTORY} read into it by a wrapper).
//	pkcs11:…       an RFC 7512 PKCS#11 URI naming an AES-256 key that never
//	               leaves its token (package sealer: every value's data key
//	               is wrapped by the token). Only in a build with the
//	               pkcs11 tag (cgo); the PIN is Options.PKCS11PIN.
//
// Nothing key-like is written to the data directory unless the spec is the
// default file.

// RootKeyKind is the provider of a root key spec.
type RootKeyKind string

const (
	RootKeyFile   RootKeyKind = "file"
	RootKeyEnv    RootKeyKind = "env"
	RootKeyPKCS11 RootKeyKind = "pkcs11"
)

// rootKey is a parsed root key spec.
type rootKey struct {
	kind RootKeyKind
	arg  string // file: the path; env: the variable; pkcs11: the whole URI
	pin  string // pkcs11: the PIN
	// mustMake: a file: key must be made now, never read from a file
	// already there (an online rotation: see checkOnlineTarget).
	mustMake bool
}

// String is the spec as given, never with a PIN (a pkcs11 URI with one is
// refused by its parser).
func (r rootKey) String() string {
	if r.kind == RootKeyPKCS11 {
		return r.arg
	}
	return string(r.kind) + ":" + r.arg
}

// ParseRootKey checks a root key spec's form (not that the key is there).
func ParseRootKey(spec string) (RootKeyKind, error) {
	r, err := parseRootKey(spec)
	return r.kind, err
}

func parseRootKey(spec string) (rootKey, error) {
	kind, arg, ok := strings.Cut(spec, ":")
	switch {
	case !ok:
		return rootKey{}, fmt.Errorf("root key %q: want file:PATH, env:VAR or pkcs11:URI", spec)
	case kind == string(RootKeyFile):
		if arg == "" {
			return rootKey{}, errors.New("root key file: no path")
		}
		return rootKey{kind: RootKeyFile, arg: arg}, nil
	case kind == string(RootKeyEnv):
		if arg == "" || strings.ContainsAny(arg, "=\x00") {
			return rootKey{}, fmt.Errorf("root key env:%s: not a variable name", arg)
		}
		return rootKey{kind: RootKeyEnv, arg: arg}, nil
	case kind == string(RootKeyPKCS11):
		if err := checkPKCS11URI(spec); err != nil {
			return rootKey{}, err
		}
		return rootKey{kind: RootKeyPKCS11, arg: spec}, nil
	}
	return rootKey{}, fmt.Errorf("root key %q: unknown provider %q (want file:, env: or pkcs11:)", spec, kind)
}

// rootKeySpec is the root key opts names: RootKey, else RootKeyFile as a
// file, else DataDir/root.key.
func (o *Options) rootKeySpec() (rootKey, error) {
	switch {
	case o.RootKey != "" && o.RootKeyFile != "":
		return rootKey{}, errors.New("a root key spec and a root key file given: give one (--root-key-file FILE is --root-key file:FILE)")
	case o.RootKey != "":
		r, err := parseRootKey(o.RootKey)
		r.pin = o.PKCS11PIN
		return r, err
	case o.RootKeyFile != "":
		return rootKey{kind: RootKeyFile, arg: o.RootKeyFile}, nil
	}
	return rootKey{kind: RootKeyFile, arg: filepath.Join(o.DataDir, rootKeyFile)}, nil
}

// defaultRootKey reports whether opts names no root key: the file in the
// data directory.
func (o *Options) defaultRootKey() bool { return o.RootKey == "" && o.RootKeyFile == "" }

// RootKeyName names opts's root key as its spec (never with a PIN).
func RootKeyName(opts Options) string {
	r, err := opts.rootKeySpec()
	if err != nil {
		return "the root key"
	}
	if r.kind == RootKeyFile {
		return r.arg
	}
	return r.String()
}

// RootKeyInDataDir reports whether opts's root key is a file inside its
// data directory (the default): serve warns, since a copy of the directory
// is then a copy of every key.
func RootKeyInDataDir(opts Options) bool {
	r, err := opts.rootKeySpec()
	if err != nil || r.kind != RootKeyFile || opts.DataDir == "" {
		return false
	}
	dir, err1 := filepath.Abs(opts.DataDir)
	file, err2 := filepath.Abs(r.arg)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(dir, file)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// openRootKey makes the sealer of r. create makes the key where it is
// absent (Init, and a rotation's target): a new random file, a key
// generated inside the token; an environment variable is never made.
// made reports that it did.
func openRootKey(r rootKey, create bool) (sl *sealer.Sealer, made bool, err error) {
	switch r.kind {
	case RootKeyFile:
		var root []byte
		if r.mustMake {
			// createRootKey links its file into place: it fails if
			// anything is at the path, whenever it got there.
			root, err = createRootKey(r.arg)
			if errors.Is(err, fs.ErrExist) {
				err = fmt.Errorf("root key: %s exists: an online rotation makes its new root key file itself and reads none already there (rotate into an existing file offline: attestkms root-key rotate --data-dir … --to file:…)", r.arg)
			}
			made = err == nil
		} else if _, statErr := os.Stat(r.arg); statErr == nil || !create {
			root, err = readRootKey(r.arg)
		} else if errors.Is(statErr, os.ErrNotExist) {
			root, err = createRootKey(r.arg)
			made = err == nil
		} else {
			err = fmt.Errorf("root key: %w", statErr)
		}
		if err != nil {
			return nil, false, err
		}
		sl, err = sealer.New(root)
		clear(root)
		return sl, made, err
	case RootKeyEnv:
		root, err := rootKeyFromEnv(r.arg)
		if err != nil {
			return nil, false, err
		}
		sl, err = sealer.New(root)
		clear(root)
		return sl, false, err
	case RootKeyPKCS11:
		w, made, err := openPKCS11(r.arg, r.pin, create)
		if err != nil {
			return nil, false, err
		}
		sl, err := sealer.NewWrapped(w)
		if err != nil {
			w.Close()
			return nil, false, err
		}
		return sl, made, nil
	}
	return nil, false, fmt.Errorf("root key %s: unknown provider", r)
}

// rootKeyFromEnv decodes the base64 root key in variable name.
func rootKeyFromEnv(name string) ([]byte, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return nil, fmt.Errorf("root key env:%s: the variable is not set (generate one with: openssl rand -base64 32)", name)
	}
	text := strings.TrimSpace(v)
	k := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(k, []byte(text))
	if err != nil || n != sealer.RootKeySize {
		clear(k)
		return nil, fmt.Errorf("root key env:%s is not %d bytes of base64", name, sealer.RootKeySize)
	}
	return k[:n], nil
}

// checkRoot is store.CheckRoot in kms's errors: ErrRootKeyMismatch naming
// the root key opts names, or the device's error if it did not answer.
func checkRoot(sl *sealer.Sealer, m *store.Meta, opts Options) error {
	err := store.CheckRoot(sl, m)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sealer.ErrUnavailable):
		return fmt.Errorf("%s: %w", opts.rootKeyName(), err)
	}
	return fmt.Errorf("%w (%s; a store rotated to another root key opens only under that one)", ErrRootKeyMismatch, opts.rootKeyName())
}

// checkPKCS11URI checks a pkcs11: URI's form (RFC 7512, package p11's
// parser: no cgo needed), in every build.
func checkPKCS11URI(spec string) error {
	_, err := p11.ParseURI(spec)
	return err
}
