package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
)

type env struct {
	srv      *testserver.Server
	caDir    string
	credFile string
	sdk      *awskms.Client
}

// newEnv starts attestkms trusting a fresh test CA, as
// "attestkms serve --nitro-roots DIR/root.pem" does.
func newEnv(t *testing.T) *env { return newEnvOpts(t, testserver.Options{}) }

func newEnvOpts(t *testing.T, opts testserver.Options) *env {
	t.Helper()
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(t.TempDir(), "ca")
	if err := ca.Save(caDir); err != nil {
		t.Fatal(err)
	}
	v, err := nitro.New(nitro.Options{Roots: ca.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	opts.Attestation = &attest.Set{COSE: []attest.Verifier{v}}
	e := newEnvAttested(t, opts)
	e.caDir = caDir
	return e
}

// newEnvAttested starts attestkms with opts (and its Attestation) and writes
// a credential file for enclavetool.
func newEnvAttested(t *testing.T, opts testserver.Options) *env {
	t.Helper()
	srv := testserver.Start(t, opts)
	credFile := filepath.Join(t.TempDir(), "cred.json")
	b, _ := json.Marshal(map[string]string{"access_key_id": srv.AccessKey, "secret_access_key": srv.Secret})
	os.WriteFile(credFile, b, 0o600)
	sdk := awskms.New(awskms.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.Secret, ""),
	})
	return &env{srv: srv, credFile: credFile, sdk: sdk}
}

