package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/attestkms/attestkms/kms"
)

const rootKeyUsage = `Usage: attestkms root-key rotate --data-dir DIR [--root-key SPEC] --to SPEC
       attestkms root-key rotate --store postgres://… --data-dir NODE_DIR --root-key SPEC --to SPEC
       attestkms root-key rotate --endpoint URL --credential ADMIN.json --to SPEC

Moves the store to another root key: every version of every key's material
and every credential's secret is opened under the current root key and
sealed under the new one, in one transaction — killed at any instant, the
store opens under exactly one of the two keys, and running the same command
again finishes the work. Then the store is rewritten (compacted) so that
nothing sealed under the old key remains in its file. A PostgreSQL store is
rotated with every node stopped; run VACUUM FULL after (docs/shredding.md).

SPEC is file:PATH (made, random, mode 0600, if it does not exist), env:VAR
(base64 of 32 bytes) or an RFC 7512 pkcs11: URI (the key is generated in
the token, non-extractable, if the object does not exist; built with
-tags pkcs11). The token PIN comes from --pkcs11-pin-file (for --root-key)
and --to-pkcs11-pin-file (for --to), else from $ATTESTKMS_PKCS11_PIN.

With --endpoint, the running server rotates its own store (an embedded
store only): SPEC names a file (an absolute path outside the data
directory) or a variable as the server's host sees them, or a key in the
token the server already uses (a request never makes the server load
another PKCS#11 module: rotate into a token offline); the server uses its
own PIN. Serve with the new --root-key from then on.

The old root key opens no record of the store afterwards, but still opens
backups made before the rotation: keep it with them, or destroy both.

Prints what was resealed as JSON on stdout. Exit status: 0 done (or found
done), 1 refused or failed (nothing changed), 2 usage, 3 unreadable input.

Examples:
  attestkms root-key rotate --data-dir /var/lib/attestkms --to file:/etc/attestkms/root.key
  attestkms root-key rotate --data-dir /var/lib/attestkms --root-key file:/etc/attestkms/root.key \
      --to 'pkcs11:token=attestkms;object=attestkms-root?module-path=/usr/lib/softhsm/libsofthsm2.so' \
      --to-pkcs11-pin-file /etc/attestkms/pin
`

func runRootKey(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, rootKeyUsage)
			return nil
		}
		return usageError("attestkms root-key rotate: the one root-key command")
	}
	fs := newFlagSet("root-key rotate", rootKeyUsage, stdout, stderr)
	var f credentialFlags
	fs.StringVar(&f.dataDir, "data-dir", "", "the store's `directory` (a shared store's: the node's), the server stopped")
	f.root.register(fs)
	var sf storeFlags
	sf.register(fs)
	to := fs.String("to", "", "the new root key: `SPEC` (file:PATH, env:VAR or pkcs11:URI) (required)")
	toPIN := fs.String("to-pkcs11-pin-file", "", "read the --to token's PIN from this `file` (default: --pkcs11-pin-file, else $"+pinEnv+")")
	f.registerEndpoint(fs, "rotate through its admin API")
	if _, err := parseFlags(fs, args[1:], 0); err != nil {
		return err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if *to == "" {
		return usageError("root-key rotate needs --to SPEC, the new root key")
	}
	kind, err := kms.ParseRootKey(*to)
	if err != nil {
		return usageError("--to: %v", err)
	}
	if *toPIN != "" && kind != kms.RootKeyPKCS11 {
		return usageError("--to-pkcs11-pin-file goes with --to pkcs11:…")
	}
	if f.endpoint != "" {
		for _, name := range []string{"data-dir", "root-key", "root-key-file", "pkcs11-pin-file", "to-pkcs11-pin-file", "store", "store-password-file"} {
			if f.set[name] {
				return usageError("--%s and --endpoint exclude each other: --endpoint rotates the running server's store, with its own root key and PIN", name)
			}
		}
		if err := f.check("list", nil); err != nil {
			return err
		}
		return remoteRotateRootKey(&f, *to, stdout)
	}
	if err := f.onlyWithEndpoint(); err != nil {
		return err
	}
	if err := sf.check(); err != nil {
		return err
	}
	switch {
	case f.dataDir == "":
		return usageError("root-key rotate needs --data-dir DIR (the server stopped), or --endpoint URL")
	case sf.shared() && !f.root.given():
		return usageError("--store postgres://… needs --root-key SPEC, the root key the nodes use now")
	}
	opts := kms.Options{DataDir: f.dataDir}
	if err := f.root.apply(&opts); err != nil {
		return err
	}
	if err := sf.apply(&opts); err != nil {
		return err
	}
	req := &kms.RotateRootKeyRequest{To: *to}
	if kind == kms.RootKeyPKCS11 {
		file := *toPIN
		if file == "" {
			file = f.root.pinFile
		}
		if req.PKCS11PIN, err = readPIN(file); err != nil {
			return err
		}
	}
	resp, err := kms.RotateRootKeyOffline(context.Background(), opts, req)
	if errors.Is(err, kms.ErrStoreInUse) {
		return withHint(err, "while the server runs, rotate through it: --endpoint URL --credential ADMIN.json")
	}
	if errors.Is(err, kms.ErrRootKeyMismatch) {
		return withHint(err, "--root-key is the key the store is under now, --to the one to move it to; nothing was changed")
	}
	if err != nil {
		return err
	}
	switch {
	case resp.Already:
		fmt.Fprintf(stderr, "attestkms: the store is under %s already (a rotation that was interrupted after it committed): finished\n", *to)
	default:
		fmt.Fprintf(stderr, "attestkms: the store is now under %s: resealed %d material versions of %d keys and %d credentials\n", *to, resp.Materials, resp.Keys, resp.Credentials)
	}
	if sf.shared() {
		fmt.Fprintln(stderr, "attestkms: run VACUUM FULL on the attestkms tables so that no dead row version keeps a value sealed under the old key (docs/shredding.md); start every node with the new --root-key")
	} else {
		fmt.Fprintf(stderr, "attestkms: serve it with: attestkms serve --data-dir %s --root-key %s\n", f.dataDir, shellQuote(*to))
	}
	fmt.Fprintln(stderr, "attestkms: the old root key opens nothing in the store now, but still opens backups made before: keep it with them, or destroy both")
	return printJSON(stdout, resp)
}

// remoteRotateRootKey asks the running server to rotate its store.
func remoteRotateRootKey(f *credentialFlags, to string, stdout io.Writer) error {
	c, err := newAdminClient(f)
	if err != nil {
		return err
	}
	c.http.Timeout = 10 * time.Minute
	var out json.RawMessage
	if err := c.call(context.Background(), "RotateRootKey", struct{ To string }{to}, &out); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
