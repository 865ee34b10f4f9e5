package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// credentialShape is init's output, exactly: four members in this order,
// indented by two spaces, and a final newline.
var credentialShape = regexp.MustCompile(`^\{\n  "access_key_id": "AKIA[A-Z2-7]{16}",\n  "secret_access_key": "[A-Za-z0-9+/]{40}",\n  "account_id": "[0-9]{12}",\n  "project_id": "[0-9a-f]{32}"\n\}\n$`)

func parseCredential(t *testing.T, out string) credentialJSON {
	t.Helper()
	if !credentialShape.MatchString(out) {
		t.Fatalf("not a credential as init prints one: %q", out)
	}
	var c credentialJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func wantAPICode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("err = %v; want %s", err, code)
	}
}

// TestCredentialCommandsWhileServing: the --endpoint forms act on the
// running server through the admin API, with the offline forms' output.
func TestCredentialCommandsWhileServing(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	code, out, errs := runCmd("init", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	admin := parseCredential(t, out)
	adminFile := writeTemp(t, tmp, "admin.json", out)
	addr, _, stop := startServe(t, serveConfig{dataDir: dir})
	endpoint := "http://" + addr
	remote := func(args ...string) (int, string, string) {
		return runCmd(append(append([]string{"credential"}, args...), "--endpoint", endpoint, "--credential", adminFile)...)
	}
	ctx := context.Background()

	// create: init's shape, and the credential works at once.
	ident := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Decrypt","kms:CreateKey","kms:ListKeys"],"Resource":"*"}]}`
	policyFile := writeTemp(t, tmp, "ci-policy.json", ident)
	code, out, errs = remote("create", "--name", "ci", "--policy", policyFile, "--expires-in", "720h")
	if code != 0 || errs != "" {
		t.Fatalf("create --endpoint: exit %d %q %q", code, out, errs)
	}
	ci := parseCredential(t, out)
	if ci.AccountID != admin.AccountID || ci.ProjectID != admin.ProjectID {
		t.Fatalf("create --endpoint: %+v", ci)
	}
	ciFile := writeTemp(t, tmp, "ci.json", out)
	kc := awsClient(t, addr, "us-east-1", ci)
	if _, err := kc.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatalf("the new credential at once: %v", err)
	}
	// Its identity policy holds: ListKeys yes, Encrypt no.
	k, err := awsClient(t, addr, "us-east-1", admin).CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = kc.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
	wantAPICode(t, err, "AccessDeniedException")

	code, out, errs = remote("create", "--name", "ops", "--admin")
	if code != 0 {
		t.Fatalf("create --admin: exit %d %s", code, errs)
	}
	ops := parseCredential(t, out)
	opsFile := writeTemp(t, tmp, "ops.json", out)

	// list: what the offline list prints, byte for byte (checked below).
	code, remoteList, errs := remote("list")
	if code != 0 {
		t.Fatalf("list --endpoint: exit %d %s", code, errs)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(remoteList), &list); err != nil || len(list) != 3 {
		t.Fatalf("list: %q", remoteList)
	}
	if list[1]["name"] != "ci" || list[1]["admin"] != false || list[1]["identity_policy"] != ident || list[1]["expires_at"] == nil ||
		list[2]["name"] != "ops" || list[2]["admin"] != true || list[0]["admin"] != true {
		t.Fatalf("list: %s", remoteList)
	}
	if strings.Contains(remoteList, ci.SecretAccessKey) {
		t.Fatal("list shows a secret")
	}

	// A non-admin credential may not; exit 1, with the code and a hint.
	code, out, errs = runCmd("credential", "list", "--endpoint", endpoint, "--credential", ciFile)
	if code != 1 || out != "" || !strings.Contains(errs, "attestkms: error: AccessDeniedException: ") || !strings.Contains(errs, "attestkms: hint: only a credential with the admin permission") {
		t.Fatalf("list by a non-admin: exit %d %q %q", code, out, errs)
	}

	// rotate: a new pair printed as create prints it; the old one refused.
	code, out, errs = runCmd("credential", "rotate", ci.AccessKeyID, "--endpoint", endpoint, "--credential", opsFile)
	if code != 0 {
		t.Fatalf("rotate --endpoint: exit %d %s", code, errs)
	}
	ci2 := parseCredential(t, out)
	if ci2.AccessKeyID == ci.AccessKeyID {
		t.Fatal("rotate kept the access key id")
	}
	_, err = kc.ListKeys(ctx, &awskms.ListKeysInput{})
	wantAPICode(t, err, "InvalidSignatureException")
	kc2 := awsClient(t, addr, "us-east-1", ci2)
	if _, err := kc2.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatalf("the rotated credential: %v", err)
	}
	_, err = kc2.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
	wantAPICode(t, err, "AccessDeniedException") // its identity policy came along

	// delete: nothing printed, refused at once.
	code, out, errs = remote("delete", ci2.AccessKeyID)
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("delete --endpoint: exit %d %q %q", code, out, errs)
	}
	_, err = kc2.ListKeys(ctx, &awskms.ListKeysInput{})
	wantAPICode(t, err, "InvalidSignatureException")
	code, _, errs = remote("delete", ci2.AccessKeyID)
	if code != 1 || !strings.Contains(errs, "NotFoundException") {
		t.Fatalf("delete of a deleted credential: exit %d %q", code, errs)
	}
	// The last admin stays: the root goes while ops is left, then not ops.
	if code, _, errs := runCmd("credential", "delete", admin.AccessKeyID, "--endpoint", endpoint, "--credential", opsFile); code != 0 {
		t.Fatalf("deleting the root with ops left: exit %d %s", code, errs)
	}
	code, _, errs = runCmd("credential", "delete", ops.AccessKeyID, "--endpoint", endpoint, "--credential", opsFile)
	if code != 1 || !strings.Contains(errs, "last admin credential") {
		t.Fatalf("deleting the last admin: exit %d %q", code, errs)
	}
	// The deleted root's file is refused as an unknown key, with a hint.
	code, _, errs = remote("list")
	if code != 1 || !strings.Contains(errs, "InvalidSignatureException") || !strings.Contains(errs, "hint: the server does not know the access key "+admin.AccessKeyID) {
		t.Fatalf("a deleted admin's file: exit %d %q", code, errs)
	}
	code, _, errs = runCmd("credential", "list", "--endpoint", endpoint, "--credential", opsFile, "--region", "eu-west-1")
	if code != 1 || !strings.Contains(errs, "hint: sign for the server's region") {
		t.Fatalf("another region: exit %d %q", code, errs)
	}

	// While it serves, the offline forms say how to act instead.
	code, _, errs = runCmd("credential", "list", "--data-dir", dir)
	if code != 1 || !strings.Contains(errs, "--endpoint URL --credential ADMIN.json") {
		t.Fatalf("offline list while serving: exit %d %q", code, errs)
	}
	code, onlineList, _ := runCmd("credential", "list", "--endpoint", endpoint, "--credential", opsFile)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	code2, offlineList, errs := runCmd("credential", "list", "--data-dir", dir)
	if code != 0 || code2 != 0 || onlineList != offlineList {
		t.Fatalf("list online (exit %d) and offline (exit %d, %s) differ:\n%s\n%s", code, code2, errs, onlineList, offlineList)
	}
	if _, err := os.Stat(filepath.Join(dir, "audit.log")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
	if !strings.Contains(string(b), `"dialect":"admin","operation":"RotateCredential",`) || !strings.Contains(string(b), `"credential":"`+ci2.AccessKeyID+`"`) {
		t.Fatal("the rotation is not audited")
	}
	if code, _, errs := runCmd("credential", "list", "--endpoint", endpoint, "--credential", opsFile); code != 1 || !strings.Contains(errs, "hint: is attestkms serving there?") {
		t.Fatalf("no server: exit %d %q", code, errs)
	}
}

