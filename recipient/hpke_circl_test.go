package recipient

import (
	"bytes"
	"crypto/hpke"
	"testing"

	circl "github.com/cloudflare/circl/hpke"
)

// TestHPKECirclInterop: an independent HPKE implementation, Cloudflare's
// circl (a test dependency only: nothing outside tests imports it), opens
// the frames WrapHPKE makes for both suites, with the private key exported
// from crypto/hpke, and UnwrapHPKE opens what circl seals. The two share no
// code, so agreement checks our suite choice, info and framing, not just
// Go's HPKE against itself.
func TestHPKECirclInterop(t *testing.T) {
	info := HPKEInfo("GenerateDataKey", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", []byte("an attestation document"))
	secret := []byte("a 32-byte data key, for example!")
	for alg, k := range hpkeKeys(t) {
		t.Run(alg, func(t *testing.T) {
			kemID := map[string]circl.KEM{AlgHPKEP256: circl.KEM_P256_HKDF_SHA256, AlgHPKEMLKEM768X25519: circl.KEM_XWING}[alg]
			suite := circl.NewSuite(kemID, circl.KDF_HKDF_SHA256, circl.AEAD_AES256GCM)
			skBytes, err := k.priv.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			sk, err := kemID.Scheme().UnmarshalBinaryPrivateKey(skBytes)
			if err != nil {
				t.Fatalf("circl reads no private key from crypto/hpke's %d bytes: %v", len(skBytes), err)
			}
			pkBytes, _ := sk.Public().MarshalBinary()
			if !bytes.Equal(pkBytes, k.priv.PublicKey().Bytes()) {
				t.Fatal("circl derives another public key")
			}

			// Ours sealed, circl opens.
			pub, err := ParseHPKEPublicKey(alg, k.pub)
			if err != nil {
				t.Fatal(err)
			}
			frame, err := WrapHPKE(pub, info, secret)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseHPKEFrame(frame)
			if err != nil {
				t.Fatal(err)
			}
			rcv, err := suite.NewReceiver(sk, info)
			if err != nil {
				t.Fatal(err)
			}
			opener, err := rcv.Setup(f.Enc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := opener.Open(f.Ciphertext, nil)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("circl does not open our frame: %v", err)
			}

			// circl sealed, ours opens.
			pk, _ := kemID.Scheme().UnmarshalBinaryPublicKey(k.priv.PublicKey().Bytes())
			snd, err := suite.NewSender(pk, info)
			if err != nil {
				t.Fatal(err)
			}
			enc, sealer, err := snd.Setup(nil)
			if err != nil {
				t.Fatal(err)
			}
			ct, err := sealer.Seal(secret, nil)
			if err != nil {
				t.Fatal(err)
			}
			frame, err = EncodeHPKEFrame(alg, enc, ct)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := UnwrapHPKE(k.priv, info, frame); err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("we do not open circl's: %v", err)
			}
			var _ hpke.PrivateKey = k.priv
		})
	}
}
