package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/attestkms/attestkms/kms"
)

const credentialUsage = `Usage:
  attestkms credential create --data-dir DIR [--name NAME]   new access key pair, printed as JSON
  attestkms credential list   --data-dir DIR                 access key ids and names, as JSON
  attestkms credential delete --data-dir DIR ACCESS_KEY_ID   remove an access key

An access key pair signs requests of every dialect (AWS SigV4, Huawei
SDK-HMAC-SHA256, Tencent TC3-HMAC-SHA256). The store is locked while the server
runs: stop it first. The last credential cannot be deleted.

Example:
  attestkms credential create --data-dir ./attestkms-data --name ci > ci.json
`

func runCredential(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) == 0 {
			return usageError("credential needs a subcommand: create, list or delete")
		}
		io.WriteString(stdout, credentialUsage)
		return nil
	}
	sub := args[0]
	fs := newFlagSet("credential "+sub, credentialUsage, stdout, stderr)
	dataDir := fs.String("data-dir", "./attestkms-data", "the store's `directory`")
	rootKey := fs.String("root-key-file", "", "the root key's `file` (default DIR/root.key)")
	var name *string
	maxArgs := 0
	switch sub {
	case "create":
		name = fs.String("name", "", "the credential's `name` (required; its principal is arn:aws:iam::ACCOUNT:user/NAME)")
	case "list":
	case "delete":
		maxArgs = 1
	default:
		return usageError("unknown credential subcommand %q: use create, list or delete", sub)
	}
	pos, err := parseFlags(fs, args[1:], maxArgs)
	if err != nil {
		return err
	}
	if sub == "delete" && len(pos) != 1 {
		return usageError("credential delete needs the ACCESS_KEY_ID to delete")
	}
	if sub == "create" && *name == "" {
		return usageError("credential create needs --name")
	}
	// Credentials have no region: the store is opened in its own.
	svc, err := kms.Open(kms.Options{DataDir: *dataDir, RootKeyFile: *rootKey, StoredRegion: true})
	if errors.Is(err, kms.ErrStoreInUse) {
		return withHint(err, "credentials are managed while the server is stopped")
	}
	if err != nil {
		return err
	}
	defer svc.Close()
	ctx := context.Background() // a quick local change: nothing to cancel it
	switch sub {
	case "create":
		cred, err := svc.Admin().CreateCredential(ctx, &kms.CreateCredentialRequest{Name: *name})
		if err != nil {
			return err
		}
		defer clear(cred.SecretAccessKey)
		doc, err := credentialDoc(svc.Account(), &kms.Credential{AccessKeyID: cred.AccessKeyID, SecretAccessKey: string(cred.SecretAccessKey)})
		if err != nil {
			return err
		}
		_, err = stdout.Write(doc)
		return err
	case "list":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(svc.Admin().ListCredentials())
	default:
		return svc.Admin().DeleteCredential(ctx, pos[0])
	}
}
