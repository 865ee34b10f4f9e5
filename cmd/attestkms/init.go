package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/attestkms/attestkms/internal/credfile"
	"github.com/attestkms/attestkms/kms"
)

const initUsage = `Usage: attestkms init --data-dir DIR [--root-key SPEC] [--region NAME] [--admin-credential-out FILE]
       attestkms init --store postgres://USER@HOST:PORT/DB?sslmode=… --root-key SPEC [--data-dir DIR]

Creates a new store: an account and its first admin credential, printed as
JSON on stdout:

  {"access_key_id":"AKIA...","secret_access_key":"...","account_id":"...","project_id":"..."}

The secret is shown once; --admin-credential-out FILE writes it to FILE
instead (a new file, mode 0600), never to the terminal. The root key seals every key in the store:
--root-key SPEC is file:PATH (an existing file is used, or a random key is written there, mode
0600), env:VAR (base64 of 32 bytes) or pkcs11:URI (the key is generated in the token,
non-extractable, unless it exists; PIN from --pkcs11-pin-file or $ATTESTKMS_PKCS11_PIN).
--root-key-file FILE is --root-key file:FILE (README "Where the root key should live").

By default the store is a bbolt file in DIR (mode 0700), DIR/kms.db, and the
root key DIR/root.key unless --root-key names another; --store
bolt:PATH puts the file at PATH. Refuses a DIR that already holds a store.

--store postgres://… initialises an empty PostgreSQL database that several
attestkms nodes then share (attestkms serve --store …, README "Running
several nodes"). The nodes share the root key --root-key names. The
role's password comes from PGPASSWORD, ~/.pgpass or --store-password-file,
never from the URL. Refuses a database that holds a store already: it never
makes a second account.

--region (default us-east-1) is the store's one region: every key ARN names
it, and serve refuses to serve the store for another (see serve --help).

Examples:
  attestkms init --data-dir /var/lib/attestkms > admin.json && chmod 600 admin.json
  PGPASSWORD=… attestkms init --store 'postgres://attestkms@db.internal:5432/attestkms?sslmode=verify-full' \
      --root-key file:/etc/attestkms/root.key > admin.json
`

// credentialJSON is the shape init, serve's first start and credential
// create print: internal/credfile's, which enclavetool, kmsload and the
// examples read.
type credentialJSON = credfile.Credential

func credentialDoc(a kms.Account, c *kms.Credential) ([]byte, error) {
	return (&credentialJSON{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, AccountID: a.AccountID, ProjectID: a.ProjectID}).Marshal()
}

func runInit(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("init", initUsage, stdout, stderr)
	dataDir := fs.String("data-dir", "", "the store's `directory` (required but with --store postgres://…)")
	var root rootKeyFlags
	root.register(fs)
	region := fs.String("region", "us-east-1", "the store's `region`, named in every key ARN")
	credOut := fs.String("admin-credential-out", "", "write the admin credential to this new `file` (mode 0600) instead of stdout")
	var sf storeFlags
	sf.register(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := sf.check(); err != nil {
		return err
	}
	switch {
	case sf.shared() && !root.given():
		return usageError("--store postgres://… needs --root-key SPEC (or --root-key-file FILE): every node of a shared store uses the same root key")
	case !sf.shared() && *dataDir == "":
		return usageError("--data-dir is required")
	}
	if !kms.ValidRegion(*region) {
		return usageError("--region must be 1-32 characters of a-z 0-9 -, such as us-east-1")
	}
	opts := kms.Options{DataDir: *dataDir, Region: *region}
	if err := root.apply(&opts); err != nil {
		return err
	}
	err := sf.apply(&opts)
	if err != nil {
		return err
	}
	var out *credentialOut
	if *credOut != "" {
		if out, err = newCredentialOut(*credOut); err != nil {
			return err
		}
	}
	acct, cred, err := kms.Init(opts)
	if err != nil && out != nil {
		out.abandon()
	}
	if errors.Is(err, kms.ErrAlreadyInitialised) {
		if sf.shared() {
			return withHint(err, "serve it (attestkms serve --store …), or give an empty database")
		}
		return withHint(err, "use another --data-dir, or serve the existing store")
	}
	if err != nil {
		return storeError(err)
	}
	if out != nil {
		if err := out.write(*acct, cred); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "attestkms: the admin credential is in %s (mode 0600)\n", out.path)
		return nil
	}
	doc, err := credentialDoc(*acct, cred)
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc)
	return err
}
