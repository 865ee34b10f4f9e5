package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

// oldEnclavePolicy is the enclave-only policy the README once showed: its
// NotAction statement allows ReEncryptFrom, GenerateDataKeyPair and
// DeriveSharedSecret without evidence, so the server refuses it.
const oldEnclavePolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"111122223333"},
  "NotAction":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*"},
 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"111122223333"},
  "Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"<your image's PCR0>"}}}]}`

// newEnclavePolicy is the README's enclave-only policy, PCR0 to be filled in.
const newEnclavePolicy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"111122223333"},
  "Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"111122223333"},
  "Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
  "Condition":{"StringEquals":{"kms:RecipientAttestation:Format":"nitro",
    "kms:RecipientAttestation:ImageSha384":"<your image's PCR0>"}}}]}`

// writeTemp writes content to a new file in dir and returns its path.
func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// lines splits a command's stdout into its lines.
func lines(out string) []string {
	if out == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(out, "\n"), "\n")
}

func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	got := lines(out)
	if len(got) != len(want) {
		t.Fatalf("%s: %d lines, want %d:\n%s", what, len(got), len(want), out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: line %d is\n  %q\nwant\n  %q", what, i, got[i], want[i])
		}
	}
}

func TestPolicyLint(t *testing.T) {
	dir := t.TempDir()
	clean := writeTemp(t, dir, "new.json", newEnclavePolicy)
	code, out, errs := runCmd("policy", "lint", "--in", clean)
	if code != 0 || out != "" || errs != "" {
		t.Fatalf("clean policy: exit %d, %q, %q", code, out, errs)
	}

	// The old README policy: its NotAction statement allows three secret
	// actions without evidence (Decrypt and GenerateDataKey it excludes), and
	// its enclave statement names no Format.
	code, out, errs = runCmd("policy", "lint", "--in", writeTemp(t, dir, "old.json", oldEnclavePolicy))
	if code != 1 || errs != "" {
		t.Fatalf("old policy: exit %d, %q", code, errs)
	}
	got := lines(out)
	want := [][3]string{
		{"error", `statement 0 (Sid "manage")`, "kms:DeriveSharedSecret"},
		{"error", `statement 0 (Sid "manage")`, "kms:GenerateDataKeyPair"},
		{"error", `statement 0 (Sid "manage")`, "kms:ReEncryptFrom"},
		{"warning", `statement 1 (Sid "enclave")`, "-"},
	}
	if len(got) != len(want) {
		t.Fatalf("old policy: %d findings, want %d:\n%s", len(got), len(want), out)
	}
	for i, w := range want {
		f := strings.Split(got[i], "\t")
		if len(f) != 4 || f[0] != w[0] || f[1] != w[1] || f[2] != w[2] {
			t.Fatalf("old policy: finding %d is %q, want %q", i, got[i], w)
		}
		if w[0] == "error" && (!strings.HasPrefix(f[3], "allows "+w[2]+" (through NotAction) to ") ||
			!strings.HasSuffix(f[3], `without a verified Recipient: it has no condition on a kms:RecipientAttestation measurement, while statement 1 (Sid "enclave") conditions on attestation`)) {
			t.Fatalf("old policy: finding %d's reason %q", i, f[3])
		}
	}
	if !strings.Contains(got[3], `add "kms:RecipientAttestation:Format": "nitro"`) {
		t.Fatalf("old policy: warning %q", got[3])
	}

	// Only a smell: a warning, still exit 1.
	star := writeTemp(t, dir, "star.json", `{"Version":"2012-10-17","Statement":[{"Sid":"all","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`)
	code, out, _ = runCmd("policy", "lint", "--in", star)
	if code != 1 {
		t.Fatalf("smell: exit %d", code)
	}
	wantLines(t, "smell", out, "warning\tstatement 0 (Sid \"all\")\t-\tallows every principal (\"*\"), which in attestkms is every credential of the account: name the principals")

	// A misspelt measurement key: one error, naming it.
	misspelt := writeTemp(t, dir, "misspelt.json", strings.Replace(newEnclavePolicy, "kms:RecipientAttestation:ImageSha384", "kms:RecipientAttestaton:ImageSha384", 1))
	code, out, _ = runCmd("policy", "lint", "--in", misspelt)
	if got := lines(out); code != 1 || len(got) != 1 || !strings.HasPrefix(got[0], "error\t-\t-\t") ||
		!strings.Contains(got[0], `unknown condition key "kms:RecipientAttestaton:ImageSha384"`) {
		t.Fatalf("misspelt key: exit %d, %q", code, out)
	}

	// A parse error is a finding, not unreadable input.
	code, out, _ = runCmd("policy", "lint", "--in", writeTemp(t, dir, "bad.json", `{"Version":"2012-10-17","Statement":[`))
	if code != 1 {
		t.Fatalf("parse error: exit %d", code)
	}
	wantLines(t, "parse error", out, "error\t-\t-\tmalformed policy document: the JSON ends early")
	code, out, _ = runCmd("policy", "lint", "--in", writeTemp(t, dir, "big.json", `{"Version":"2012-10-17","Statement":[`+strings.Repeat(" ", 40<<10)+`]}`))
	if got := lines(out); code != 1 || len(got) != 1 || !strings.HasPrefix(got[0], "error\t-\t-\t") {
		t.Fatalf("a 40 KiB policy: exit %d, %q", code, out)
	}

	// Standard input.
	withStdin(t, star, func() {
		code, out, _ = runCmd("policy", "lint", "--in", "-")
	})
	if code != 1 || !strings.HasPrefix(out, "warning\tstatement 0 (Sid \"all\")\t") {
		t.Fatalf("stdin: exit %d, %q", code, out)
	}
}

func TestPolicyUsageAndInput(t *testing.T) {
	dir := t.TempDir()
	pol := writeTemp(t, dir, "p.json", newEnclavePolicy)
	huge := filepath.Join(dir, "huge.json")
	if err := os.WriteFile(huge, make([]byte, maxPolicyInput+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		err  string // in stderr
	}{
		{[]string{"policy"}, 2, "policy needs a subcommand"},
		{[]string{"policy", "frobnicate"}, 2, `unknown policy subcommand "frobnicate"`},
		{[]string{"policy", "--help"}, 0, ""},
		{[]string{"policy", "lint", "--help"}, 0, ""},
		{[]string{"policy", "test", "--help"}, 0, ""},
		{[]string{"policy", "lint"}, 2, "--in is required"},
		{[]string{"policy", "lint", "--in", pol, "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"policy", "lint", "--in", pol, "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"policy", "lint", "--in", filepath.Join(dir, "missing.json")}, 3, "no such file"},
		{[]string{"policy", "lint", "--in", dir}, 3, "is a directory"},
		{[]string{"policy", "lint", "--in", huge}, 3, "more than 1048576 bytes"},
		{[]string{"policy", "lint", "--in", "/dev/zero"}, 3, "more than 1048576 bytes"},
		{[]string{"policy", "test", "--action", "kms:Decrypt"}, 2, "--in is required"},
		{[]string{"policy", "test", "--in", pol}, 2, "--action is required"},
		{[]string{"policy", "test", "--in", pol, "--action", "kms:Decrypt", "--bogus"}, 2, "not defined"},
		{[]string{"policy", "test", "--in", filepath.Join(dir, "missing.json"), "--action", "kms:Decrypt"}, 3, "no such file"},
		{[]string{"policy", "test", "--in", huge, "--action", "kms:Decrypt"}, 3, "more than"},
		{[]string{"policy", "test", "--in", pol, "--action", "kms:Decrypt", "--evidence", filepath.Join(dir, "missing.cbor")}, 3, "no such file"},
		{[]string{"policy", "test", "--in", pol, "--action", "kms:Decrypt", "--evidence", pol, "--nitro-roots", filepath.Join(dir, "missing.pem")}, 3, "reading roots"},
		{[]string{"policy", "test", "--in", pol, "--action", "kms:DescribeKey", "--nitro-roots", pol}, 3, "no PEM certificate"},
		{[]string{"policy", "test", "--in", pol, "--action", "kms:Decrypt", "--evidence", pol, "--attestation-max-age", "-1s"}, 2, "--attestation-max-age must be positive"},
		{[]string{"policy", "test", "--in", pol, "--action", "kms:Decrypt", "--at", "yesterday"}, 2, "not an RFC 3339 time"},
		{[]string{"policy", "test", "--in", pol, "--action", "kms:Decrypt", "--principal", "bob"}, 2, `principal "bob" is not an IAM ARN`},
		{[]string{"policy", "test", "--in", pol, "--action", "kms:Decrypt", "--key-arn", "key-1"}, 2, `--key-arn "key-1" is not a key ARN`},
		{[]string{"policy", "test", "--in", pol, "--action", "kms:Decrypt", "--principal", "arn:aws:iam::111122223333:root",
			"--key-arn", "arn:aws:kms:us-east-1:444455556666:key/" + defaultKeyID}, 2, "the key is in account 444455556666"},
		{[]string{"policy", "test", "--in", "-", "--evidence", "-", "--action", "kms:Decrypt"}, 2, "cannot both be standard input"},
	} {
		code, out, errs := runCmd(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.err) {
			t.Errorf("%v: exit %d, %q; want %d, %q", tc.args, code, errs, tc.code, tc.err)
		}
		if tc.code == 0 && !strings.Contains(out, "Usage") {
			t.Errorf("%v: help %q", tc.args, out)
		}
		if tc.code >= 2 && (strings.HasPrefix(out, "allowed") || strings.HasPrefix(out, "denied")) {
			t.Errorf("%v: a verdict on a usage error: %q", tc.args, out)
		}
	}

	// A policy that does not parse is an error (exit 1), not a verdict.
	bad := writeTemp(t, dir, "bad.json", `{"Version":"2012-10-17","Statement":[`)
	code, out, errs := runCmd("policy", "test", "--in", bad, "--action", "kms:Decrypt", "--principal", "arn:aws:iam::111122223333:root")
	if code != 1 || out != "" || !strings.HasPrefix(errs, "attestkms: error: the policy does not parse: malformed policy document: the JSON ends early\n") ||
		!strings.Contains(errs, "hint: attestkms policy lint") {
		t.Fatalf("bad policy: exit %d, %q, %q", code, out, errs)
	}
	code, out, errs = runCmd("policy", "test", "--in", bad, "--action", "kms:Decrypt")
	if code != 1 || out != "" || !strings.HasPrefix(errs, "attestkms: error: the policy does not parse") {
		t.Fatalf("bad policy, default principal: exit %d, %q, %q", code, out, errs)
	}
}

// withStdin runs f with os.Stdin reading the file at path.
func withStdin(t *testing.T, path string, f func()) {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	old := os.Stdin
	os.Stdin = in
	defer func() { os.Stdin = old }()
	f()
}

// nitroFixture is a test Nitro CA saved to disk, and a document it signed
// for an enclave whose image is PCR0.
type nitroFixture struct {
	root  string // --nitro-roots
	doc   string // --evidence
	image string // PCR0, hex
	time  time.Time
}

func newNitroFixture(t *testing.T, debug bool) nitroFixture {
	t.Helper()
	pcrs := map[int][]byte{0: make([]byte, 48)}
	for i := range pcrs[0] {
		pcrs[0][i] = byte(i + 1)
	}
	if debug {
		pcrs = nil // all zero: a debug-mode enclave
	}
	f := newNitroFixturePCRs(t, pcrs)
	if !debug {
		f.image = hex.EncodeToString(pcrs[0])
	}
	return f
}

// newNitroFixturePCRs is a test CA and a fresh document of its, with pcrs
// (nil: every PCR zero).
func newNitroFixturePCRs(t *testing.T, pcrs map[int][]byte) nitroFixture {
	t.Helper()
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ca.Save(filepath.Join(dir, "ca")); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	now := time.Now().UTC().Truncate(time.Second)
	doc, err := ca.Sign(nitrotest.Document{Timestamp: now, PCRs: pcrs, PublicKey: der})
	if err != nil {
		t.Fatal(err)
	}
	f := nitroFixture{root: filepath.Join(dir, "ca", "root.pem"), doc: filepath.Join(dir, "doc.cbor"), image: strings.Repeat("0", 96), time: now}
	if err := os.WriteFile(f.doc, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

const enclaveStatement = `statement 1 (Sid "enclave")`

func TestPolicyTestEvidence(t *testing.T) {
	fx := newNitroFixture(t, false)
	dir := t.TempDir()
	pol := writeTemp(t, dir, "new.json", strings.Replace(newEnclavePolicy, "<your image's PCR0>", fx.image, 1))
	test := func(args ...string) (int, string, string) {
		return runCmd(append([]string{"policy", "test", "--in", pol}, args...)...)
	}

	// The right image: allowed by the enclave statement.
	code, out, errs := test("--action", "kms:Decrypt", "--evidence", fx.doc, "--nitro-roots", fx.root)
	if code != 0 || errs != "" {
		t.Fatalf("right image: exit %d, %q", code, errs)
	}
	wantLines(t, "right image", out, "allowed", "statement: "+enclaveStatement)
	code, out, _ = test("--action", "kms:GenerateDataKey", "--evidence", fx.doc, "--nitro-roots", fx.root, "--explain")
	if code != 0 {
		t.Fatalf("--explain: exit %d", code)
	}
	wantLines(t, "--explain", out, "allowed", "statement: "+enclaveStatement,
		`explain: statement 0 (Sid "manage"): does not apply: the action does not match`,
		"explain: "+enclaveStatement+": applies: Allow")

	// Base64 evidence, as documents appear in logs, on standard input.
	raw, _ := os.ReadFile(fx.doc)
	b64 := writeTemp(t, dir, "doc.b64", base64Lines(raw))
	withStdin(t, b64, func() {
		code, out, errs = test("--action", "kms:Decrypt", "--evidence", "-", "--nitro-roots", fx.root)
	})
	if code != 0 || lines(out)[0] != "allowed" {
		t.Fatalf("base64 evidence on stdin: exit %d, %q, %q", code, out, errs)
	}

	// Another image: denied, the unmet measurement named.
	other := writeTemp(t, dir, "other.json", strings.Replace(newEnclavePolicy, "<your image's PCR0>", strings.Repeat("ab", 48), 1))
	code, out, _ = runCmd("policy", "test", "--in", other, "--action", "kms:Decrypt", "--evidence", fx.doc, "--nitro-roots", fx.root)
	if code != 1 {
		t.Fatalf("wrong image: exit %d", code)
	}
	wantLines(t, "wrong image", out, "denied", "statement: none",
		"reason: no statement allows kms:Decrypt",
		"reason: "+enclaveStatement+": StringEquals on kms:RecipientAttestation:ImageSha384 does not hold (the key is present)")

	// No evidence: the attestation gate denies, and the reasons also say
	// which measurement conditions the enclave statement lacks.
	code, out, _ = test("--action", "kms:Decrypt", "--explain")
	if code != 1 {
		t.Fatalf("no evidence: exit %d", code)
	}
	got := lines(out)
	if len(got) != 7 || got[0] != "denied" || got[1] != "statement: none" ||
		!strings.HasPrefix(got[2], "reason: arn:aws:kms:us-east-1:111122223333:key/"+defaultKeyID+" is attestation-bound: ") ||
		got[3] != "reason: "+enclaveStatement+": StringEquals on kms:RecipientAttestation:Format does not hold (the key is absent)" ||
		got[4] != "reason: "+enclaveStatement+": StringEquals on kms:RecipientAttestation:ImageSha384 does not hold (the key is absent)" ||
		got[6] != "explain: "+enclaveStatement+": does not apply: StringEquals on kms:RecipientAttestation:Format does not hold (the key is absent); StringEquals on kms:RecipientAttestation:ImageSha384 does not hold (the key is absent)" {
		t.Fatalf("no evidence:\n%s", out)
	}

	// An administrative action needs no evidence.
	code, out, _ = test("--action", "kms:DescribeKey")
	if code != 0 {
		t.Fatalf("DescribeKey: exit %d", code)
	}
	wantLines(t, "DescribeKey", out, "allowed", `statement: statement 0 (Sid "manage")`)

	// Untrusted evidence (the embedded AWS root, not the test CA's): refused,
	// as the server would refuse the Recipient, with a hint on stderr.
	code, out, errs = test("--action", "kms:Decrypt", "--evidence", fx.doc)
	if got := lines(out); code != 1 || len(got) != 3 || got[0] != "denied" || got[1] != "statement: none" ||
		!strings.HasPrefix(got[2], "reason: the Recipient's evidence is refused: ") || !strings.Contains(got[2], "untrusted certificate chain") ||
		!strings.Contains(errs, "attestkms: hint: ") || !strings.Contains(errs, "--nitro-roots") {
		t.Fatalf("untrusted: exit %d, %q, %q", code, out, errs)
	}

	// Before its certificates were valid, and long after its timestamp:
	// refused.
	for _, tc := range []struct {
		at  time.Time
		why string
	}{
		{fx.time.Add(-time.Hour), "is not valid before"},
		{fx.time.Add(time.Hour), "more than the maximum age 5m0s"},
	} {
		code, out, _ = test("--action", "kms:Decrypt", "--evidence", fx.doc, "--nitro-roots", fx.root, "--at", tc.at.Format(time.RFC3339))
		if got := lines(out); code != 1 || len(got) != 3 || got[0] != "denied" || got[1] != "statement: none" ||
			!strings.HasPrefix(got[2], "reason: the Recipient's evidence is refused: expired or stale evidence: ") || !strings.Contains(got[2], tc.why) {
			t.Fatalf("--at %s: exit %d, %q", tc.at, code, out)
		}
	}
	// Within --attestation-max-age of its timestamp: verified.
	code, _, errs = test("--action", "kms:Decrypt", "--evidence", fx.doc, "--nitro-roots", fx.root,
		"--at", fx.time.Add(time.Hour).Format(time.RFC3339), "--attestation-max-age", "2h")
	if code != 0 {
		t.Fatalf("--attestation-max-age: exit %d %q", code, errs)
	}

	// Garbage evidence is refused, not unreadable.
	code, out, _ = test("--action", "kms:Decrypt", "--evidence", pol, "--nitro-roots", fx.root)
	if got := lines(out); code != 1 || len(got) != 3 || !strings.HasPrefix(got[2], "reason: the Recipient's evidence is refused: ") {
		t.Fatalf("garbage evidence: exit %d, %q", code, out)
	}
}

func base64Lines(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	return out.String() + s + "\n"
}

// TestPolicyTestDebugEnclave: a debug-mode enclave's document is refused
// unless --allow-debug-enclaves, as serve does.
func TestPolicyTestDebugEnclave(t *testing.T) {
	fx := newNitroFixture(t, true)
	pol := writeTemp(t, t.TempDir(), "p.json", strings.Replace(newEnclavePolicy, "<your image's PCR0>", fx.image, 1))
	args := []string{"policy", "test", "--in", pol, "--action", "kms:Decrypt", "--evidence", fx.doc, "--nitro-roots", fx.root}
	code, out, _ := runCmd(args...)
	if code != 1 {
		t.Fatalf("debug enclave: exit %d", code)
	}
	wantLines(t, "debug enclave", out, "denied", "statement: none",
		"reason: the Recipient's evidence is refused: evidence refused by policy: the attestation document comes from an enclave in debug mode (PCR0 is all zero), whose memory is open to its host; debug-mode enclaves are refused (start attestkms with --allow-debug-enclaves to accept such documents in tests)")
	code, out, _ = runCmd(append(args, "--allow-debug-enclaves")...)
	if code != 0 {
		t.Fatalf("--allow-debug-enclaves: exit %d %q", code, out)
	}
	wantLines(t, "--allow-debug-enclaves", out, "allowed", "statement: "+enclaveStatement)
}

// TestPolicyTestNoPCR0: a document without PCR0, signed by a trusted
// root, is refused as malformed even with --allow-debug-enclaves. The
// policy's only image condition is an …IfExists on ImageSha384 beside
// Format, which the safety check accepts because every Nitro document
// carries PCR0; before the verifier enforced that, the document was
// admitted as a debug-mode enclave's and the …IfExists held for it.
func TestPolicyTestNoPCR0(t *testing.T) {
	image := make([]byte, 48)
	for i := range image {
		image[i] = 7
	}
	fx := newNitroFixturePCRs(t, map[int][]byte{1: image, 2: image})
	dir := t.TempDir()
	pol := writeTemp(t, dir, "p.json", `{"Version":"2012-10-17","Statement":[
 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"111122223333"},
  "Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
  "Condition":{"StringEquals":{"kms:RecipientAttestation:Format":"nitro"},
   "StringEqualsIfExists":{"kms:RecipientAttestation:ImageSha384":"`+hex.EncodeToString(image)+`"}}}]}`)
	for _, extra := range [][]string{nil, {"--allow-debug-enclaves"}} {
		args := append([]string{"policy", "test", "--in", pol, "--action", "kms:Decrypt", "--evidence", fx.doc, "--nitro-roots", fx.root}, extra...)
		code, out, _ := runCmd(args...)
		if code != 1 || !strings.Contains(out, "denied") || !strings.Contains(out, "no PCR0") {
			t.Errorf("%v: a document without PCR0: exit %d\n%s", extra, code, out)
		}
	}
}

func TestPolicyTestGate(t *testing.T) {
	// The old policy's NotAction statement allows ReEncryptFrom; the gate
	// denies it all the same, without evidence.
	pol := writeTemp(t, t.TempDir(), "old.json", oldEnclavePolicy)
	code, out, _ := runCmd("policy", "test", "--in", pol, "--action", "kms:ReEncryptFrom", "--explain")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	wantLines(t, "ReEncryptFrom", out, "denied", "statement: none",
		"reason: arn:aws:kms:us-east-1:111122223333:key/"+defaultKeyID+" is attestation-bound: its key policy has kms:RecipientAttestation conditions, "+
			"so kms:ReEncryptFrom releases a secret of it only to a verified Recipient, and this request has none. Send a Recipient (an attestation document); "+
			"a public key alone (EncryptionPublicKey) proves nothing about who holds its private key, and ReEncrypt from such a key is never allowed. "+
			"To let a caller without evidence use the key, change its policy.",
		`explain: statement 0 (Sid "manage"): applies: Allow`,
		"explain: "+enclaveStatement+": does not apply: the action does not match")
	// An action that releases no secret is the policy's to decide.
	code, out, _ = runCmd("policy", "test", "--in", pol, "--action", "kms:ReEncryptTo")
	if code != 0 {
		t.Fatalf("ReEncryptTo: exit %d", code)
	}
	wantLines(t, "ReEncryptTo", out, "allowed", `statement: statement 0 (Sid "manage")`)
}

func TestPolicyTestRequest(t *testing.T) {
	dir := t.TempDir()

	// An explicit Deny names its statement.
	deny := writeTemp(t, dir, "deny.json", `{"Version":"2012-10-17","Statement":[
 {"Sid":"all","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"keep","Effect":"Deny","Principal":{"AWS":"444455556666"},"Action":"kms:ScheduleKeyDeletion","Resource":"*"}]}`)
	code, out, _ := runCmd("policy", "test", "--in", deny, "--action", "kms:ScheduleKeyDeletion")
	if code != 1 {
		t.Fatalf("explicit deny: exit %d", code)
	}
	wantLines(t, "explicit deny", out, "denied", `statement: statement 1 (Sid "keep")`, `reason: statement 1 (Sid "keep") denies it`)
	// The default principal is the root of the only account the policy names.
	code, out, _ = runCmd("policy", "test", "--in", deny, "--action", "kms:Encrypt", "--explain")
	if code != 0 {
		t.Fatalf("default principal: exit %d %q", code, out)
	}
	wantLines(t, "default principal", out, "allowed", `statement: statement 0 (Sid "all")`,
		`explain: statement 0 (Sid "all"): applies: Allow`, `explain: statement 1 (Sid "keep"): does not apply: the action does not match`)
	// Another account's caller (with a key of its own account) is not allowed.
	code, out, _ = runCmd("policy", "test", "--in", deny, "--action", "kms:Encrypt", "--principal", "arn:aws:iam::999988887777:user/eve")
	if code != 1 {
		t.Fatalf("other account: exit %d", code)
	}
	wantLines(t, "other account", out, "denied", "statement: none", "reason: no statement allows kms:Encrypt")

	// aws:SecureTransport: plain HTTP unless --context says otherwise.
	tls := writeTemp(t, dir, "tls.json", `{"Version":"2012-10-17","Statement":[
 {"Sid":"use","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
 {"Sid":"tls-only","Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*",
  "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
	code, out, _ = runCmd("policy", "test", "--in", tls, "--action", "kms:Decrypt")
	if code != 1 {
		t.Fatalf("plain HTTP: exit %d", code)
	}
	wantLines(t, "plain HTTP", out, "denied", `statement: statement 1 (Sid "tls-only")`, `reason: statement 1 (Sid "tls-only") denies it`)
	for _, v := range []string{"aws:SecureTransport=true", "AWS:SECURETRANSPORT=TRUE"} {
		code, out, _ = runCmd("policy", "test", "--in", tls, "--action", "kms:Decrypt", "--context", v)
		if code != 0 {
			t.Fatalf("--context %s: exit %d", v, code)
		}
		wantLines(t, "TLS", out, "allowed", `statement: statement 0 (Sid "use")`)
	}
	code, _, _ = runCmd("policy", "test", "--in", tls, "--action", "kms:Decrypt", "--context", "aws:SecureTransport=false")
	if code != 1 {
		t.Fatalf("--context aws:SecureTransport=false: exit %d", code)
	}

	// Encryption context, source address, alias, key spec.
	cond := writeTemp(t, dir, "cond.json", `{"Version":"2012-10-17","Statement":[
 {"Sid":"app","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*",
  "Condition":{"StringEquals":{"kms:EncryptionContext:app":"billing","kms:RequestAlias":"alias/billing","kms:KeySpec":"SYMMETRIC_DEFAULT"},
   "ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["app","tenant"]},
   "IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)
	ok := []string{"--context", "kms:EncryptionContext:app=billing", "--context", "kms:EncryptionContext:tenant=7",
		"--context", "aws:SourceIp=10.1.2.3", "--context", "kms:RequestAlias=alias/billing"}
	code, out, _ = runCmd(append([]string{"policy", "test", "--in", cond, "--action", "kms:Decrypt"}, ok...)...)
	if code != 0 {
		t.Fatalf("context: exit %d %q", code, out)
	}
	wantLines(t, "context", out, "allowed", `statement: statement 0 (Sid "app")`)
	for _, tc := range []struct{ replace, with, reason string }{
		{"aws:SourceIp=10.1.2.3", "aws:SourceIp=192.0.2.1", "IpAddress on aws:SourceIp does not hold (the key is present)"},
		{"kms:EncryptionContext:app=billing", "kms:EncryptionContext:app=payroll", "StringEquals on kms:EncryptionContext:app does not hold (the key is present)"},
		{"kms:EncryptionContext:tenant=7", "kms:EncryptionContext:user=7", "ForAllValues:StringEquals on kms:EncryptionContextKeys does not hold (the key is present)"},
		{"kms:RequestAlias=alias/billing", "kms:KeySpec=ECC_NIST_P256", "StringEquals on kms:RequestAlias does not hold (the key is absent)"},
	} {
		args := []string{"policy", "test", "--in", cond, "--action", "kms:Decrypt"}
		for _, a := range ok {
			if a == tc.replace {
				a = tc.with
			}
			args = append(args, a)
		}
		code, out, _ = runCmd(args...)
		got := lines(out)
		if code != 1 || len(got) < 4 || got[0] != "denied" || got[2] != "reason: no statement allows kms:Decrypt" ||
			!strings.Contains(out, "reason: statement 0 (Sid \"app\"): "+tc.reason+"\n") {
			t.Fatalf("%s: exit %d\n%s", tc.with, code, out)
		}
	}

	// Two accounts and no --principal: which caller? A usage error; the
	// key's account answers it.
	two := writeTemp(t, dir, "two.json", `{"Version":"2012-10-17","Statement":[
 {"Sid":"a","Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:root"]},"Action":"kms:*","Resource":"*"}]}`)
	code, out, errs := runCmd("policy", "test", "--in", two, "--action", "kms:Encrypt")
	if code != 2 || out != "" || !strings.Contains(errs, "the policy names 2 accounts (111122223333, 444455556666): pass --principal") {
		t.Fatalf("two accounts: exit %d, %q, %q", code, out, errs)
	}
	code, out, _ = runCmd("policy", "test", "--in", two, "--action", "kms:Encrypt", "--key-arn", "arn:aws:kms:eu-west-1:444455556666:key/1234")
	if code != 0 {
		t.Fatalf("two accounts, --key-arn: exit %d %q", code, out)
	}
	none := writeTemp(t, dir, "none.json", `{"Version":"2012-10-17","Statement":[
 {"Sid":"a","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/ci"},"Action":"kms:*","Resource":"*"}]}`)
	code, _, errs = runCmd("policy", "test", "--in", none, "--action", "kms:Encrypt")
	if code != 2 || !strings.Contains(errs, "the policy names no account") || !strings.Contains(errs, "--principal") {
		t.Fatalf("no account: exit %d, %q", code, errs)
	}
	code, out, _ = runCmd("policy", "test", "--in", none, "--action", "kms:Encrypt", "--principal", "arn:aws:iam::111122223333:user/ci")
	if code != 0 {
		t.Fatalf("--principal: exit %d %q", code, out)
	}

	// A Resource naming one key needs --key-arn; --region names the
	// default key's region.
	one := writeTemp(t, dir, "one.json", `{"Version":"2012-10-17","Statement":[
 {"Sid":"a","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"arn:aws:kms:eu-west-1:111122223333:key/*"}]}`)
	if code, _, _ := runCmd("policy", "test", "--in", one, "--action", "kms:Encrypt"); code != 1 {
		t.Fatalf("default key in us-east-1: exit %d", code)
	}
	if code, _, _ := runCmd("policy", "test", "--in", one, "--action", "kms:Encrypt", "--region", "eu-west-1"); code != 0 {
		t.Fatalf("--region eu-west-1: exit %d", code)
	}
	if code, _, _ := runCmd("policy", "test", "--in", one, "--action", "kms:Encrypt", "--key-arn", "arn:aws:kms:eu-west-1:111122223333:key/k"); code != 0 {
		t.Fatalf("--key-arn: exit %d", code)
	}
}

func TestPolicyTestContextFlags(t *testing.T) {
	pol := writeTemp(t, t.TempDir(), "p.json", newEnclavePolicy)
	for _, tc := range []struct {
		context string
		err     string // in stderr
	}{
		{"kms:RecipientAttestation:ImageSha384=" + strings.Repeat("0", 96), "--evidence"},
		{"kms:recipientattestation:pcr0=00", "--evidence"},
		{"kms:RecipientAttestation/PCR0=00", "--evidence"},
		{"kms:RecipientAttestation:Format=nitro", "--evidence"},
		{"aws:PrincipalArn=arn:aws:iam::111122223333:root", "--principal"},
		{"kms:CallerAccount=111122223333", "--principal"},
		{"aws:CurrentTime=2024-01-01T00:00:00Z", "--at"},
		{"aws:EpochTime=0", "--at"},
		{"aws:RequestedRegion=eu-west-1", "--region"},
		{"kms:EncryptionContextKeys=app", "kms:EncryptionContext:KEY"},
		{"kms:KeyOrigin=EXTERNAL", "AWS_KMS"},
		{"aws:SourceVpc=vpc-1", "not a condition key attestkms evaluates"},
		{"kms:ViaService=ec2", "not a condition key attestkms evaluates"},
		{"aws:SourceIp=10.0.0.300", "not an IP address"},
		{"aws:SecureTransport=yes", "want true or false"},
		{"kms:KeySpec=AES_256", "want one of SYMMETRIC_DEFAULT"},
		{"kms:KeyUsage=SIGN_VERIFY", "want one of ENCRYPT_DECRYPT"},
		{"kms:RequestAlias=billing", "want alias/NAME"},
		{"kms:EncryptionContext:=x", "name the encryption context key"},
		{"aws:SecureTransport", "is not KEY=VALUE"},
		{"=true", "is not KEY=VALUE"},
	} {
		code, out, errs := runCmd("policy", "test", "--in", pol, "--action", "kms:Decrypt", "--context", tc.context)
		if code != 2 || out != "" || !strings.Contains(errs, tc.err) || !strings.HasPrefix(errs, "attestkms: error: --context ") {
			t.Errorf("--context %s: exit %d, %q, %q; want 2, %q", tc.context, code, out, errs, tc.err)
		}
	}
	// The hint names the flag to use.
	_, _, errs := runCmd("policy", "test", "--in", pol, "--action", "kms:Decrypt", "--context", "kms:RecipientAttestation:ImageSha384=00")
	if !strings.Contains(errs, "attestkms: hint: use --evidence") {
		t.Errorf("measurement hint: %q", errs)
	}
	// A key given twice, in any case.
	for _, pair := range [][2]string{
		{"aws:SourceIp=10.0.0.1", "AWS:SOURCEIP=10.0.0.2"},
		{"kms:EncryptionContext:app=a", "kms:encryptioncontext:app=b"},
	} {
		code, _, errs := runCmd("policy", "test", "--in", pol, "--action", "kms:Decrypt", "--context", pair[0], "--context", pair[1])
		if code != 2 || !strings.Contains(errs, "is given twice") {
			t.Errorf("%v: exit %d, %q", pair, code, errs)
		}
	}
}

// TestPolicyTestIdentityPolicy: --identity-policy judges as the server does
// for a credential that carries one: an Allow to the account delegates to
// it, an Allow naming the caller does not, an explicit Deny in it wins.
func TestPolicyTestIdentityPolicy(t *testing.T) {
	dir := t.TempDir()
	keyPolicy := writeTemp(t, dir, "key.json", `{"Version":"2012-10-17","Statement":[
 {"Sid":"account","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
 {"Sid":"ci-encrypts","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/ci"},"Action":["kms:Encrypt","kms:ScheduleKeyDeletion"],"Resource":"*"}]}`)
	identity := writeTemp(t, dir, "ci.json", `{"Version":"2012-10-17","Statement":[
 {"Sid":"decrypt-ci","Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}},
 {"Sid":"never-delete","Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*"}]}`)
	test := func(action string, more ...string) (int, string) {
		t.Helper()
		code, out, errs := runCmd(append([]string{"policy", "test", "--in", keyPolicy, "--action", action,
			"--principal", "arn:aws:iam::111122223333:user/ci", "--identity-policy", identity}, more...)...)
		if errs != "" {
			t.Fatalf("%s: stderr %q", action, errs)
		}
		return code, out
	}
	code, out := test("kms:Decrypt", "--context", "kms:ResourceAliases=alias/other,alias/ci")
	if code != 0 {
		t.Fatalf("Decrypt under alias/ci: exit %d\n%s", code, out)
	}
	wantLines(t, "delegated", out, "allowed", `statement: statement 0 (Sid "account")`, `identity statement: statement 0 (Sid "decrypt-ci")`)

	code, out = test("kms:Decrypt", "--context", "kms:ResourceAliases=alias/prod")
	if code != 1 {
		t.Fatalf("Decrypt under another alias: exit %d", code)
	}
	wantLines(t, "not in the identity policy", out, "denied", `statement: statement 0 (Sid "account")`, "identity statement: none",
		`reason: statement 0 (Sid "account") allows kms:Decrypt to the account, not to the caller itself: the caller's identity policy must allow it too, and no statement of it does`,
		`reason: identity policy: statement 0 (Sid "decrypt-ci"): ForAnyValue:StringEquals on kms:ResourceAliases does not hold (the key is present)`)

	code, out = test("kms:Encrypt")
	if code != 0 {
		t.Fatalf("Encrypt, named in the key policy: exit %d\n%s", code, out)
	}
	wantLines(t, "named caller", out, "allowed", `statement: statement 1 (Sid "ci-encrypts")`, "identity statement: none")

	code, out = test("kms:ScheduleKeyDeletion", "--explain")
	if code != 1 {
		t.Fatalf("an identity Deny: exit %d", code)
	}
	wantLines(t, "identity deny", out, "denied", "statement: none", `identity statement: statement 1 (Sid "never-delete")`,
		`reason: the identity policy's statement 1 (Sid "never-delete") denies it`,
		`explain: statement 0 (Sid "account"): applies: Allow`, `explain: statement 1 (Sid "ci-encrypts"): applies: Allow`,
		`explain: identity policy: statement 0 (Sid "decrypt-ci"): does not apply: the action does not match`,
		`explain: identity policy: statement 1 (Sid "never-delete"): applies: Deny`)

	// Without --identity-policy the output is as before.
	code, out, _ = runCmd("policy", "test", "--in", keyPolicy, "--action", "kms:Decrypt", "--principal", "arn:aws:iam::111122223333:user/ci")
	if code != 0 {
		t.Fatalf("without an identity policy: exit %d", code)
	}
	wantLines(t, "no identity policy", out, "allowed", `statement: statement 0 (Sid "account")`)

	// A key policy given as the identity policy does not parse (exit 1);
	// an unreadable one is exit 3; a bad alias is usage.
	code, _, errs := runCmd("policy", "test", "--in", keyPolicy, "--action", "kms:Decrypt", "--identity-policy", keyPolicy)
	if code != 1 || !strings.Contains(errs, "the identity policy does not parse") || !strings.Contains(errs, "an identity policy has no Principal") {
		t.Fatalf("a key policy as identity policy: exit %d %q", code, errs)
	}
	if code, _, _ := runCmd("policy", "test", "--in", keyPolicy, "--action", "kms:Decrypt", "--identity-policy", filepath.Join(dir, "none")); code != 3 {
		t.Fatalf("an unreadable identity policy: exit %d", code)
	}
	if code, _, _ := runCmd("policy", "test", "--in", keyPolicy, "--action", "kms:Decrypt", "--context", "kms:ResourceAliases=ci"); code != 2 {
		t.Fatalf("a bad alias: exit %d", code)
	}
	if code, _, _ := runCmd("policy", "test", "--in", "-", "--action", "kms:Decrypt", "--identity-policy", "-"); code != 2 {
		t.Fatalf("two standard inputs: exit %d", code)
	}
}
