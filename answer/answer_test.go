package answer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"testing"
)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

const arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func gdkFields(cfr, blob []byte, keyID string) []Field {
	return []Field{{"CiphertextForRecipient", cfr}, {"CiphertextBlob", blob}, {"KeyId", []byte(keyID)}}
}

// TestMessageEncoding pins the encoding byte by byte (docs/answers.md): a
// change to it is a new Label.
func TestMessageEncoding(t *testing.T) {
	m, err := Message([]byte("doc"), []byte("req"), "GenerateRandom", "", []Field{{"CiphertextForRecipient", []byte("cfr")}})
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	want = append(want, "attestkms answer signature v2\x00"...)
	h := sha256.Sum256([]byte("doc"))
	want = append(want, h[:]...)
	h = sha256.Sum256([]byte("req"))
	want = append(want, h[:]...)
	want = append(want, 0, 14)
	want = append(want, "GenerateRandom"...)
	want = append(want, 0, 0) // no key
	want = append(want, 1)    // one field
	want = append(want, 0, 22)
	want = append(want, "CiphertextForRecipient"...)
	h = sha256.Sum256([]byte("cfr"))
	want = append(want, h[:]...)
	if !bytes.Equal(m, want) {
		t.Fatalf("message\n%x\nwant\n%x", m, want)
	}
	md, err := MessageOfDigests(sha256.Sum256([]byte("doc")), sha256.Sum256([]byte("req")), "GenerateRandom", "", []Field{{"CiphertextForRecipient", []byte("cfr")}})
	if err != nil || !bytes.Equal(md, want) {
		t.Fatalf("MessageOfDigests: %v\n%x\nwant\n%x", err, md, want)
	}
}

func TestSignVerify(t *testing.T) {
	priv := testKey(1)
	pin := []string{Fingerprint(priv.Public().(ed25519.PublicKey))}
	doc := []byte("attestation document")
	req := []byte(`{"KeyId":"k","Recipient":{}}`)
	sig, err := Sign(priv, doc, req, "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob"), arn))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(pin, sig, doc, req, "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob"), arn)); err != nil {
		t.Fatalf("genuine answer refused: %v", err)
	}
	other := testKey(2)
	otherSig, _ := Sign(other, doc, req, "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob"), arn))
	forged := *sig
	forged.KeyID = "00" + sig.KeyID[2:]
	for _, tc := range []struct {
		name   string
		sig    *Signature
		doc    []byte
		req    []byte
		op     string
		arn    string
		fields []Field
		want   error
	}{
		{"unsigned", nil, doc, req, "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob"), arn), ErrUnsigned},
		{"another key", otherSig, doc, req, "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob"), arn), ErrUnknownKey},
		{"key id not the key's", &forged, doc, req, "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob"), arn), ErrMalformed},
		{"another document", sig, []byte("another document"), req, "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob"), arn), ErrSignature},
		{"another request", sig, doc, []byte(`{"KeyId":"k2","Recipient":{}}`), "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob"), arn), ErrSignature},
		{"no request", sig, doc, nil, "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob"), arn), ErrSignature},
		{"another operation", sig, doc, req, "Decrypt", arn, []Field{{"CiphertextForRecipient", []byte("cfr")}, {"KeyId", []byte(arn)}, {"EncryptionAlgorithm", nil}}, ErrSignature},
		{"another key ARN", sig, doc, req, "GenerateDataKey", arn + "0", gdkFields([]byte("cfr"), []byte("blob"), arn), ErrSignature},
		{"another CiphertextForRecipient", sig, doc, req, "GenerateDataKey", arn, gdkFields([]byte("cfR"), []byte("blob"), arn), ErrSignature},
		{"another CiphertextBlob", sig, doc, req, "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob2"), arn), ErrSignature},
		{"fields out of order", sig, doc, req, "GenerateDataKey", arn, []Field{{"CiphertextBlob", []byte("blob")}, {"CiphertextForRecipient", []byte("cfr")}, {"KeyId", []byte(arn)}}, ErrMalformed},
		{"a field missing", sig, doc, req, "GenerateDataKey", arn, gdkFields([]byte("cfr"), []byte("blob"), arn)[:2], ErrMalformed},
	} {
		if err := Verify(pin, tc.sig, tc.doc, tc.req, tc.op, tc.arn, tc.fields); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestPEM(t *testing.T) {
	a, b := testKey(1).Public().(ed25519.PublicKey), testKey(2).Public().(ed25519.PublicKey)
	text := append([]byte("# SHA256 "+Fingerprint(a)+"\n"), EncodePEM(a)...)
	text = append(text, EncodePEM(b)...)
	keys, err := ParsePEM(text)
	if err != nil || len(keys) != 2 || !keys[0].Equal(a) || !keys[1].Equal(b) {
		t.Fatalf("ParsePEM: %v, %d keys", err, len(keys))
	}
	if _, err := ParsePEM([]byte("no key")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("no key: %v", err)
	}
	if !IsFingerprint(Fingerprint(a)) || IsFingerprint("xyz") {
		t.Fatal("IsFingerprint")
	}
}

func TestFingerprint(t *testing.T) {
	for seed := range byte(4) {
		pub := testKey(seed).Public().(ed25519.PublicKey)
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(der)
		if got, want := Fingerprint(pub), hex.EncodeToString(h[:]); got != want {
			t.Fatalf("Fingerprint %s, want the SPKI's SHA-256 %s", got, want)
		}
	}
}
