package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/attestkms/attestkms/internal/credfile"
	"github.com/attestkms/attestkms/kms"
)

const credentialUsage = `Usage:
  attestkms credential create WHERE --name NAME [--admin] [--policy FILE] [--expires-in DURATION]
                                        a new access key pair, printed as init prints one
  attestkms credential list   WHERE     every credential, without secrets, as JSON
  attestkms credential delete WHERE ACCESS_KEY_ID
                                        remove an access key; prints nothing
  attestkms credential rotate WHERE ACCESS_KEY_ID
                                        a new access key pair for the credential, printed as
                                        create prints one; the old access key is deleted

WHERE is one of
  --endpoint URL --credential ADMIN.json [--region NAME] [--ca-bundle PEM]
        the running server, through its admin API: requests signed (SigV4) with
        ADMIN.json, a credential file of a credential with the admin permission
        (init's, or one made with --admin), for the server's region (default
        us-east-1); --ca-bundle pins the CA of an https endpoint. The change is
        in force when the command returns: a deleted or rotated-away access key
        is refused from then on.
  --data-dir DIR [--root-key-file FILE]
        the store itself, while the server is stopped (the default: ./attestkms-data).

An access key pair signs requests of every dialect (AWS SigV4, Huawei
SDK-HMAC-SHA256, Tencent TC3-HMAC-SHA256). Its principal is
arn:aws:iam::ACCOUNT:user/NAME (the admin credential init makes is the
account's root, arn:aws:iam::ACCOUNT:root).

  --admin           the credential may manage credentials (the admin API)
  --policy FILE     an identity policy (a key policy's grammar without Principal,
                    docs/policy.md): where a key policy allows the account, this
                    credential is allowed only what its identity policy allows too
  --expires-in D    the credential stops authenticating after D (e.g. 720h), to the
                    second: it is then refused exactly as an unknown access key

rotate keeps the credential's name, principal, admin permission, identity
policy and expiry; only the pair changes. The last admin credential that has
not expired cannot be deleted.

Exit status: 0 success; 1 failure (the server refused, or cannot be reached;
the store is in use); 2 usage; 3 a file cannot be read (--credential,
--policy, --ca-bundle).

Examples:
  attestkms credential create --endpoint http://127.0.0.1:8080 \
      --credential attestkms-data/admin-credential.json --name ci \
      --policy ci-policy.json --expires-in 720h > ci.json
  attestkms credential delete --endpoint http://127.0.0.1:8080 \
      --credential attestkms-data/admin-credential.json AKIA...
  attestkms credential create --data-dir ./attestkms-data --name ops --admin > ops.json
`

// credentialFlags are the credential command's flags.
type credentialFlags struct {
	dataDir                                string
	root                                   rootKeyFlags
	endpoint, credential, region, caBundle string
	name, policy                           string
	admin                                  bool
	expiresIn                              time.Duration
	set                                    map[string]bool // the flags given
}

// registerEndpoint registers the flags of a command that can also act
// through a running server's admin API: --endpoint (to what), and the
// --credential, --region and --ca-bundle that go with it.
func (f *credentialFlags) registerEndpoint(fs *flag.FlagSet, what string) {
	fs.StringVar(&f.endpoint, "endpoint", "", "the running server's `URL`: "+what)
	fs.StringVar(&f.credential, "credential", "", "with --endpoint: the admin credential `file` to sign with")
	fs.StringVar(&f.region, "region", "us-east-1", "with --endpoint: the server's `region`, to sign for")
	fs.StringVar(&f.caBundle, "ca-bundle", "", "with --endpoint: trust only the CAs in this PEM `file` for the server's TLS certificate")
}

// onlyWithEndpoint refuses the admin API's flags without --endpoint (f.set
// filled).
func (f *credentialFlags) onlyWithEndpoint() error {
	for _, name := range []string{"credential", "region", "ca-bundle"} {
		if f.set[name] {
			return usageError("--%s goes with --endpoint", name)
		}
	}
	return nil
}

