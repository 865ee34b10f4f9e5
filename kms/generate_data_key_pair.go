package kms

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/kms/internal/eckeys"
)

// GenerateDataKeyPairRequest asks for a key pair whose private key is
// encrypted under a symmetric key.
type GenerateDataKeyPairRequest struct {
	KeyID             string
	KeyPairSpec       DataKeyPairSpec
	EncryptionContext EncryptionContext
	// Recipient, if given, gets the private key wrapped to its attested key
	// instead of in the clear.
	Recipient *Recipient
	DryRun    bool
}

// GenerateDataKeyPairResponse is GenerateDataKeyPair's answer: the public key
// as DER SubjectPublicKeyInfo, the private key as DER PKCS#8, in plaintext
// (nil with a Recipient, which gets CiphertextForRecipient; the caller
// zeroes it once sent) and as a ciphertext blob that Decrypt opens.
type GenerateDataKeyPairResponse struct {
	KeyRef
	KeyPairSpec              DataKeyPairSpec
	PublicKey                []byte
	PrivateKeyCiphertextBlob []byte
	PrivateKeyPlaintext      []byte
	CiphertextForRecipient   []byte
	// AnswerSignature, with a Recipient, is the service key's signature of
	// the answer (servicekey.go, docs/answers.md); nil otherwise.
	AnswerSignature *AnswerSignature
}

// GenerateDataKeyPairWithoutPlaintextRequest asks for a key pair whose
// private key is returned only encrypted: GenerateDataKeyPairRequest without
// a recipient of the private key.
type GenerateDataKeyPairWithoutPlaintextRequest struct {
	KeyID             string
	KeyPairSpec       DataKeyPairSpec
	EncryptionContext EncryptionContext
	DryRun            bool
}

// GenerateDataKeyPairWithoutPlaintextResponse is
// GenerateDataKeyPairWithoutPlaintext's answer: the public key and the
// private key's ciphertext blob.
type GenerateDataKeyPairWithoutPlaintextResponse struct {
	KeyRef
	KeyPairSpec              DataKeyPairSpec
	PublicKey                []byte
	PrivateKeyCiphertextBlob []byte
}

var pairCurves = map[DataKeyPairSpec]eckeys.Curve{
	PairEccNistP256: eckeys.P256, PairEccNistP384: eckeys.P384,
	PairEccNistP521: eckeys.P521, PairEccSecgP256k1: eckeys.Secp256k1,
}

var pairRSABits = map[DataKeyPairSpec]int{PairRSA2048: 2048, PairRSA3072: 3072, PairRSA4096: 4096}

// pairECPrivateKeyLen is the length of an EC pair's PKCS #8 private key
// (eckeys writes one canonical encoding; a test checks), so that a raw
// Recipient is checked for it before the pair exists.
var pairECPrivateKeyLen = map[DataKeyPairSpec]int{
	PairEccNistP256: 138, PairEccNistP384: 185, PairEccNistP521: 241, PairEccSecgP256k1: 135,
}

// GenerateDataKeyPair returns a new key pair with its private key in plaintext and encrypted.
func (s *Service) GenerateDataKeyPair(ctx context.Context, c *Call, req *GenerateDataKeyPairRequest) (*GenerateDataKeyPairResponse, error) {
	return run(s, ctx, c, "GenerateDataKeyPair", opUse, req, func(ctx context.Context, c *Call, req *GenerateDataKeyPairRequest) (*GenerateDataKeyPairResponse, error) {
		return s.generateDataKeyPair(ctx, c, req, true)
	})
}

func (r *GenerateDataKeyPairResponse) wipe() { clear(r.PrivateKeyPlaintext) }

// GenerateDataKeyPairWithoutPlaintext returns a new key pair with its private key encrypted only.
func (s *Service) GenerateDataKeyPairWithoutPlaintext(ctx context.Context, c *Call, req *GenerateDataKeyPairWithoutPlaintextRequest) (*GenerateDataKeyPairWithoutPlaintextResponse, error) {
	return run(s, ctx, c, "GenerateDataKeyPairWithoutPlaintext", opUse, req, func(ctx context.Context, c *Call, req *GenerateDataKeyPairWithoutPlaintextRequest) (*GenerateDataKeyPairWithoutPlaintextResponse, error) {
		r, err := s.generateDataKeyPair(ctx, c, &GenerateDataKeyPairRequest{
			KeyID: req.KeyID, KeyPairSpec: req.KeyPairSpec, EncryptionContext: req.EncryptionContext, DryRun: req.DryRun,
		}, false)
		if err != nil {
			return nil, err
		}
		return &GenerateDataKeyPairWithoutPlaintextResponse{
			KeyRef: r.KeyRef, KeyPairSpec: r.KeyPairSpec, PublicKey: r.PublicKey, PrivateKeyCiphertextBlob: r.PrivateKeyCiphertextBlob,
		}, nil
	})
}

