package aws_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/enclave"
	"github.com/attestkms/attestkms/internal/testserver"
)

// rawAttestedHPKE is rawAttested with an HPKE seal of the 32-byte secret to
// a key of kem in place of the CMS wrap: what an attested
// DeriveSharedSecret with an HPKE Recipient must do at the least.
func rawAttestedHPKE(kem hpke.KEM) func() {
	ecdhF, signF := rawECDH(), rawAnswerSignature()
	sk, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	digest := sha512.Sum384([]byte("document"))
	sig, _ := ecdsa.SignASN1(rand.Reader, sk, digest[:])
	priv, _ := kem.GenerateKey()
	pub := priv.PublicKey()
	secret := make([]byte, 32)
	return func() {
		ecdsa.VerifyASN1(&sk.PublicKey, digest[:], sig)
		ecdhF()
		hpke.Seal(pub, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("info"), secret)
		signF()
	}
}

// BenchmarkDeriveSharedSecretRecipientHPKE: BenchmarkDeriveSharedSecretRecipient
// (a Nitro document, its chain cached) with each key encryption algorithm,
// each against its own crypto floor.
func BenchmarkDeriveSharedSecretRecipientHPKE(b *testing.B) {
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		b.Fatal(err)
	}
	v, _ := nitro.New(nitro.Options{Roots: ca.Roots()})
	for _, tc := range []struct {
		typ string
		raw func() float64
	}{
		{enclave.KeyTypeRSA, func() float64 { return rawNs("attested-dss", rawAttested()) }},
		{enclave.KeyTypeP256, func() float64 { return rawNs("attested-dss-p256", rawAttestedHPKE(hpke.DHKEM(ecdh.P256()))) }},
		{enclave.KeyTypeMLKEM768X25519, func() float64 {
			return rawNs("attested-dss-mlkem", rawAttestedHPKE(hpke.MLKEM768X25519()))
		}},
	} {
		b.Run(tc.typ, func(b *testing.B) {
			srv := testserver.Start(b, testserver.Options{Attestation: &attest.Set{COSE: []attest.Verifier{v}}})
			id := benchKey(b, srv, types.KeySpecEccNistP256)
			peer, _ := ecdh.P256().GenerateKey(rand.Reader)
			spki, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
			k, err := enclave.NewKeyOfType(tc.typ, 0)
			if err != nil {
				b.Fatal(err)
			}
			doc, err := ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: map[int][]byte{0: bytes.Repeat([]byte{1}, 48)}, PublicKey: k.PublicKeyDER()})
			if err != nil {
				b.Fatal(err)
			}
			extra := ""
			if pub := k.RecipientPublicKey(); pub != nil {
				extra = fmt.Sprintf(`,"PublicKey":%q`, base64.StdEncoding.EncodeToString(pub))
			}
			body := fmt.Sprintf(`{"KeyId":%q,"KeyAgreementAlgorithm":"ECDH","PublicKey":%q,"Recipient":{"AttestationDocument":%q,"KeyEncryptionAlgorithm":%q%s}}`,
				id, base64.StdEncoding.EncodeToString(spki), base64.StdEncoding.EncodeToString(doc), k.Algorithm(), extra)
			benchHandler(b, srv, "DeriveSharedSecret", body, tc.raw())
		})
	}
}