// tool runs enclavetool with the simulated attestor and returns its NAME: value lines.
func (e *env) tool(t *testing.T, args ...string) (map[string][]byte, int, string) {
	t.Helper()
	args = append(args, "--endpoint", e.srv.URL, "--credential", e.credFile, "--attestor", "sim", "--sim-ca", e.caDir)
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	vals := map[string][]byte{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				t.Fatalf("%s is not base64: %q", k, v)
			}
			vals[k] = b
		}
	}
	return vals, code, errb.String()
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sym, err := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	e.sdk.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: sym.KeyMetadata.KeyId})
	keep := t.TempDir()

	// A data key: the enclave's plaintext is what Decrypt of the blob returns.
	v, code, stderr := e.tool(t, "generate-data-key", "--key-id", "alias/app", "--encryption-context", "app=demo", "--keep-ciphertext", keep)
	if code != 0 {
		t.Fatalf("generate-data-key: exit %d: %s", code, stderr)
	}
	back, err := e.sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: v["CIPHERTEXT"], EncryptionContext: map[string]string{"app": "demo"}})
	if err != nil || !bytes.Equal(back.Plaintext, v["PLAINTEXT"]) || len(v["PLAINTEXT"]) != 32 {
		t.Fatalf("data key %x, Decrypt %x, %v", v["PLAINTEXT"], back.Plaintext, err)
	}
	secrets := [][]byte{v["PLAINTEXT"]}

	// decrypt through the enclave.
	d, code, stderr := e.tool(t, "decrypt", "--ciphertext", base64.StdEncoding.EncodeToString(v["CIPHERTEXT"]), "--encryption-context", "app=demo", "--keep-ciphertext", keep)
	if code != 0 || !bytes.Equal(d["PLAINTEXT"], v["PLAINTEXT"]) {
		t.Fatalf("decrypt: exit %d %s", code, stderr)
	}

	r, code, stderr := e.tool(t, "generate-random", "--number-of-bytes", "48", "--keep-ciphertext", keep)
	if code != 0 || len(r["PLAINTEXT"]) != 48 {
		t.Fatalf("generate-random: exit %d %s", code, stderr)
	}
	secrets = append(secrets, r["PLAINTEXT"])

	// A shared secret: equal to the peer's own ECDH.
	ka, err := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	gp, _ := e.sdk.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: ka.KeyMetadata.KeyId})
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	peerFile := filepath.Join(t.TempDir(), "peer.pem")
	os.WriteFile(peerFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: peerDER}), 0o600)
	s, code, stderr := e.tool(t, "derive-shared-secret", "--key-id", *ka.KeyMetadata.KeyId, "--public-key", peerFile, "--keep-ciphertext", keep)
	if code != 0 {
		t.Fatalf("derive-shared-secret: exit %d %s", code, stderr)
	}
	kmsPub, _ := x509.ParsePKIXPublicKey(gp.PublicKey)
	kp, _ := kmsPub.(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	want, _ := peer.ECDH(kp)
	if !bytes.Equal(s["SHARED_SECRET"], want) {
		t.Fatal("the enclave's shared secret differs from the peer's ECDH")
	}
	secrets = append(secrets, want)

	// A key pair: the private key is what Decrypt of its blob returns.
	p, code, stderr := e.tool(t, "generate-data-key-pair", "--key-id", "alias/app", "--key-pair-spec", "ECC_NIST_P384", "--keep-ciphertext", keep)
	if code != 0 {
		t.Fatalf("generate-data-key-pair: exit %d %s", code, stderr)
	}
	if _, err := x509.ParsePKCS8PrivateKey(p["PRIVATE_KEY"]); err != nil {
		t.Fatal(err)
	}
	back, err = e.sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: p["PRIVATE_KEY_CIPHERTEXT"]})
	if err != nil || !bytes.Equal(back.Plaintext, p["PRIVATE_KEY"]) {
		t.Fatalf("private key blob: %v", err)
	}
	secrets = append(secrets, p["PRIVATE_KEY"])

	// --out writes the raw secret to a new 0600 file.
	outFile := filepath.Join(t.TempDir(), "secret.bin")
	if _, code, stderr := e.tool(t, "generate-random", "--number-of-bytes", "16", "--out", outFile); code != 0 {
		t.Fatalf("--out: %s", stderr)
	}
	if fi, err := os.Stat(outFile); err != nil || fi.Size() != 16 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("--out file: %v %v", fi, err)
	}

	// The audit log names the attestation and holds no secret.
	log, _ := os.ReadFile(filepath.Join(e.srv.DataDir, "audit.log"))
	if !bytes.Contains(log, []byte(`"attestation":{"format":"nitro"`)) || !bytes.Contains(log, []byte(`"public_key_sha256":"`)) {
		t.Fatalf("no attestation in the audit log:\n%s", log)
	}
	for _, sec := range secrets {
		if bytes.Contains(log, []byte(base64.StdEncoding.EncodeToString(sec))) {
			t.Fatal("a secret is in the audit log")
		}
	}

	// openssl cms -decrypt opens every CiphertextForRecipient kept — but
	// each was wrapped to an ephemeral key; only the kept ones from a run with
	// a saved key can be opened. See TestOpenSSLDecryptsEveryCiphertext.
	entries, _ := os.ReadDir(keep)
	if len(entries) != 5 {
		t.Fatalf("kept %d ciphertexts; want 5", len(entries))
	}
}

