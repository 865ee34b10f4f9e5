package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/attestkms/attestkms/kms"
)

// pinEnv is the environment variable a PKCS#11 token's user PIN may come
// from, when --pkcs11-pin-file is not given. Never a flag: a command line
// is visible to every user of the machine.
const pinEnv = "ATTESTKMS_PKCS11_PIN"

// maxPINFile bounds what readPIN reads of a --pkcs11-pin-file.
const maxPINFile = 4096

// rootKeyFlags are --root-key SPEC, its synonym --root-key-file FILE (=
// file:FILE) and --pkcs11-pin-file, shared by init, serve and the offline
// commands.
type rootKeyFlags struct {
	spec, file, pinFile string
}

func (f *rootKeyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.spec, "root-key", "", "where the root key lives: `file:PATH`, env:VAR (base64) or an RFC 7512 pkcs11: URI (default file:DIR/root.key)")
	fs.StringVar(&f.file, "root-key-file", "", "the root key's `file`: the same as --root-key file:FILE")
	fs.StringVar(&f.pinFile, "pkcs11-pin-file", "", "read a pkcs11: root key's token PIN from this `file` (mode 0600; default: $"+pinEnv+")")
}

// given reports whether a root key was named (else: the default file).
func (f *rootKeyFlags) given() bool { return f.spec != "" || f.file != "" }

// check refuses two names for the root key, a spec of no known form and a
// PIN file without a pkcs11: root key.
func (f *rootKeyFlags) check() error {
	if f.spec != "" && f.file != "" {
		return usageError("--root-key and --root-key-file name the root key twice: give one (--root-key-file FILE is --root-key file:FILE)")
	}
	kind := kms.RootKeyFile
	if f.spec != "" {
		var err error
		if kind, err = kms.ParseRootKey(f.spec); err != nil {
			return usageError("--root-key: %v", err)
		}
	}
	if f.pinFile != "" && kind != kms.RootKeyPKCS11 {
		return usageError("--pkcs11-pin-file goes with --root-key pkcs11:…")
	}
	return nil
}

// flag is the root key as the command line named it, to repeat in hints.
func (f *rootKeyFlags) flag() string {
	switch {
	case f.spec != "":
		return "--root-key " + shellQuote(f.spec)
	case f.file != "":
		return "--root-key-file " + shellQuote(f.file)
	}
	return ""
}

// shellQuote quotes s for a POSIX shell when it holds more than the
// characters of plain paths and URIs.
func shellQuote(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-:=,+@%", c)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// pkcs11 reports whether the root key is a token's.
func (f *rootKeyFlags) pkcs11() bool { return strings.HasPrefix(f.spec, "pkcs11:") }

// apply sets opts's root key, and reads a token's PIN.
func (f *rootKeyFlags) apply(opts *kms.Options) error {
	if err := f.check(); err != nil {
		return err
	}
	opts.RootKey, opts.RootKeyFile = f.spec, f.file
	if !f.pkcs11() {
		// Kept for a later rotation to a token (root-key rotate
		// --endpoint): the server's own PIN, never sent.
		opts.PKCS11PIN = os.Getenv(pinEnv)
		return nil
	}
	pin, err := readPIN(f.pinFile)
	if err != nil {
		return err
	}
	opts.PKCS11PIN = pin
	return nil
}

// readPIN reads a token's user PIN from file (mode 0600, one line), else
// from $ATTESTKMS_PKCS11_PIN.
func readPIN(file string) (string, error) {
	if file == "" {
		pin, ok := os.LookupEnv(pinEnv)
		if !ok || pin == "" {
			return "", withHint(fmt.Errorf("a pkcs11: root key needs its token's PIN"), "give it in a file (--pkcs11-pin-file FILE, mode 0600) or in $"+pinEnv+"; never on the command line")
		}
		return pin, nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return "", readError(fmt.Errorf("--pkcs11-pin-file: %w", err))
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", withHint(fmt.Errorf("--pkcs11-pin-file %s is readable by others (mode %v)", file, fi.Mode().Perm()), "chmod 600 it")
	}
	// A PIN is short: read no more than maxPINFile bytes of whatever the
	// flag names (a device, a FIFO, a huge file).
	fh, err := os.Open(file)
	if err != nil {
		return "", readError(fmt.Errorf("--pkcs11-pin-file: %w", err))
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxPINFile+1))
	fh.Close()
	if err != nil {
		return "", readError(fmt.Errorf("--pkcs11-pin-file: %w", err))
	}
	if len(b) > maxPINFile {
		clear(b)
		return "", fmt.Errorf("--pkcs11-pin-file %s must hold the PIN alone, on one line", file)
	}
	pin := strings.TrimRight(string(b), "\r\n")
	if pin == "" || strings.ContainsAny(pin, "\r\n") {
		return "", fmt.Errorf("--pkcs11-pin-file %s must hold the PIN alone, on one line", file)
	}
	return pin, nil
}
