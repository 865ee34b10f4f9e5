package main

import (
	"context"
	"io"

	"github.com/attestkms/attestkms/kms"
)

const serviceKeyUsage = `Usage: attestkms service-key [--data-dir DIR] [--root-key SPEC]
       attestkms service-key --store postgres://USER@HOST:PORT/DB?sslmode=… --root-key-file FILE

Prints the service's answer-signing public key(s) (Ed25519), PEM, each after
a comment line with its SHA-256 fingerprint (of its SubjectPublicKeyInfo):
the key an enclave pins (enclavetool --service-key FILE|FINGERPRINT) to
refuse answers its host forged or replayed (docs/answers.md). A running
server gives the same at GET /service-key (unauthenticated: it is public).

An embedded store is read while no server holds it; a store made before
answers were signed has no key until a server has opened it once.

Exit status: 0 printed, 1 failure (the store is in use, or has no key yet),
2 usage, 3 unreadable input.
`

func runServiceKey(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("service-key", serviceKeyUsage, stdout, stderr)
	dataDir := fs.String("data-dir", "./attestkms-data", "the store's `directory`")
	var root rootKeyFlags
	root.register(fs)
	var sf storeFlags
	sf.register(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := sf.check(); err != nil {
		return err
	}
	if sf.shared() && !root.given() {
		return usageError("--store postgres://… needs --root-key SPEC (or --root-key-file FILE)")
	}
	opts := kms.Options{DataDir: *dataDir}
	if err := root.apply(&opts); err != nil {
		return err
	}
	if sf.shared() {
		opts.DataDir = ""
	}
	if err := sf.apply(&opts); err != nil {
		return err
	}
	keys, err := kms.StoredServiceKeys(context.Background(), opts)
	if err != nil {
		return err
	}
	_, err = stdout.Write(kms.FormatServiceKeys(keys))
	return err
}
