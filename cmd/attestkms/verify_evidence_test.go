package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

const realDoc = "../../testvectors/nitro/nitro_doc_2024-01-24_debug_rsa2048.cose"

func TestVerifyEvidenceRealDocument(t *testing.T) {
	// At its own time (the leaf is valid 18:14:14-21:14:17Z) it verifies with
	// the embedded AWS root.
	code, out, errs := runCmd("verify-evidence", "--in", realDoc, "--at", "2024-01-24T18:14:30Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var c claimsJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("output is not claims JSON: %v\n%s", err, out)
	}
	if c.Format != "nitro" || !c.Debug || c.PublicKeyBits != 2048 || !strings.HasPrefix(c.PublicKeySHA256, "7b3fd511") ||
		len(c.PCRs) != 16 || c.ImageSha384 != strings.Repeat("0", 96) || c.Timestamp.UnixMilli() != 1706120065635 {
		t.Fatalf("claims %+v", c)
	}
	if ud, _ := base64.StdEncoding.DecodeString(*c.UserData); string(ud) != "Hello World!\n" {
		t.Fatalf("user_data %q", ud)
	}
	if !strings.Contains(errs, "warning: the evidence comes from a debug-mode enclave") {
		t.Fatalf("no debug warning: %q", errs)
	}

	// Today it is expired: exit 1, the reason, and a hint.
	code, out, errs = runCmd("verify-evidence", "--in", realDoc)
	if code != 1 || out != "" || !strings.Contains(errs, "expired") || !strings.Contains(errs, "hint: ") {
		t.Fatalf("today: exit %d, %q, %q", code, out, errs)
	}
	// Minutes later than its timestamp it is stale (the default max age is 5 minutes).
	code, _, errs = runCmd("verify-evidence", "--in", realDoc, "--at", "2024-01-24T18:30:00Z")
	if code != 1 || !strings.Contains(errs, "expired or stale") {
		t.Fatalf("stale: exit %d %q", code, errs)
	}
	code, _, _ = runCmd("verify-evidence", "--in", realDoc, "--at", "2024-01-24T18:30:00Z", "--attestation-max-age", "1h")
	if code != 0 {
		t.Fatal("--attestation-max-age not applied")
	}

	// Base64 input, as documents appear in logs.
	raw, _ := os.ReadFile(realDoc)
	b64 := filepath.Join(t.TempDir(), "doc.b64")
	os.WriteFile(b64, []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600)
	if code, _, errs := runCmd("verify-evidence", "--in", b64, "--at", "2024-01-24T18:14:30Z"); code != 0 {
		t.Fatalf("base64 input: exit %d %s", code, errs)
	}
	// What enclavetool attest prints: one DOCUMENT: line.
	os.WriteFile(b64, []byte("DOCUMENT: "+base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600)
	if code, _, errs := runCmd("verify-evidence", "--in", b64, "--at", "2024-01-24T18:14:30Z"); code != 0 {
		t.Fatalf("enclavetool attest's output: exit %d %s", code, errs)
	}
	// Another name, or a second line, is not a document.
	for _, in := range []string{"CIPHERTEXT: " + base64.StdEncoding.EncodeToString(raw), "DOCUMENT: " + base64.StdEncoding.EncodeToString(raw) + "\nDOCUMENT: AA=="} {
		os.WriteFile(b64, []byte(in), 0o600)
		if code, _, _ := runCmd("verify-evidence", "--in", b64, "--at", "2024-01-24T18:14:30Z"); code != 1 {
			t.Fatalf("%.20q…: exit %d; want 1 (refused)", in, code)
		}
	}
}

func TestVerifyEvidenceSimulated(t *testing.T) {
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca.Save(filepath.Join(dir, "ca"))
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pcrs := map[int][]byte{0: make([]byte, 48)}
	pcrs[0][0] = 1
	doc, err := ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: pcrs, PublicKey: der})
	if err != nil {
		t.Fatal(err)
	}
	docFile := filepath.Join(dir, "doc.cbor")
	os.WriteFile(docFile, doc, 0o600)
	root := filepath.Join(dir, "ca", "root.pem")

	// Without the test root: untrusted, with a hint naming the flag.
	code, _, errs := runCmd("verify-evidence", "--in", docFile)
	if code != 1 || !strings.Contains(errs, "untrusted certificate chain") || !strings.Contains(errs, "--nitro-roots") {
		t.Fatalf("no roots: exit %d %q", code, errs)
	}
	code, out, errs := runCmd("verify-evidence", "--in", docFile, "--nitro-roots", root)
	if code != 0 || !strings.Contains(out, `"image_sha384": "01`) || strings.Contains(errs, "debug") {
		t.Fatalf("with roots: exit %d %s %s", code, out, errs)
	}
	// Every format says what key it binds and how a Recipient may use it
	// (it was said for NitroTPM documents only).
	if !strings.Contains(out, `"recipient_key": {`) || !strings.Contains(out, `"type": "RSA-2048"`) || !strings.Contains(out, `"usable": true`) ||
		!strings.Contains(out, `"RSAES_OAEP_SHA_256"`) {
		t.Fatalf("recipient_key of an RSA-bound Nitro document: %s", out)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecDoc, err := ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: pcrs, PublicKey: ecDER})
	if err != nil {
		t.Fatal(err)
	}
	ecFile := filepath.Join(dir, "ec.cbor")
	os.WriteFile(ecFile, ecDoc, 0o600)
	if code, out, errs := runCmd("verify-evidence", "--in", ecFile, "--nitro-roots", root); code != 0 || !strings.Contains(out, `"type": "EC P-256"`) ||
		!strings.Contains(out, `"HPKE_P256_SHA256_AES256GCM"`) {
		t.Fatalf("a P-256-bound Nitro document: exit %d %s %s", code, out, errs)
	}
	// One flipped byte is refused.
	doc[len(doc)/2] ^= 1
	os.WriteFile(docFile, doc, 0o600)
	if code, _, _ := runCmd("verify-evidence", "--in", docFile, "--nitro-roots", root); code != 1 {
		t.Fatalf("flipped byte: exit %d", code)
	}
	// A Qingtian CA's document verifies only with --qingtian-roots.
	qt, _ := nitrotest.NewTestCA(attest.FormatQingtian, nil)
	qt.Save(filepath.Join(dir, "qt"))
	qdoc, _ := qt.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: pcrs, PublicKey: der, KeyName: "pubkey"})
	os.WriteFile(docFile, qdoc, 0o600)
	if code, _, _ := runCmd("verify-evidence", "--in", docFile, "--nitro-roots", root); code != 1 {
		t.Fatal("a Qingtian document verified against Nitro roots")
	}
	code, out, errs = runCmd("verify-evidence", "--in", docFile, "--nitro-roots", root, "--qingtian-roots", filepath.Join(dir, "qt", "root.pem"))
	if code != 0 || !strings.Contains(out, `"format": "qingtian"`) {
		t.Fatalf("qingtian: exit %d %s %s", code, out, errs)
	}
}

func TestVerifyEvidenceUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"verify-evidence"}, 2},
		{[]string{"verify-evidence", "--in", realDoc, "--at", "yesterday"}, 2},
		{[]string{"verify-evidence", "--in", realDoc, "--attestation-max-age", "-1s"}, 2},
		{[]string{"verify-evidence", "--in", "/nonexistent"}, 3},
		{[]string{"verify-evidence", "--in", realDoc, "--nitro-roots", "/nonexistent"}, 3},
		{[]string{"verify-evidence", "--in", realDoc, "--nitro-roots", realDoc}, 3},
		{[]string{"verify-evidence", "--help"}, 0},
	} {
		if code, _, errs := runCmd(tc.args...); code != tc.code {
			t.Errorf("%v: exit %d; want %d (%s)", tc.args, code, tc.code, errs)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	if code, _, errs := runCmd("verify-evidence", "--in", empty); code != 1 || !strings.Contains(errs, "malformed") {
		t.Fatalf("empty: exit %d %q", code, errs)
	}
}

// TestVerifyEvidenceOversizedInput: a file larger than any evidence is an
// unreadable input (exit 3), read no further than the bound.
func TestVerifyEvidenceOversizedInput(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, make([]byte, maxEvidenceInput+1), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd("verify-evidence", "--in", big)
	if code != 3 || out != "" || !strings.Contains(errs, "more than") {
		t.Fatalf("exit %d, %q, %q", code, out, errs)
	}
	code, _, errs = runCmd("verify-evidence", "--in", "/dev/zero")
	if code != 3 || !strings.Contains(errs, "more than") {
		t.Fatalf("/dev/zero: exit %d, %q", code, errs)
	}
}
