package main

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/internal/hmacsha256"
)

// The crypto floor of a request with a Recipient is the cryptography the
// server cannot avoid for it, timed here with Go's own primitives on keys
// and inputs of the same kinds and sizes as the request's. What the server
// does per request, and so what is in the floor:
//
//   - the evidence's one signature: a Nitro/QingTian document's COSE
//     signature (ECDSA on the digest of its Sig_structure; the certificate
//     chain is cached after the first request, so it is not in the floor),
//     an SEV-SNP report's ECDSA P-384 signature (the VCEK is cached), a TPM
//     quote's AK signature (the AK's chain is cached); for an envelope also
//     the binding hash (SHA-512 or SHA-256 of the public key) and, for TPM,
//     the quoted PCRs' digest;
//   - the operation's own: ECDH for DeriveSharedSecret (the key is cached
//     decrypted), the data key's random bytes and its AES-256-GCM seal (an
//     HKDF-SHA256 key per blob) for GenerateDataKey, the HKDF and GCM open
//     for Decrypt, the random bytes of GenerateRandom;
//   - the wrap to the attested key: CMS EnvelopedData, a random AES-256 key
//     and IV, AES-256-CBC of the secret, RSAES-OAEP-SHA-256 of the key;
//   - authentication, which the server cannot skip (every request is
//     authenticated): SigV4 with its signing key cached, i.e. the SHA-256 of
//     the body, the SHA-256 of the canonical request (≈512 bytes) and one
//     HMAC-SHA256 of the string to sign — but not the four HMACs that
//     derive the signing key, which a cache legitimately removes;
//   - the audit log's hash chain: one SHA-256 of the line (≈1 KiB with
//     the attestation summary), which the hash-chained log cannot skip;
//   - the answer's signature (docs/answers.md): the SHA-256 of the
//     document, of the request's body and of the wrap, and one Ed25519
//     signature of the ≈300-byte message.
//
// Not in it: parsing (CBOR, DER, JSON), the request id's random bytes (an
// id need not be random), the key store, the replay cache, the policy.

// floorPart is one primitive of the floor, f being one request's worth.
type floorPart struct {
	name string
	f    func() error
}

// floorParts lists the floor of one request of op carrying evidence, whose
// JSON body is bodyLen bytes.
func floorParts(op string, evidence []byte, bodyLen int) ([]floorPart, error) {
	var parts []floorPart
	var pub *rsa.PublicKey
	switch f := attest.Sniff(evidence); f {
	case attest.FormatCOSE:
		p, k, err := coseFloor(evidence)
		if err != nil {
			return nil, err
		}
		parts, pub = append(parts, p...), k
	case attest.FormatSEVSNP, attest.FormatTPM2:
		p, k, err := envelopeFloor(evidence)
		if err != nil {
			return nil, err
		}
		parts, pub = append(parts, p...), k
	default:
		return nil, errors.New("the evidence is neither a COSE_Sign1 document nor an evidence envelope")
	}
	opPart, err := operationFloor(op)
	if err != nil {
		return nil, err
	}
	parts = append(parts, opPart, cmsWrapFloor(pub), sigv4Floor(bodyLen), auditFloor(), answerFloor(len(evidence), bodyLen))
	return parts, nil
}

