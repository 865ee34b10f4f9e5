package admin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/kms"
)

var ctx = context.Background()

// offsetClock is the server's clock: now, plus an offset a test moves.
type offsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *offsetClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.off) }
func (c *offsetClock) add(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// cred is an access key pair as the admin API answers it.
type cred struct {
	AccessKeyId, SecretAccessKey, AccountId, ProjectId string
	Name, PrincipalArn                                 string
	Admin                                              bool
	IdentityPolicy                                     string
	CreationDate                                       int64
	ExpirationDate                                     *int64
	Expired                                            bool
	ReplacedAccessKeyId                                string
}

type answer struct {
	status int
	typ    string
	msg    string
	body   []byte
}

// adminRequest is an admin API request, signed with the AWS SDK's own
// SigV4 signer for region at the instant at.
func adminRequest(t *testing.T, url, op, body, ak, sk, region string, at time.Time) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "AttestKMSAdmin."+op)
	id := make([]byte, 16)
	rand.Read(id)
	r.Header.Set("Amz-Sdk-Invocation-Id", hex.EncodeToString(id))
	h := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, r, hex.EncodeToString(h[:]), "kms", region, at); err != nil {
		t.Fatal(err)
	}
	return r
}

func send(t *testing.T, r *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	json.Unmarshal(b, &e)
	if resp.Header.Get("X-Amzn-RequestId") == "" || resp.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Errorf("answer headers %v", resp.Header)
	}
	if resp.StatusCode != 200 && resp.Header.Get("X-Amzn-ErrorType") != e.Type {
		t.Errorf("X-Amzn-ErrorType %q, __type %q", resp.Header.Get("X-Amzn-ErrorType"), e.Type)
	}
	return answer{resp.StatusCode, e.Type, e.Message, b}
}

// call sends op with body, signed by ak/sk, and wants status 200 or the
// error code.
func call(t *testing.T, srv *testserver.Server, ak, sk, op, body, wantErr string) answer {
	t.Helper()
	a := send(t, adminRequest(t, srv.URL, op, body, ak, sk, srv.Region, time.Now()))
	if wantErr == "" && a.status != 200 || wantErr != "" && a.typ != wantErr {
		t.Fatalf("%s: %d %s %s; want %q", op, a.status, a.typ, a.msg, wantErr)
	}
	return a
}

func decodeCred(t *testing.T, a answer) cred {
	t.Helper()
	var c cred
	if err := json.Unmarshal(a.body, &c); err != nil || c.AccessKeyId == "" || c.SecretAccessKey == "" {
		t.Fatalf("answer %s: %v", a.body, err)
	}
	return c
}