func runCredential(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) == 0 {
			return usageError("credential needs a subcommand: create, list, delete or rotate")
		}
		io.WriteString(stdout, credentialUsage)
		return nil
	}
	sub := args[0]
	fs := newFlagSet("credential "+sub, credentialUsage, stdout, stderr)
	var f credentialFlags
	fs.StringVar(&f.dataDir, "data-dir", "./attestkms-data", "the store's `directory`, while the server is stopped")
	f.root.register(fs)
	f.registerEndpoint(fs, "act through its admin API")
	maxArgs := 0
	switch sub {
	case "create":
		fs.StringVar(&f.name, "name", "", "the credential's `name` (required; its principal is arn:aws:iam::ACCOUNT:user/NAME)")
		fs.BoolVar(&f.admin, "admin", false, "give the credential the admin permission: it may manage credentials")
		fs.StringVar(&f.policy, "policy", "", "the credential's identity policy `file` (- for standard input)")
		fs.DurationVar(&f.expiresIn, "expires-in", 0, "the credential expires after this `duration` (e.g. 720h; default never)")
	case "list":
	case "delete", "rotate":
		maxArgs = 1
	default:
		return usageError("unknown credential subcommand %q: use create, list, delete or rotate", sub)
	}
	pos, err := parseFlags(fs, args[1:], maxArgs)
	if err != nil {
		return err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if err := f.check(sub, pos); err != nil {
		return err
	}
	var req *kms.CreateCredentialRequest
	if sub == "create" {
		req = &kms.CreateCredentialRequest{Name: f.name, Admin: f.admin, ExpiresIn: f.expiresIn}
		if f.policy != "" {
			if req.IdentityPolicy, err = readPolicy(f.policy); err != nil {
				return readError(fmt.Errorf("--policy: %w", err))
			}
		}
	}
	ctx := context.Background() // a quick change: nothing to cancel it
	if f.endpoint != "" {
		return remoteCredential(ctx, &f, sub, pos, req, stdout)
	}
	return localCredential(ctx, &f, sub, pos, req, stdout)
}

// check refuses flags that do not go together, before anything is read.
func (f *credentialFlags) check(sub string, pos []string) error {
	if (sub == "delete" || sub == "rotate") && len(pos) != 1 {
		return usageError("credential %s needs the ACCESS_KEY_ID", sub)
	}
	if sub == "create" && f.name == "" {
		return usageError("credential create needs --name")
	}
	if sub == "create" && f.expiresIn != 0 && f.expiresIn < time.Second {
		return usageError("--expires-in must be at least 1s (e.g. 720h); leave it out for a credential that does not expire")
	}
	if f.endpoint == "" {
		if err := f.onlyWithEndpoint(); err != nil {
			return err
		}
		return nil
	}
	for _, name := range []string{"data-dir", "root-key", "root-key-file", "pkcs11-pin-file"} {
		if f.set[name] {
			return usageError("--%s and --endpoint exclude each other: --endpoint acts on the running server, --data-dir on a stopped server's store", name)
		}
	}
	if f.credential == "" {
		return usageError("--endpoint needs --credential ADMIN.json, the admin credential to sign with")
	}
	u, err := url.Parse(f.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return usageError("--endpoint %q is not a server's URL such as http://127.0.0.1:8080", f.endpoint)
	}
	if !kms.ValidRegion(f.region) {
		return usageError("--region must be 1-32 characters of a-z 0-9 -, such as us-east-1")
	}
	return nil
}

// localCredential acts on the store in --data-dir, which the server must
// not hold.
func localCredential(ctx context.Context, f *credentialFlags, sub string, pos []string, req *kms.CreateCredentialRequest, stdout io.Writer) error {
	// Credentials have no region: the store is opened in its own.
	opts := kms.Options{DataDir: f.dataDir, StoredRegion: true}
	if err := f.root.apply(&opts); err != nil {
		return err
	}
	svc, err := kms.Open(opts)
	if errors.Is(err, kms.ErrStoreInUse) {
		return withHint(err, "credentials are managed offline while the server is stopped; while it serves, use --endpoint URL --credential ADMIN.json")
	}
	if _, node, _ := kms.NodeID(f.dataDir); node && errors.Is(err, kms.ErrNotInitialised) {
		return withHint(err, "the credentials of a shared store are managed on its running nodes: --endpoint URL --credential ADMIN.json")
	}
	if err != nil {
		return storeError(err)
	}
	defer svc.Close()
	admin := svc.Admin()
	switch sub {
	case "create":
		resp, err := admin.CreateCredential(ctx, req)
		if err != nil {
			return err
		}
		defer clear(resp.SecretAccessKey)
		return printCredential(stdout, svc.Account(), resp.AccessKeyID, resp.SecretAccessKey)
	case "rotate":
		resp, err := admin.RotateCredential(ctx, pos[0])
		if err != nil {
			return err
		}
		defer clear(resp.SecretAccessKey)
		return printCredential(stdout, svc.Account(), resp.AccessKeyID, resp.SecretAccessKey)
	case "list":
		return printCredentials(stdout, admin.ListCredentials())
	}
	return admin.DeleteCredential(ctx, pos[0])
}

// printCredential writes a credential file's content, as init prints it.
func printCredential(w io.Writer, acct kms.Account, accessKeyID string, secret []byte) error {
	c := &credfile.Credential{AccessKeyID: accessKeyID, SecretAccessKey: string(secret), AccountID: acct.AccountID, ProjectID: acct.ProjectID}
	doc, err := c.Marshal()
	if err != nil {
		return err
	}
	defer clear(doc)
	_, err = w.Write(doc)
	return err
}

// printCredentials writes what credential list prints, offline or not.
func printCredentials(w io.Writer, list []kms.CredentialInfo) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}