// coseFloor is a COSE_Sign1 document's: its signature with its curve and
// digest over its Sig_structure, and the document's RSA key.
func coseFloor(doc []byte) ([]floorPart, *rsa.PublicKey, error) {
	if doc[0] == 0xd2 { // COSE_Sign1_Tagged: tag 18, one byte
		doc = doc[1:]
	}
	var msg struct {
		_           struct{} `cbor:",toarray"`
		Protected   []byte
		Unprotected cbor.RawMessage
		Payload     []byte
		Signature   []byte
	}
	if err := cbor.Unmarshal(doc, &msg); err != nil {
		return nil, nil, fmt.Errorf("the COSE_Sign1 document does not parse: %v", err)
	}
	var hdr map[int]int
	if err := cbor.Unmarshal(msg.Protected, &hdr); err != nil {
		return nil, nil, fmt.Errorf("the COSE_Sign1 protected header does not parse: %v", err)
	}
	var curve elliptic.Curve
	var h crypto.Hash
	var name string
	switch hdr[1] {
	case -7:
		curve, h, name = elliptic.P256(), crypto.SHA256, "ES256"
	case -35:
		curve, h, name = elliptic.P384(), crypto.SHA384, "ES384"
	case -36:
		curve, h, name = elliptic.P521(), crypto.SHA512, "ES512"
	default:
		return nil, nil, fmt.Errorf("the COSE_Sign1 document's algorithm %d is not ES256, ES384 or ES512", hdr[1])
	}
	var payload map[string]cbor.RawMessage
	if err := cbor.Unmarshal(msg.Payload, &payload); err != nil {
		return nil, nil, fmt.Errorf("the document's payload does not parse: %v", err)
	}
	raw, ok := payload["public_key"]
	if !ok {
		raw = payload["pubkey"] // QingTian's documented name
	}
	var der []byte
	if err := cbor.Unmarshal(raw, &der); err != nil || der == nil {
		return nil, nil, errors.New("the document carries no public_key")
	}
	pub, err := rsaKey(der)
	if err != nil {
		return nil, nil, err
	}
	// Sig_structure = ["Signature1", protected, h'', payload]
	sigStructure, err := cbor.Marshal([]any{"Signature1", msg.Protected, []byte{}, msg.Payload})
	if err != nil {
		return nil, nil, err
	}
	sig, err := ecdsaFloor("evidence_signature_"+name, curve, h, sigStructure)
	if err != nil {
		return nil, nil, err
	}
	return []floorPart{sig}, pub, nil
}

// envelopeFloor is an SEV-SNP or TPM envelope's: the report's or quote's
// signature and the binding.
func envelopeFloor(evidence []byte) ([]floorPart, *rsa.PublicKey, error) {
	e, err := envelope.Decode(evidence)
	if err != nil {
		return nil, nil, err
	}
	pub, err := rsaKey(e.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	var parts []floorPart
	switch e.Format {
	case attest.FormatSEVSNP:
		// The report's signed part is its first 0x2A0 bytes; the signature
		// is ECDSA P-384 with SHA-384. REPORT_DATA binds with SHA-512.
		sig, err := ecdsaFloor("evidence_signature_ES384", elliptic.P384(), crypto.SHA384, e.Report[:min(len(e.Report), 0x2a0)])
		if err != nil {
			return nil, nil, err
		}
		parts = append(parts, sig, hashFloor("evidence_binding", crypto.SHA512, len(e.PublicKey)+len(e.Nonce)+len(e.UserData)+6))
	case attest.FormatTPM2:
		sig, err := tpmSignatureFloor(e.Signature, e.Quote)
		if err != nil {
			return nil, nil, err
		}
		n := 0
		for _, v := range e.PCRs {
			n += len(v)
		}
		binding := hashFloor("evidence_binding", crypto.SHA256, len(e.PublicKey)+len(e.Nonce)+len(e.UserData)+6)
		pcrs := hashFloor("pcr_digest", crypto.SHA256, n)
		parts = append(parts, sig, floorPart{"evidence_binding_and_pcr_digest", func() error {
			if err := binding.f(); err != nil {
				return err
			}
			return pcrs.f()
		}})
	}
	return parts, pub, nil
}

// TPM algorithm ids (TPM 2.0 Part 2, TPM_ALG_ID).
const (
	tpmAlgRSASSA = 0x0014
	tpmAlgRSAPSS = 0x0016
	tpmAlgECDSA  = 0x0018
)

// tpmSignatureFloor reads a TPMT_SIGNATURE's algorithm, hash and size (the
// verifier judges it; this only sizes the floor) and times one such
// verification over quote.
func tpmSignatureFloor(sig, quote []byte) (floorPart, error) {
	bad := errors.New("the TPM signature is not a TPMT_SIGNATURE of RSASSA, RSAPSS or ECDSA")
	if len(sig) < 6 {
		return floorPart{}, bad
	}
	alg, hashAlg := binary.BigEndian.Uint16(sig), binary.BigEndian.Uint16(sig[2:])
	var h crypto.Hash
	switch hashAlg {
	case 0x000b:
		h = crypto.SHA256
	case 0x000c:
		h = crypto.SHA384
	case 0x000d:
		h = crypto.SHA512
	default:
		return floorPart{}, fmt.Errorf("the TPM signature's hash 0x%04x is not SHA-256, SHA-384 or SHA-512", hashAlg)
	}
	size := int(binary.BigEndian.Uint16(sig[4:])) // RSA: the signature; ECDSA: r
	switch alg {
	case tpmAlgECDSA:
		curves := map[int]elliptic.Curve{32: elliptic.P256(), 48: elliptic.P384(), 66: elliptic.P521()}
		c, ok := curves[size]
		if !ok {
			return floorPart{}, fmt.Errorf("the TPM ECDSA signature's r is %d bytes: not P-256, P-384 or P-521", size)
		}
		return ecdsaFloor("evidence_signature_ecdsa_"+c.Params().Name, c, h, quote)
	case tpmAlgRSASSA, tpmAlgRSAPSS:
		if size < 256 || size > 512 {
			return floorPart{}, fmt.Errorf("the TPM RSA signature is %d bytes: not RSA-2048 to RSA-4096", size)
		}
		return rsaVerifyFloor(fmt.Sprintf("evidence_signature_rsa%d", 8*size), 8*size, h, alg == tpmAlgRSAPSS, quote)
	}
	return floorPart{}, bad
}

// rsaKey parses the enclave's key, which the server wraps to.
func rsaKey(der []byte) (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("the evidence's public_key does not parse: %v", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("the evidence's public_key is not an RSA key")
	}
	return pub, nil
}

// ecdsaFloor is hashing msg with h and verifying one ECDSA signature on
// curve over it.
func ecdsaFloor(name string, curve elliptic.Curve, h crypto.Hash, msg []byte) (floorPart, error) {
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return floorPart{}, err
	}
	sig, err := ecdsa.SignASN1(rand.Reader, k, hashOf(h, msg))
	if err != nil {
		return floorPart{}, err
	}
	pub := &k.PublicKey
	return floorPart{name, func() error {
		if !ecdsa.VerifyASN1(pub, hashOf(h, msg), sig) {
			return errors.New("floor: ECDSA verification failed")
		}
		return nil
	}}, nil
}

