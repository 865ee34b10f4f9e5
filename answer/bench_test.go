package answer

import (
	"bytes"
	"crypto/ed25519"
	"testing"
)

// benchAnswer is a DeriveSharedSecret answer of realistic sizes: a Nitro
// document (≈4.5 KB), its request's body (the document base64 in JSON:
// ≈6.2 KB), a CMS wrap to RSA-2048 (≈400 bytes).
func benchAnswer() (doc, req []byte, fields []Field) {
	doc = bytes.Repeat([]byte{0xd2}, 4500)
	req = bytes.Repeat([]byte{'A'}, 6200)
	fields = []Field{{"CiphertextForRecipient", bytes.Repeat([]byte{0x30}, 400)}, {"KeyId", []byte(arn)}, {"KeyAgreementAlgorithm", []byte("ECDH")}, {"KeyOrigin", []byte("AWS_KMS")}}
	return doc, req, fields
}

// BenchmarkSign is what the server adds to an attested answer: the
// message's hashes and one Ed25519 signature (BenchmarkEd25519Sign alone).
func BenchmarkSign(b *testing.B) {
	priv := testKey(1)
	doc, req, fields := benchAnswer()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(priv, doc, req, "DeriveSharedSecret", arn, fields); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is what the enclave adds to each answer: the message's
// hashes, the pinned-key check and one Ed25519 verification.
func BenchmarkVerify(b *testing.B) {
	priv := testKey(1)
	pin := []string{Fingerprint(priv.Public().(ed25519.PublicKey))}
	doc, req, fields := benchAnswer()
	sig, err := Sign(priv, doc, req, "DeriveSharedSecret", arn, fields)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(pin, sig, doc, req, "DeriveSharedSecret", arn, fields); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519Sign and BenchmarkEd25519Verify are the raw
// cryptography: one signature of a message of Message's size.
func BenchmarkEd25519Sign(b *testing.B) {
	priv := testKey(1)
	msg := make([]byte, 300)
	for b.Loop() {
		ed25519.Sign(priv, msg)
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	priv := testKey(1)
	msg := make([]byte, 300)
	sig := ed25519.Sign(priv, msg)
	pub := priv.Public().(ed25519.PublicKey)
	for b.Loop() {
		ed25519.Verify(pub, msg, sig)
	}
}
