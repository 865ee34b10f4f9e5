package main

import (
	"errors"
	"io"

	"github.com/attestkms/attestkms/internal/credfile"
	"github.com/attestkms/attestkms/kms"
)

const initUsage = `Usage: attestkms init --data-dir DIR [--root-key-file FILE] [--region NAME]

Creates a new store in DIR (mode 0700): the database, a random root key (in
DIR/root.key, mode 0600, unless --root-key-file names another place; an existing
root key file there is used), a new account and its first admin credential,
printed as JSON on stdout:

  {"access_key_id":"AKIA...","secret_access_key":"...","account_id":"...","project_id":"..."}

The secret is shown once. Refuses a DIR that already holds a store.

--region (default us-east-1) is the store's one region: every key ARN names
it, and serve refuses to serve the store for another (see serve --help).

Example:
  attestkms init --data-dir /var/lib/attestkms > admin.json && chmod 600 admin.json
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
	dataDir := fs.String("data-dir", "", "the store's `directory` (required)")
	rootKey := fs.String("root-key-file", "", "the root key's `file` (default DIR/root.key)")
	region := fs.String("region", "us-east-1", "the store's `region`, named in every key ARN")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *dataDir == "" {
		return usageError("--data-dir is required")
	}
	if !kms.ValidRegion(*region) {
		return usageError("--region must be 1-32 characters of a-z 0-9 -, such as us-east-1")
	}
	acct, cred, err := kms.Init(kms.Options{DataDir: *dataDir, RootKeyFile: *rootKey, Region: *region})
	if errors.Is(err, kms.ErrAlreadyInitialised) {
		return withHint(err, "use another --data-dir, or serve the existing store")
	}
	if err != nil {
		return err
	}
	doc, err := credentialDoc(*acct, cred)
	if err != nil {
		return err
	}
	_, err = stdout.Write(doc)
	return err
}