// rsaVerifyFloor is hashing msg with h and verifying one RSA signature of
// a bits-bit key over it.
func rsaVerifyFloor(name string, bits int, h crypto.Hash, pss bool, msg []byte) (floorPart, error) {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return floorPart{}, err
	}
	digest := hashOf(h, msg)
	var sig []byte
	if pss {
		sig, err = rsa.SignPSS(rand.Reader, k, h, digest, nil)
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest)
	}
	if err != nil {
		return floorPart{}, err
	}
	pub := &k.PublicKey
	return floorPart{name, func() error {
		if pss {
			return rsa.VerifyPSS(pub, h, hashOf(h, msg), sig, nil)
		}
		return rsa.VerifyPKCS1v15(pub, h, hashOf(h, msg), sig)
	}}, nil
}

// hashFloor is one hash of n bytes.
func hashFloor(name string, h crypto.Hash, n int) floorPart {
	msg := make([]byte, n)
	return floorPart{name, func() error {
		hashOf(h, msg)
		return nil
	}}
}

// hashOf is msg's digest with h.
func hashOf(h crypto.Hash, msg []byte) []byte {
	d := h.New()
	d.Write(msg)
	return d.Sum(nil)
}

// operationFloor is op's own cryptography on a 32-byte secret (the
// AES_256 data key, the 32-byte plaintext kmsload encrypts, a P-256
// shared secret, 32 random bytes).
func operationFloor(op string) (floorPart, error) {
	material := make([]byte, 32)
	rand.Read(material)
	seal := func(salt, pt []byte) ([]byte, error) {
		var k [32]byte
		hmacsha256.HKDF(k[:], material, salt, []byte("floor"))
		b, err := aes.NewCipher(k[:])
		if err != nil {
			return nil, err
		}
		g, err := cipher.NewGCM(b)
		if err != nil {
			return nil, err
		}
		return g.Seal(nil, make([]byte, 12), pt, salt), nil
	}
	switch op {
	case "DeriveSharedSecret":
		priv, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			return floorPart{}, err
		}
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			return floorPart{}, err
		}
		peerBytes := peer.PublicKey().Bytes()
		return floorPart{"ecdh_p256", func() error {
			p, err := ecdh.P256().NewPublicKey(peerBytes)
			if err != nil {
				return err
			}
			_, err = priv.ECDH(p)
			return err
		}}, nil
	case "GenerateDataKey":
		return floorPart{"data_key_aes256gcm_seal", func() error {
			var salt [24]byte
			dk := make([]byte, 32)
			rand.Read(salt[:])
			rand.Read(dk)
			_, err := seal(salt[:], dk)
			return err
		}}, nil
	case "Decrypt":
		salt := make([]byte, 24)
		blob, err := seal(salt, make([]byte, 32))
		if err != nil {
			return floorPart{}, err
		}
		return floorPart{"aes256gcm_open", func() error {
			var k [32]byte
			hmacsha256.HKDF(k[:], material, salt, []byte("floor"))
			b, err := aes.NewCipher(k[:])
			if err != nil {
				return err
			}
			g, err := cipher.NewGCM(b)
			if err != nil {
				return err
			}
			_, err = g.Open(nil, make([]byte, 12), blob, salt)
			return err
		}}, nil
	case "GenerateRandom":
		return floorPart{"random_32", func() error {
			_, err := rand.Read(make([]byte, 32))
			return err
		}}, nil
	}
	return floorPart{}, fmt.Errorf("no crypto floor for %s", op)
}