// TestCredentialCommandsOffline: the offline forms work as before, and take
// the new flags; rotate works offline too.
func TestCredentialCommandsOffline(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	code, out, _ := runCmd("init", "--data-dir", dir)
	if code != 0 {
		t.Fatal("init")
	}
	admin := parseCredential(t, out)
	code, out, errs := runCmd("credential", "create", "--data-dir", dir, "--name", "ci")
	if code != 0 || errs != "" {
		t.Fatalf("create: exit %d %s", code, errs)
	}
	ci := parseCredential(t, out)
	policyFile := writeTemp(t, tmp, "p.json", `{"Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`)
	// An admin can make any credential: an identity policy would limit
	// nothing, and is refused (a non-admin's is taken).
	code, _, errs = runCmd("credential", "create", "--data-dir", dir, "--name", "temp", "--admin", "--policy", policyFile, "--expires-in", "1h")
	if code != 1 || !strings.Contains(errs, "an admin credential cannot carry an identity policy") {
		t.Fatalf("an admin with an identity policy: exit %d %s", code, errs)
	}
	code, out, errs = runCmd("credential", "create", "--data-dir", dir, "--name", "temp", "--admin", "--expires-in", "1h")
	if code != 0 {
		t.Fatalf("create with the new flags: exit %d %s", code, errs)
	}
	temp := parseCredential(t, out)
	code, out, _ = runCmd("credential", "list", "--data-dir", dir)
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 3 || list[2]["name"] != "temp" || list[2]["admin"] != true || list[2]["expires_at"] == nil {
		t.Fatalf("list: exit %d %s", code, out)
	}
	code, out, errs = runCmd("credential", "rotate", "--data-dir", dir, temp.AccessKeyID)
	if code != 0 {
		t.Fatalf("rotate: exit %d %s", code, errs)
	}
	if parseCredential(t, out).AccessKeyID == temp.AccessKeyID {
		t.Fatal("rotate kept the access key id")
	}
	if code, out, errs := runCmd("credential", "delete", "--data-dir", dir, ci.AccessKeyID); code != 0 || out != "" {
		t.Fatalf("delete: exit %d %q %q", code, out, errs)
	}
	code, _, errs = runCmd("credential", "delete", "--data-dir", dir, ci.AccessKeyID)
	if code != 1 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("delete again: exit %d %q", code, errs)
	}
	_ = admin
}