func kmsClient(srv *testserver.Server, ak, sk string) *awskms.Client {
	return awskms.New(awskms.Options{
		Region:           srv.Region,
		Credentials:      credentials.NewStaticCredentialsProvider(ak, sk, ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("err = %v; want %s", err, code)
	}
}

// TestCredentialsWhileServing: a credential created through the running
// server works at once through the official SDK; one deleted is refused at
// once, and so are its signatures made before; rotation swaps the pair;
// only an admin may call the admin API; the last admin stays.
func TestCredentialsWhileServing(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	created := call(t, srv, srv.AccessKey, srv.Secret, "CreateCredential", `{"Name":"ci"}`, "")
	ci := decodeCred(t, created)
	if ci.Name != "ci" || ci.Admin || ci.AccountId != srv.Account.AccountID || ci.ProjectId != srv.Account.ProjectID ||
		ci.PrincipalArn != "arn:aws:iam::"+srv.Account.AccountID+":user/ci" || ci.CreationDate == 0 || ci.ExpirationDate != nil {
		t.Fatalf("created %s", created.body)
	}
	// Works at once, through the SDK.
	kc := kmsClient(srv, ci.AccessKeyId, ci.SecretAccessKey)
	if _, err := kc.CreateKey(ctx, &awskms.CreateKeyInput{}); err != nil {
		t.Fatalf("a new credential's first request: %v", err)
	}

	// A non-admin may not call the admin API.
	for _, op := range []string{"CreateCredential", "ListCredentials", "DeleteCredential", "RotateCredential"} {
		body := map[string]string{"CreateCredential": `{"Name":"mine"}`, "ListCredentials": `{}`, "DeleteCredential": `{"AccessKeyId":"` + srv.AccessKey + `"}`, "RotateCredential": `{"AccessKeyId":"` + ci.AccessKeyId + `"}`}[op]
		a := call(t, srv, ci.AccessKeyId, ci.SecretAccessKey, op, body, "AccessDeniedException")
		if a.status != 400 || !strings.Contains(a.msg, "admin permission") {
			t.Fatalf("%s by a non-admin: %d %q", op, a.status, a.msg)
		}
	}

	// A request signed before the deletion and sent after it is refused,
	// as is every new one: at once, not within a second.
	presigned := adminRequestKMS(t, srv, ci, "ListKeys", `{}`)
	call(t, srv, srv.AccessKey, srv.Secret, "DeleteCredential", `{"AccessKeyId":"`+ci.AccessKeyId+`"}`, "")
	start := time.Now()
	_, err := kc.ListKeys(ctx, &awskms.ListKeysInput{})
	wantCode(t, err, "InvalidSignatureException")
	if a := send(t, presigned); a.typ != "InvalidSignatureException" {
		t.Fatalf("a signature made before the deletion: %d %s %s", a.status, a.typ, a.msg)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("refused only after %v", d)
	}

	// Rotation: a new pair, the old one refused at once.
	ops := decodeCred(t, call(t, srv, srv.AccessKey, srv.Secret, "CreateCredential", `{"Name":"ops","Admin":true}`, ""))
	rotated := decodeCred(t, call(t, srv, ops.AccessKeyId, ops.SecretAccessKey, "RotateCredential", `{"AccessKeyId":"`+ops.AccessKeyId+`"}`, ""))
	if rotated.ReplacedAccessKeyId != ops.AccessKeyId || rotated.AccessKeyId == ops.AccessKeyId || rotated.Name != "ops" || !rotated.Admin {
		t.Fatalf("rotated %+v", rotated)
	}
	call(t, srv, ops.AccessKeyId, ops.SecretAccessKey, "ListCredentials", `{}`, "InvalidSignatureException")
	list := call(t, srv, rotated.AccessKeyId, rotated.SecretAccessKey, "ListCredentials", `{}`, "")
	var l struct{ Credentials []cred }
	if err := json.Unmarshal(list.body, &l); err != nil || len(l.Credentials) != 2 || l.Credentials[0].Name != "admin" || l.Credentials[1].AccessKeyId != rotated.AccessKeyId {
		t.Fatalf("list %s", list.body)
	}
	if bytes.Contains(list.body, []byte(rotated.SecretAccessKey)) || bytes.Contains(list.body, []byte("SecretAccessKey")) {
		t.Fatal("the list holds a secret")
	}

	// The last admin stays: the root may go while ops is left, not ops then.
	call(t, srv, rotated.AccessKeyId, rotated.SecretAccessKey, "DeleteCredential", `{"AccessKeyId":"`+srv.AccessKey+`"}`, "")
	a := call(t, srv, rotated.AccessKeyId, rotated.SecretAccessKey, "DeleteCredential", `{"AccessKeyId":"`+rotated.AccessKeyId+`"}`, "ValidationException")
	if !strings.Contains(a.msg, "last admin credential") {
		t.Fatalf("deleting the last admin: %q", a.msg)
	}
	call(t, srv, rotated.AccessKeyId, rotated.SecretAccessKey, "DeleteCredential", `{"AccessKeyId":"AKIANOSUCHKEY"}`, "NotFoundException")

	// Every admin request is audited, naming the credential it touched.
	log, err := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	type rec struct{ Dialect, Operation, Outcome, Credential, ErrorCode string }
	var recs []rec
	for _, line := range bytes.Split(bytes.TrimSpace(log), []byte("\n")) {
		var r struct {
			Dialect    string `json:"dialect"`
			Operation  string `json:"operation"`
			Outcome    string `json:"outcome"`
			Credential string `json:"credential"`
			ErrorCode  string `json:"error_code"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec(r))
	}
	for _, want := range []rec{
		{"admin", "CreateCredential", "ok", ci.AccessKeyId, ""},
		{"admin", "DeleteCredential", "ok", ci.AccessKeyId, ""},
		{"admin", "RotateCredential", "ok", rotated.AccessKeyId, ""},
		{"admin", "ListCredentials", "error", "", "AccessDeniedException"},
	} {
		if !slices.Contains(recs, want) {
			t.Errorf("the audit log has no %+v", want)
		}
	}
	for _, secret := range []string{ci.SecretAccessKey, ops.SecretAccessKey, rotated.SecretAccessKey} {
		if bytes.Contains(log, []byte(secret)) {
			t.Fatal("a secret in the audit log")
		}
	}
}

// adminRequestKMS signs a KMS request (TrentService) with c, to send later.
func adminRequestKMS(t *testing.T, srv *testserver.Server, c cred, op, body string) *http.Request {
	t.Helper()
	r := adminRequest(t, srv.URL, op, body, c.AccessKeyId, c.SecretAccessKey, srv.Region, time.Now())
	r.Header.Set("X-Amz-Target", "TrentService."+op) // re-signed below
	r.Header.Del("Authorization")
	h := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey}, r, hex.EncodeToString(h[:]), "kms", srv.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestIdentityPolicyThroughTheSDK: a credential limited to kms:Decrypt on
// one alias decrypts under that alias's key and nothing else; an explicit
// Deny in an identity policy beats a key policy Allow naming the caller.
func TestIdentityPolicyThroughTheSDK(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	admin := kmsClient(srv, srv.AccessKey, srv.Secret)
	keyA, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := admin.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/ci"), TargetKeyId: keyA.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	encrypt := func(keyID *string) []byte {
		out, err := admin.Encrypt(ctx, &awskms.EncryptInput{KeyId: keyID, Plaintext: []byte("build secret")})
		if err != nil {
			t.Fatal(err)
		}
		return out.CiphertextBlob
	}
	blobA, blobB := encrypt(keyA.KeyMetadata.KeyId), encrypt(keyB.KeyMetadata.KeyId)

	ident := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",` +
		`"Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}}]}`
	body, _ := json.Marshal(map[string]any{"Name": "ci", "IdentityPolicy": ident})
	ci := decodeCred(t, call(t, srv, srv.AccessKey, srv.Secret, "CreateCredential", string(body), ""))
	if ci.IdentityPolicy != ident {
		t.Fatalf("identity policy %q", ci.IdentityPolicy)
	}
	kc := kmsClient(srv, ci.AccessKeyId, ci.SecretAccessKey)
	out, err := kc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blobA})
	if err != nil || string(out.Plaintext) != "build secret" {
		t.Fatalf("Decrypt under the allowed alias's key: %v", err)
	}
	if _, err := kc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blobA, KeyId: aws.String("alias/ci")}); err != nil {
		t.Fatalf("Decrypt naming the alias: %v", err)
	}
	_, err = kc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blobB})
	wantCode(t, err, "AccessDeniedException")
	if !strings.Contains(err.Error(), "no identity-based policy allows the kms:Decrypt action") {
		t.Fatalf("another key: %v", err)
	}
	_, err = kc.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/ci"), Plaintext: []byte("x")})
	wantCode(t, err, "AccessDeniedException")
	_, err = kc.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String("alias/ci"), KeySpec: types.DataKeySpecAes256})
	wantCode(t, err, "AccessDeniedException")

	// An explicit Deny in the identity policy beats a key policy Allow that
	// names the caller itself.
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Deny","Action":"kms:Decrypt","Resource":"` + *keyB.KeyMetadata.Arn + `"}]}`
	body, _ = json.Marshal(map[string]any{"Name": "ops", "IdentityPolicy": deny})
	ops := decodeCred(t, call(t, srv, srv.AccessKey, srv.Secret, "CreateCredential", string(body), ""))
	keyPolicy := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + srv.Account.AccountID + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"` + ops.PrincipalArn + `"},"Action":"kms:Decrypt","Resource":"*"}]}`
	if _, err := admin.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: keyB.KeyMetadata.KeyId, Policy: aws.String(keyPolicy)}); err != nil {
		t.Fatal(err)
	}
	oc := kmsClient(srv, ops.AccessKeyId, ops.SecretAccessKey)
	_, err = oc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blobB})
	wantCode(t, err, "AccessDeniedException")
	if !strings.Contains(err.Error(), "explicit deny in an identity-based policy") {
		t.Fatalf("the identity Deny: %v", err)
	}
	if _, err := oc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blobA}); err != nil {
		t.Fatalf("the identity policy allows key A: %v", err)
	}
	// The admin, without an identity policy, is unchanged.
	if _, err := admin.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blobB}); err != nil {
		t.Fatal(err)
	}
}

// TestExpiredCredential: past its expiry a credential is refused exactly as
// an unknown access key and a bad signature are, and list shows it.
func TestExpiredCredential(t *testing.T) {
	clk := &offsetClock{}
	srv := testserver.Start(t, testserver.Options{Now: clk.now})
	temp := decodeCred(t, call(t, srv, srv.AccessKey, srv.Secret, "CreateCredential", `{"Name":"temp","ExpiresInSeconds":60}`, ""))
	if temp.ExpirationDate == nil || *temp.ExpirationDate-temp.CreationDate != 60 {
		t.Fatalf("expiry %v, created %d", temp.ExpirationDate, temp.CreationDate)
	}
	kc := kmsClient(srv, temp.AccessKeyId, temp.SecretAccessKey)
	if _, err := kc.ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatal(err)
	}
	clk.add(61 * time.Second) // the SDK's clock stays: well within the skew
	_, expiredErr := kc.ListKeys(ctx, &awskms.ListKeysInput{})
	_, unknownErr := kmsClient(srv, "AKIANOSUCHKEY234567A", temp.SecretAccessKey).ListKeys(ctx, &awskms.ListKeysInput{})
	_, badErr := kmsClient(srv, srv.AccessKey, temp.SecretAccessKey).ListKeys(ctx, &awskms.ListKeysInput{})
	var e1, e2, e3 smithy.APIError
	if !errors.As(expiredErr, &e1) || !errors.As(unknownErr, &e2) || !errors.As(badErr, &e3) {
		t.Fatalf("errors %v %v %v", expiredErr, unknownErr, badErr)
	}
	if e1.ErrorCode() != "InvalidSignatureException" || e1.ErrorCode() != e2.ErrorCode() || e1.ErrorMessage() != e2.ErrorMessage() || e1.ErrorMessage() != e3.ErrorMessage() {
		t.Fatalf("expired %v; unknown %v; bad signature %v: want one answer", e1, e2, e3)
	}
	var l struct{ Credentials []cred }
	json.Unmarshal(call(t, srv, srv.AccessKey, srv.Secret, "ListCredentials", `{}`, "").body, &l)
	if len(l.Credentials) != 2 || !l.Credentials[1].Expired {
		t.Fatalf("list %+v", l.Credentials)
	}
}

// TestAdminAPIRefusals: the admin API is authenticated, scoped to the
// server's region, replay-protected, and decodes exactly.
func TestAdminAPIRefusals(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	for _, tc := range []struct {
		name, op, body, want string
	}{
		{"unknown member", "CreateCredential", `{"Name":"x","IdentityPolicyy":"{}"}`, "ValidationException"},
		{"member of the wrong type", "CreateCredential", `{"Name":"x","Admin":"yes"}`, "ValidationException"},
		{"negative expiry", "CreateCredential", `{"Name":"x","ExpiresInSeconds":-1}`, "ValidationException"},
		{"a key policy as identity policy", "CreateCredential", `{"Name":"x","IdentityPolicy":"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"}`, "MalformedPolicyDocumentException"},
		{"duplicate name", "CreateCredential", `{"Name":"admin","Admin":true}`, "AlreadyExistsException"},
		{"an admin with an identity policy", "CreateCredential", `{"Name":"x","Admin":true,"IdentityPolicy":"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"}`, "ValidationException"},
		{"unknown operation", "CreateUser", `{}`, "UnknownOperationException"},
		{"no access key id", "DeleteCredential", `{}`, "ValidationException"},
	} {
		if a := send(t, adminRequest(t, srv.URL, tc.op, tc.body, srv.AccessKey, srv.Secret, srv.Region, time.Now())); a.typ != tc.want {
			t.Errorf("%s: %d %s %s; want %s", tc.name, a.status, a.typ, a.msg, tc.want)
		}
	}
	if a := send(t, adminRequest(t, srv.URL, "ListCredentials", `{}`, srv.AccessKey, srv.Secret, "eu-west-1", time.Now())); a.typ != "InvalidSignatureException" || !strings.Contains(a.msg, "region") {
		t.Errorf("another region: %s %s", a.typ, a.msg)
	}
	if a := send(t, adminRequest(t, srv.URL, "ListCredentials", `{}`, srv.AccessKey, "wrong", srv.Region, time.Now())); a.typ != "InvalidSignatureException" {
		t.Errorf("a bad signature: %s %s", a.typ, a.msg)
	}
	// A repeat within the pipeline's grace (replay.Grace) is let through as
	// for every dialect; past it, refused.
	r := adminRequest(t, srv.URL, "CreateCredential", `{"Name":"once"}`, srv.AccessKey, srv.Secret, srv.Region, time.Now().Add(-3*time.Second))
	again := r.Clone(ctx)
	again.Body = io.NopCloser(strings.NewReader(`{"Name":"once"}`))
	if a := send(t, r); a.status != 200 {
		t.Fatalf("first: %d %s", a.status, a.body)
	}
	if a := send(t, again); a.typ != "InvalidSignatureException" || !strings.Contains(a.msg, "replay") {
		t.Fatalf("replayed: %d %s %s", a.status, a.typ, a.msg)
	}
	// An unsigned request.
	r, _ = http.NewRequest("POST", srv.URL+"/", strings.NewReader(`{}`))
	r.Header.Set("X-Amz-Target", "AttestKMSAdmin.ListCredentials")
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if a := send(t, r); a.typ != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %d %s", a.status, a.typ)
	}
}

// TestBackupThroughTheAdminAPI: Backup answers the backup file, base64 in
// the JSON, with its header's counts; a non-admin gets AccessDeniedException
// and no backup; an unknown member is refused.
func TestBackupThroughTheAdminAPI(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	kc := kmsClient(srv, srv.AccessKey, srv.Secret)
	if _, err := kc.CreateKey(ctx, &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	a := call(t, srv, srv.AccessKey, srv.Secret, "Backup", `{}`, "")
	var out struct {
		Backup                     []byte
		CreatedAt                  int64
		Keys, Aliases, Credentials int
	}
	if err := json.Unmarshal(a.body, &out); err != nil {
		t.Fatal(err)
	}
	h, err := kms.ReadBackupHeader(out.Backup)
	if err != nil || out.Keys != 1 || out.Credentials != 1 || h.Keys != 1 || h.AccountID != srv.Account.AccountID || out.CreatedAt != h.CreatedAt.Unix() {
		t.Fatalf("Backup answered %+v (header %+v, %v)", out, h, err)
	}
	ci := decodeCred(t, call(t, srv, srv.AccessKey, srv.Secret, "CreateCredential", `{"Name":"ci"}`, ""))
	if d := call(t, srv, ci.AccessKeyId, ci.SecretAccessKey, "Backup", `{}`, "AccessDeniedException"); strings.Contains(string(d.body), "Backup\"") {
		t.Fatalf("a refused Backup answered %s", d.body)
	}
	call(t, srv, srv.AccessKey, srv.Secret, "Backup", `{"Full":true}`, "ValidationException")
}

// TestRotateServiceKeyThroughTheAdminAPI: RotateServiceKey makes a new key,
// which GET /service-key publishes beside the old one during its grace;
// only an admin may; a member it does not know is refused. On either store
// (a shared store's other nodes follow: kms TestServiceKeyPostgres).
func TestRotateServiceKeyThroughTheAdminAPI(t *testing.T) {
	testserver.Stores(t, testRotateServiceKeyThroughTheAdminAPI)
}

func testRotateServiceKeyThroughTheAdminAPI(t *testing.T, store string) {
	srv := testserver.Start(t, testserver.Options{Store: store})
	old := srv.Service.ServiceKeys()
	a := call(t, srv, srv.AccessKey, srv.Secret, "RotateServiceKey", `{"GraceDays":3}`, "")
	var out struct {
		New struct {
			KeyId, PublicKey     string
			CreatedAt, RetiredAt int64
		}
		Retiring []struct {
			KeyId                string
			CreatedAt, RetiredAt int64
		}
	}
	if err := json.Unmarshal(a.body, &out); err != nil {
		t.Fatal(err)
	}
	if len(old) != 1 || len(out.Retiring) != 1 || out.Retiring[0].KeyId != old[0].ID || out.Retiring[0].RetiredAt-time.Now().Unix() < 3*86400-60 || out.New.RetiredAt != 0 || !strings.Contains(out.New.PublicKey, "BEGIN PUBLIC KEY") {
		t.Fatalf("RotateServiceKey answered %s", a.body)
	}
	resp, err := http.Get(srv.URL + "/service-key")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), old[0].ID) || !strings.Contains(string(b), out.New.KeyId) {
		t.Fatalf("GET /service-key during the grace: %s", b)
	}
	ci := decodeCred(t, call(t, srv, srv.AccessKey, srv.Secret, "CreateCredential", `{"Name":"ci"}`, ""))
	call(t, srv, ci.AccessKeyId, ci.SecretAccessKey, "RotateServiceKey", `{}`, "AccessDeniedException")
	call(t, srv, srv.AccessKey, srv.Secret, "RotateServiceKey", `{"Grace":3}`, "ValidationException")
	call(t, srv, srv.AccessKey, srv.Secret, "RotateServiceKey", `{"GraceDays":366}`, "ValidationException")
	call(t, srv, srv.AccessKey, srv.Secret, "RotateServiceKey", `{"Revoke":true,"GraceDays":3}`, "ValidationException")
	call(t, srv, ci.AccessKeyId, ci.SecretAccessKey, "RotateServiceKey", `{"Revoke":true}`, "AccessDeniedException")

	// A revocation: both keys dropped at once, the new one alone published.
	r := call(t, srv, srv.AccessKey, srv.Secret, "RotateServiceKey", `{"Revoke":true}`, "")
	var rv struct {
		New      struct{ KeyId string }
		Retiring []struct{ KeyId string }
		Revoked  []struct{ KeyId string }
	}
	if err := json.Unmarshal(r.body, &rv); err != nil {
		t.Fatal(err)
	}
	if len(rv.Retiring) != 0 || len(rv.Revoked) != 2 || rv.Revoked[0].KeyId != old[0].ID || rv.Revoked[1].KeyId != out.New.KeyId {
		t.Fatalf("RotateServiceKey with Revoke answered %s", r.body)
	}
	if now := srv.Service.ServiceKeys(); len(now) != 1 || now[0].ID != rv.New.KeyId {
		t.Fatalf("published after the revocation: %+v, want %s alone", now, rv.New.KeyId)
	}
}