// cmsWrapFloor is the CMS wrap of a 32-byte secret to pub: a random
// AES-256 key and IV, AES-256-CBC of the padded secret, RSAES-OAEP-SHA-256
// of the key.
func cmsWrapFloor(pub *rsa.PublicKey) floorPart {
	secret := make([]byte, 32)
	return floorPart{fmt.Sprintf("cms_wrap_rsa%d_oaep_aes256cbc", pub.N.BitLen()), func() error {
		var cek [32]byte
		var iv [aes.BlockSize]byte
		rand.Read(cek[:])
		rand.Read(iv[:])
		b, err := aes.NewCipher(cek[:])
		if err != nil {
			return err
		}
		padded := append(slices.Clone(secret), make([]byte, aes.BlockSize)...)
		for i := len(secret); i < len(padded); i++ {
			padded[i] = aes.BlockSize
		}
		cipher.NewCBCEncrypter(b, iv[:]).CryptBlocks(padded, padded)
		_, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek[:], nil)
		return err
	}}
}

// sigv4Floor is SigV4's verification with the signing key cached: the
// body's SHA-256, the canonical request's, one HMAC of the string to sign.
func sigv4Floor(bodyLen int) floorPart {
	body, canonical := make([]byte, bodyLen), make([]byte, 512)
	key, sts := make([]byte, 32), make([]byte, 128)
	return floorPart{"sigv4_cached_key", func() error {
		sha256.Sum256(body)
		sha256.Sum256(canonical)
		hmacsha256.Sum(key, sts)
		return nil
	}}
}

// answerFloor is the answer's signature: the hashes of the document, the
// body and the wrap (≈600 bytes: the CMS wrap to an RSA-3072 key, attestsim's
// default; docs/PERFORMANCE.md's in-process floor uses RSA-2048's ≈400), one
// Ed25519 signature.
func answerFloor(docLen, bodyLen int) floorPart {
	doc, body, wrap, msg := make([]byte, docLen), make([]byte, bodyLen), make([]byte, 600), make([]byte, 300)
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	return floorPart{"answer_signature_ed25519", func() error {
		sha256.Sum256(doc)
		sha256.Sum256(body)
		sha256.Sum256(wrap)
		ed25519.Sign(priv, msg)
		return nil
	}}
}

// auditFloor is the audit line's link in the hash chain.
func auditFloor() floorPart { return hashFloor("audit_chain_sha256", crypto.SHA256, 1024) }

// minTrial is how much CPU one timing of a part takes at least.
const minTrial = 20 * time.Millisecond

// timeFloor times each part on this goroutine's locked thread, in thread
// CPU time (so that other processes on the machine do not count), and
// returns each part's microseconds per request: the median of three
// trials of at least minTrial each.
func timeFloor(parts []floorPart) (map[string]float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	us := make(map[string]float64, len(parts))
	for _, p := range parts {
		if err := p.f(); err != nil { // warm up; and it must work
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		n := 1
		var trials []float64
		for len(trials) < 3 {
			t0, err := threadCPU()
			if err != nil {
				return nil, err
			}
			for range n {
				p.f()
			}
			t1, err := threadCPU()
			if err != nil {
				return nil, err
			}
			if d := t1 - t0; d < minTrial {
				n *= 2
				continue
			}
			trials = append(trials, float64((t1-t0).Nanoseconds())/1000/float64(n))
		}
		us[p.name] = median(trials)
	}
	return us, nil
}

// median of xs (not empty); xs is sorted in place.
func median(xs []float64) float64 {
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}