// TestCredentialUsage: flags that do not go together are usage errors (exit
// 2), an unreadable file is exit 3, before anything is done.
func TestCredentialUsage(t *testing.T) {
	tmp := t.TempDir()
	good := writeTemp(t, tmp, "admin.json", `{"access_key_id":"AKIAAAAAAAAAAAAAAAAA","secret_access_key":"x"}`)
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"create", "--endpoint", "http://127.0.0.1:1", "--name", "x"}, 2, "--endpoint needs --credential"},
		{[]string{"list", "--endpoint", "http://127.0.0.1:1", "--credential", good, "--data-dir", tmp}, 2, "exclude each other"},
		{[]string{"list", "--credential", good}, 2, "--credential goes with --endpoint"},
		{[]string{"list", "--region", "eu-west-1"}, 2, "--region goes with --endpoint"},
		{[]string{"list", "--endpoint", "ftp://x", "--credential", good}, 2, "is not a server's URL"},
		{[]string{"list", "--endpoint", "http://127.0.0.1:1/v1", "--credential", good}, 2, "is not a server's URL"},
		{[]string{"delete", "--endpoint", "http://127.0.0.1:1", "--credential", good}, 2, "needs the ACCESS_KEY_ID"},
		{[]string{"rotate", "--data-dir", tmp}, 2, "needs the ACCESS_KEY_ID"},
		{[]string{"create", "--data-dir", tmp, "--name", "x", "--expires-in", "10ms"}, 2, "at least 1s"},
		{[]string{"create", "--data-dir", tmp, "--name", "x", "--expires-in", "soon"}, 2, "invalid value"},
		{[]string{"list", "--admin"}, 2, "flag provided but not defined"},
		{[]string{"frob"}, 2, "unknown credential subcommand"},
		{[]string{"list", "--endpoint", "http://127.0.0.1:1", "--credential", filepath.Join(tmp, "none.json")}, 3, "--credential"},
		{[]string{"create", "--endpoint", "http://127.0.0.1:1", "--credential", good, "--name", "x", "--policy", filepath.Join(tmp, "none.json")}, 3, "--policy"},
		{[]string{"list", "--endpoint", "https://127.0.0.1:1", "--credential", good, "--ca-bundle", filepath.Join(tmp, "none.pem")}, 3, "--ca-bundle"},
	} {
		code, out, errs := runCmd(append([]string{"credential"}, tc.args...)...)
		// A flag the parser refuses prints the usage too, as every command does.
		parserRefused := strings.Contains(errs, "invalid value") || strings.Contains(errs, "not defined")
		if code != tc.code || out != "" && !parserRefused || !strings.Contains(errs, tc.says) {
			t.Errorf("%v: exit %d %q %q; want %d saying %q", tc.args, code, out, errs, tc.code, tc.says)
		}
	}
}

// TestCredentialOverTLS: --ca-bundle pins an https server's CA.
func TestCredentialOverTLS(t *testing.T) {
	tmp := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, tmp)
	dir := filepath.Join(tmp, "data")
	addr, _, _ := startServe(t, serveConfig{dataDir: dir, tlsCert: certFile, tlsKey: keyFile})
	adminFile := filepath.Join(dir, "admin-credential.json")
	code, out, errs := runCmd("credential", "create", "--name", "ci", "--endpoint", "https://"+addr, "--credential", adminFile, "--ca-bundle", certFile)
	if code != 0 {
		t.Fatalf("create over TLS: exit %d %s", code, errs)
	}
	parseCredential(t, out)
	code, _, errs = runCmd("credential", "list", "--endpoint", "https://"+addr, "--credential", adminFile)
	if code != 1 || !strings.Contains(errs, "certificate") {
		t.Fatalf("without --ca-bundle: exit %d %q", code, errs)
	}
	_ = aws.String
}
