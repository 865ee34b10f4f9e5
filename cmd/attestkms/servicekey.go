package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/attestkms/attestkms/answer"

	"github.com/attestkms/attestkms/kms"
)

const serviceKeyUsage = `Usage: attestkms service-key [--data-dir DIR] [--root-key SPEC]
       attestkms service-key --store postgres://USER@HOST:PORT/DB?sslmode=… --root-key-file FILE
       attestkms service-key --endpoint URL

Prints the service's answer-signing public key(s) (Ed25519), PEM, each after
a comment line with its SHA-256 fingerprint (of its SubjectPublicKeyInfo):
the key an enclave pins (enclavetool --service-key FILE|FINGERPRINT) to
refuse answers its host forged or replayed (docs/answers.md). A running
server gives the same at GET /service-key (unauthenticated: it is public).

An embedded store is read while no server holds it; a store made before
answers were signed has no key until a server has opened it once. With
--endpoint, the running server's GET /service-key is printed, checked to be
Ed25519 public keys (fetch it over TLS, or on the server's own host: what an
enclave pins must not come through the host it will run on).

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
	endpoint := fs.String("endpoint", "", "print the running server's GET /service-key instead: its `URL`")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *endpoint != "" {
		return fetchServiceKey(strings.TrimSuffix(*endpoint, "/")+"/service-key", stdout)
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

// maxServiceKeys bounds what fetchServiceKey reads: a key's text is under
// 250 bytes, and a store holds a few.
const maxServiceKeys = 64 << 10

// fetchServiceKey prints url's service keys once they parse as such.
func fetchServiceKey(url string, stdout io.Writer) error {
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxServiceKeys))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if _, err := answer.ParsePEM(b); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	_, err = stdout.Write(b)
	return err
}