// TestOpenSSLDecryptsEveryCiphertext: with a saved enclave key, openssl cms
// opens every CiphertextForRecipient to the secret enclavetool printed.
func TestOpenSSLDecryptsEveryCiphertext(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	e := newEnv(t)
	ctx := context.Background()
	sym, _ := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{})
	ka, _ := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP521, KeyUsage: types.KeyUsageTypeKeyAgreement})
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "enclave.pem")
	out, err := exec.Command("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyFile).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl genpkey: %s", out)
	}
	peer, _ := ecdh.P521().GenerateKey(rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	peerFile := filepath.Join(dir, "peer.der")
	os.WriteFile(peerFile, peerDER, 0o600)
	keep := filepath.Join(dir, "keep")
	os.Mkdir(keep, 0o700)

	runs := []struct {
		args []string
		name string
	}{
		{[]string{"generate-data-key", "--key-id", *sym.KeyMetadata.KeyId}, "PLAINTEXT"},
		{[]string{"generate-random", "--number-of-bytes", "1024"}, "PLAINTEXT"},
		{[]string{"derive-shared-secret", "--key-id", *ka.KeyMetadata.KeyId, "--public-key", peerFile}, "SHARED_SECRET"},
		{[]string{"generate-data-key-pair", "--key-id", *sym.KeyMetadata.KeyId, "--key-pair-spec", "RSA_2048"}, "PRIVATE_KEY"},
	}
	for i, r := range runs {
		sub := filepath.Join(keep, r.args[0])
		os.Mkdir(sub, 0o700)
		v, code, stderr := e.tool(t, append(r.args, "--key", keyFile, "--keep-ciphertext", sub)...)
		if code != 0 {
			t.Fatalf("%s: %s", r.args[0], stderr)
		}
		entries, _ := os.ReadDir(sub)
		if len(entries) != 1 {
			t.Fatalf("%s: kept %d ciphertexts", r.args[0], len(entries))
		}
		ct := filepath.Join(sub, entries[0].Name())
		got, err := exec.Command("openssl", "cms", "-decrypt", "-inform", "DER", "-in", ct, "-inkey", keyFile).Output()
		if err != nil {
			t.Fatalf("run %d: openssl cms -decrypt: %v", i, err)
		}
		if !bytes.Equal(got, v[r.name]) {
			t.Fatalf("%s: openssl decrypted %d bytes that differ from the secret", r.args[0], len(got))
		}
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sym, _ := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{})

	// A debug-mode enclave (all PCRs zero) is refused with a hint.
	_, code, stderr := e.tool(t, "generate-data-key", "--key-id", *sym.KeyMetadata.KeyId, "--sim-pcr", "0="+strings.Repeat("00", 48))
	if code != 1 || !strings.Contains(stderr, "debug mode") || !strings.Contains(stderr, "hint:") {
		t.Fatalf("debug enclave: exit %d %s", code, stderr)
	}
	// Another CA's documents do not verify.
	other, _ := nitrotest.NewTestCA(attest.FormatNitro, nil)
	otherDir := filepath.Join(t.TempDir(), "other")
	other.Save(otherDir)
	var out, errb bytes.Buffer
	code = run([]string{"generate-random", "--endpoint", e.srv.URL, "--credential", e.credFile, "--attestor", "sim", "--sim-ca", otherDir}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "untrusted certificate chain") || out.Len() != 0 {
		t.Fatalf("foreign CA: exit %d stdout %q stderr %s", code, out.String(), errb.String())
	}
	// Usage errors.
	for _, args := range [][]string{{"frob"}, {"generate-data-key", "--credential", e.credFile, "--attestor", "sim", "--sim-ca", e.caDir}, {"generate-random", "--attestor", "frob"}, {"generate-random", "--attestor", "sim"}, {"decrypt", "--ciphertext", "%%"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "enclavetool: error:") {
			t.Errorf("%v: exit %d %q; want 2", args, code, errb.String())
		}
	}
	// Policy: a key only for enclaves with PCR0 = X.
	x := strings.Repeat("ab", 48)
	acct := e.srv.Account.AccountID
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:GenerateDataKey","Resource":"*",
	  "Condition":{"StringEqualsIgnoreCase":{"kms:RecipientAttestation:ImageSha384":"` + strings.ToUpper(x) + `"}}}]}`
	pk, err := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})
	if err != nil {
		t.Fatal(err)
	}
	if _, code, stderr := e.tool(t, "generate-data-key", "--key-id", *pk.KeyMetadata.KeyId, "--sim-pcr", "0="+x); code != 0 {
		t.Fatalf("enclave X refused: %s", stderr)
	}
	_, code, stderr = e.tool(t, "generate-data-key", "--key-id", *pk.KeyMetadata.KeyId, "--sim-pcr", "0="+strings.Repeat("cd", 48))
	if code != 1 || !strings.Contains(stderr, "AccessDeniedException") {
		t.Fatalf("enclave Y: exit %d %s", code, stderr)
	}
	if _, err := e.sdk.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: pk.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256}); err == nil {
		t.Fatal("a caller with no Recipient got a data key from an attestation-only key")
	}
}

// TestCABundle: over TLS, --ca-bundle pins the server's CA; without it the
// tool refuses a server it cannot authenticate.
func TestCABundle(t *testing.T) {
	e := newEnvOpts(t, testserver.Options{TLS: true})
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, e.srv.CAPEM, 0o600)
	if !strings.HasPrefix(e.srv.URL, "https://") {
		t.Fatalf("server URL %s", e.srv.URL)
	}
	v, code, stderr := e.tool(t, "generate-random", "--number-of-bytes", "8", "--ca-bundle", bundle)
	if code != 0 || len(v["PLAINTEXT"]) != 8 {
		t.Fatalf("with --ca-bundle: exit %d %s", code, stderr)
	}
	_, code, stderr = e.tool(t, "generate-random", "--number-of-bytes", "8")
	if code != 1 || !strings.Contains(stderr, "certificate") {
		t.Fatalf("without --ca-bundle: exit %d %s", code, stderr)
	}
	other, _ := nitrotest.NewTestCA(attest.FormatNitro, nil) // some other CA's root
	wrong := filepath.Join(t.TempDir(), "wrong.pem")
	os.WriteFile(wrong, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Root.Raw}), 0o600)
	if _, code, _ = e.tool(t, "generate-random", "--number-of-bytes", "8", "--ca-bundle", wrong); code != 1 {
		t.Fatal("a server outside --ca-bundle was trusted")
	}
}

// TestEnvironment: AWS_ENDPOINT_URL(_KMS), AWS_REGION (or AWS_DEFAULT_REGION)
// and AWS_CA_BUNDLE set what no flag does, as for the AWS CLI; a flag wins.
func TestEnvironment(t *testing.T) {
	e := newEnvOpts(t, testserver.Options{TLS: true, Region: "eu-west-1"})
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, e.srv.CAPEM, 0o600)
	other, _ := nitrotest.NewTestCA(attest.FormatNitro, nil)
	wrong := filepath.Join(t.TempDir(), "wrong.pem")
	os.WriteFile(wrong, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Root.Raw}), 0o600)
	for _, n := range []string{"AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE"} {
		t.Setenv(n, "")
	}
	random := func(args ...string) (int, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(append([]string{"generate-random", "--number-of-bytes", "8", "--credential", e.credFile, "--attestor", "sim", "--sim-ca", e.caDir}, args...), &out, &errb)
		if code == 0 && !strings.HasPrefix(out.String(), "PLAINTEXT: ") {
			t.Fatalf("exit 0 but printed %q", out.String())
		}
		return code, errb.String()
	}
	t.Setenv("AWS_ENDPOINT_URL", e.srv.URL)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CA_BUNDLE", bundle)
	if code, stderr := random(); code != 0 {
		t.Fatalf("endpoint, region and CA bundle from the environment: exit %d %s", code, stderr)
	}
	// The service-specific endpoint wins over the global one, as in the CLI.
	t.Setenv("AWS_ENDPOINT_URL", "https://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL_KMS", e.srv.URL)
	if code, stderr := random(); code != 0 {
		t.Fatalf("AWS_ENDPOINT_URL_KMS: exit %d %s", code, stderr)
	}
	// AWS_DEFAULT_REGION when AWS_REGION is unset.
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "eu-west-1")
	if code, stderr := random(); code != 0 {
		t.Fatalf("AWS_DEFAULT_REGION: exit %d %s", code, stderr)
	}
	// Flags win: each wrong flag fails although the environment is right.
	for _, tc := range []struct{ flag, value, want string }{
		{"--endpoint", "https://127.0.0.1:1", "connect"},
		{"--region", "us-east-1", "region"},
		{"--ca-bundle", wrong, "certificate"},
	} {
		if code, stderr := random(tc.flag, tc.value); code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s %s over a right environment: exit %d %s; want 1 and %q", tc.flag, tc.value, code, stderr, tc.want)
		}
	}
	// And a wrong environment is what is used when no flag is given.
	t.Setenv("AWS_CA_BUNDLE", wrong)
	if code, _ := random(); code != 1 {
		t.Error("AWS_CA_BUNDLE naming another CA was not used")
	}
	if code, stderr := random("--ca-bundle", bundle); code != 0 {
		t.Errorf("--ca-bundle over a wrong AWS_CA_BUNDLE: exit %d %s", code, stderr)
	}
}