func (s *Service) generateDataKeyPair(ctx context.Context, c *Call, req *GenerateDataKeyPairRequest, withPlaintext bool) (*GenerateDataKeyPairResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	_, isEC := pairCurves[req.KeyPairSpec]
	_, isRSA := pairRSABits[req.KeyPairSpec]
	if req.KeyPairSpec == "" {
		return nil, errorf(ErrValidation, "KeyPairSpec is required")
	}
	if !isEC && !isRSA {
		return nil, errorf(ErrValidation, "KeyPairSpec %q is not supported; use RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521 or ECC_SECG_P256K1", req.KeyPairSpec)
	}
	if err := validateContext("EncryptionContext", req.EncryptionContext); err != nil {
		return nil, err
	}
	op := "GenerateDataKeyPair"
	if !withPlaintext {
		op = "GenerateDataKeyPairWithoutPlaintext"
	}
	if isRSA && req.Recipient != nil && req.Recipient.Raw {
		// An RSA private key is over 1 KB as PKCS #8; one raw RSA block of
		// the largest enclave key (4096 bits) holds 446 bytes.
		return nil, errorf(ErrValidation, "Recipient: a %s private key does not fit one RSA block; ask for CMS EnvelopedData instead of a raw ciphertext", req.KeyPairSpec)
	}
	k, to, err := s.prepareEncryption(ctx, c, req.KeyID, op, req.Recipient, nil, pairECPrivateKeyLen[req.KeyPairSpec], req.EncryptionContext, req.DryRun)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if isRSA {
		// An RSA key is generated per request: ≈0.1 s of CPU for 2048
		// bits, ≈1 s for 4096 on the project's VM. So at most half the
		// CPUs generate at once, and a request past that is refused
		// (ErrThrottled, which SDKs retry), not queued on the CPUs every
		// other request needs: else one credential keeps every CPU busy
		// with a few requests a second, within any rate limit. And its
		// audit line is no longer counted on: a batch must not wait, the
		// whole commit delay, for a line a second away (audit's Expect).
		s.arrived(c)
		release, ok := s.rsaPairs.acquire()
		if !ok {
			return nil, &Error{Kind: ErrThrottled, Msg: "too many RSA data key pairs are being generated on this server; try again shortly", Cause: ErrKeyPairsBusy}
		}
		defer release()
		if h := rsaPairHook.Load(); h != nil {
			(*h)()
		}
	}
	pub, priv, err := newKeyPair(req.KeyPairSpec)
	if err != nil {
		return nil, internal(err)
	}
	blob, err := k.seal(priv, req.EncryptionContext)
	if err != nil {
		clear(priv)
		return nil, err
	}
	resp := &GenerateDataKeyPairResponse{
		KeyRef: s.keyRef(c, k.rec.ID), KeyPairSpec: req.KeyPairSpec,
		PublicKey: pub, PrivateKeyCiphertextBlob: blob,
	}
	if resp.PrivateKeyPlaintext, resp.CiphertextForRecipient, err = deliver(to, priv, withPlaintext); err != nil {
		return nil, err
	}
	resp.AnswerSignature, err = s.signAnswer(c, to, resp.KeyARN,
		answer.Field{Name: "CiphertextForRecipient", Value: resp.CiphertextForRecipient},
		answer.Field{Name: "PrivateKeyCiphertextBlob", Value: resp.PrivateKeyCiphertextBlob},
		answer.Field{Name: "PublicKey", Value: resp.PublicKey},
		answer.Field{Name: "KeyId", Value: []byte(resp.KeyARN)},
		answer.Field{Name: "KeyPairSpec", Value: []byte(resp.KeyPairSpec)})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// ErrKeyPairsBusy is the cause of a GenerateDataKeyPair refused because as
// many RSA key pairs as this server generates at once are being generated
// (ErrThrottled): the metrics' limit "key_pair".
var ErrKeyPairsBusy = errors.New("RSA key pair generation busy")

// rsaPairHook, if set, runs as an RSA key pair's generation begins (tests).
var rsaPairHook atomic.Pointer[func()]

// rsaPairBudget bounds the RSA key pairs generated at once to half the
// CPUs (at least one); the zero value is ready to use.
type rsaPairBudget struct {
	once sync.Once
	sem  chan struct{}
}

// acquire takes a slot, without waiting: ok false when none is free; else
// release gives it back.
func (b *rsaPairBudget) acquire() (release func(), ok bool) {
	b.init()
	select {
	case b.sem <- struct{}{}:
		return func() { <-b.sem }, true
	default:
		return nil, false
	}
}

func (b *rsaPairBudget) init() {
	b.once.Do(func() { b.sem = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)) })
}

// newKeyPair returns DER SubjectPublicKeyInfo and DER PKCS#8.
func newKeyPair(spec DataKeyPairSpec) (pub, priv []byte, err error) {
	if curve, ok := pairCurves[spec]; ok {
		k, err := eckeys.Generate(curve, rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		defer k.Destroy()
		if pub, err = k.Public().MarshalSPKI(); err != nil {
			return nil, nil, err
		}
		priv, err = k.MarshalPKCS8()
		return pub, priv, err
	}
	rk, err := rsa.GenerateKey(rand.Reader, pairRSABits[spec])
	if err != nil {
		return nil, nil, err
	}
	if pub, err = x509.MarshalPKIXPublicKey(&rk.PublicKey); err != nil {
		return nil, nil, err
	}
	priv, err = x509.MarshalPKCS8PrivateKey(rk)
	return pub, priv, err
}
