package e2e

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/enclave"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

// withRecipientPublicKey adds attestkms's Recipient.PublicKey extension to
// an AWS SDK request (the SDK's RecipientInfo has no such member): a
// middleware after the SDK's own serializer, before it signs, so the request
// is still the SDK's, signed by it.
func withRecipientPublicKey(pub []byte) func(*awskms.Options) {
	return func(o *awskms.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Serialize.Add(middleware.SerializeMiddlewareFunc("attestkmsRecipientPublicKey",
				func(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
					req := in.Request.(*smithyhttp.Request)
					body, err := io.ReadAll(req.GetStream())
					if err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					var m map[string]any
					if err := json.Unmarshal(body, &m); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					if r, ok := m["Recipient"].(map[string]any); ok {
						r["PublicKey"] = base64.StdEncoding.EncodeToString(pub)
					}
					if body, err = json.Marshal(m); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					if in.Request, err = req.SetStream(bytes.NewReader(body)); err != nil {
						return middleware.SerializeOutput{}, middleware.Metadata{}, err
					}
					return next.HandleSerialize(ctx, in)
				}), middleware.After)
		})
	}
}

// hpkeEnv is a server trusting a test Nitro CA, and its SDK clients.
type hpkeEnv struct {
	srv *testserver.Server
	c   clients
	ca  *nitrotest.CA
}

func newHPKEEnv(t *testing.T, store string) *hpkeEnv {
	t.Helper()
	return newHPKEEnvOf(t, store, attest.FormatNitro)
}

// newHPKEEnvOf is newHPKEEnv with a CA and verifier of format (Nitro or
// Qingtian).
func newHPKEEnvOf(t *testing.T, store string, format attest.Format) *hpkeEnv {
	t.Helper()
	ca, err := nitrotest.NewTestCA(format, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := nitro.New(nitro.Options{Format: format, Roots: ca.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, testserver.Options{Store: store, Attestation: &attest.Set{COSE: []attest.Verifier{v}}})
	return &hpkeEnv{srv: srv, c: threeSDKs(t, srv), ca: ca}
}

// doc is a production Nitro document binding bound (an SPKI, or the SHA-256
// of an ML-KEM key).
func (e *hpkeEnv) doc(t *testing.T, bound []byte) []byte {
	t.Helper()
	pcrs := map[int][]byte{}
	for i := 0; i < 16; i++ {
		pcrs[i] = make([]byte, 48)
	}
	pcrs[0] = bytes.Repeat([]byte{0x42}, 48)
	b, err := e.ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: pcrs, PublicKey: bound, Nonce: []byte("hpke nonce")})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hpkeRecipient(doc []byte, alg string) *awstypes.RecipientInfo {
	return &awstypes.RecipientInfo{AttestationDocument: doc, KeyEncryptionAlgorithm: awstypes.KeyEncryptionMechanism(alg)}
}

// TestHPKERecipientsAWS: through the official AWS SDK (the algorithm passes
// through its enum unchanged; the ML-KEM key rides in the Recipient by a
// middleware), GenerateDataKey, Decrypt, GenerateDataKeyPair, GenerateRandom
// and DeriveSharedSecret with each HPKE algorithm: the CiphertextForRecipient
// is an HPKE frame that package enclave opens to what the plaintext path
// gives, and opens under no other operation, key or document.
func TestHPKERecipientsAWS(t *testing.T) { testserver.Stores(t, testHPKERecipientsAWS) }

func testHPKERecipientsAWS(t *testing.T, store string) {
	e := newHPKEEnv(t, store)
	ctx := context.Background()
	sym, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	symARN := *sym.KeyMetadata.Arn
	ka, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: awstypes.KeySpecEccNistP256, KeyUsage: awstypes.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	gp, _ := e.c.aws.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: ka.KeyMetadata.KeyId})
	kmsPub, _ := x509.ParsePKIXPublicKey(gp.PublicKey)
	kp, _ := kmsPub.(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	shared, _ := peer.ECDH(kp)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())

	for _, typ := range []string{enclave.KeyTypeP256, enclave.KeyTypeMLKEM768X25519} {
		t.Run(typ, func(t *testing.T) {
			k, err := enclave.NewKeyOfType(typ, 0)
			if err != nil {
				t.Fatal(err)
			}
			doc := e.doc(t, k.PublicKeyDER())
			rcpt := hpkeRecipient(doc, k.Algorithm())
			var opt []func(*awskms.Options)
			if pub := k.RecipientPublicKey(); pub != nil {
				opt = append(opt, withRecipientPublicKey(pub))
			}
			unwrap := func(op, arn string, cfr []byte) []byte {
				t.Helper()
				return hpkeOpen(t, k, doc, op, arn, cfr)
			}

			gdk, err := e.c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: sym.KeyMetadata.KeyId, KeySpec: awstypes.DataKeySpecAes256, Recipient: rcpt}, opt...)
			if err != nil {
				t.Fatal(err)
			}
			if gdk.Plaintext != nil || *gdk.KeyId != symARN {
				t.Fatalf("GenerateDataKey: plaintext %v, KeyId %s", gdk.Plaintext != nil, *gdk.KeyId)
			}
			dk := unwrap("GenerateDataKey", *gdk.KeyId, gdk.CiphertextForRecipient)
			plain, err := e.c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob})
			if err != nil || !bytes.Equal(plain.Plaintext, dk) || len(dk) != 32 {
				t.Fatalf("GenerateDataKey's wrapped key is not the plaintext path's: %v", err)
			}
			// Replayed into another context, the answer does not open.
			for _, ctxt := range []struct{ op, arn string }{{"Decrypt", symARN}, {"GenerateDataKey", *ka.KeyMetadata.Arn}, {"GenerateRandom", ""}} {
				if _, err := k.Unwrap(ctxt.op, ctxt.arn, doc, gdk.CiphertextForRecipient); !errors.Is(err, recipient.ErrDecrypt) {
					t.Fatalf("GenerateDataKey's answer opened as %s/%s: %v", ctxt.op, ctxt.arn, err)
				}
			}
			other := e.doc(t, k.PublicKeyDER())
			if _, err := k.Unwrap("GenerateDataKey", symARN, other, gdk.CiphertextForRecipient); !errors.Is(err, recipient.ErrDecrypt) {
				t.Fatalf("GenerateDataKey's answer opened for another document: %v", err)
			}

			dec, err := e.c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, Recipient: rcpt}, opt...)
			if err != nil || dec.Plaintext != nil || !bytes.Equal(unwrap("Decrypt", *dec.KeyId, dec.CiphertextForRecipient), dk) {
				t.Fatalf("Decrypt: %v", err)
			}

			pair, err := e.c.aws.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: sym.KeyMetadata.KeyId, KeyPairSpec: awstypes.DataKeyPairSpecEccNistP256, Recipient: rcpt}, opt...)
			if err != nil || pair.PrivateKeyPlaintext != nil {
				t.Fatalf("GenerateDataKeyPair: %v", err)
			}
			priv := unwrap("GenerateDataKeyPair", *pair.KeyId, pair.CiphertextForRecipient)
			plain, err = e.c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: pair.PrivateKeyCiphertextBlob})
			if err != nil || !bytes.Equal(plain.Plaintext, priv) {
				t.Fatalf("GenerateDataKeyPair's private key is not the plaintext path's: %v", err)
			}
			if _, err := x509.ParsePKCS8PrivateKey(priv); err != nil {
				t.Fatal(err)
			}

			rnd, err := e.c.aws.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(64), Recipient: rcpt}, opt...)
			if err != nil || rnd.Plaintext != nil || len(unwrap("GenerateRandom", "", rnd.CiphertextForRecipient)) != 64 {
				t.Fatalf("GenerateRandom: %v", err)
			}

			ds, err := e.c.aws.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: ka.KeyMetadata.KeyId,
				KeyAgreementAlgorithm: awstypes.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerDER, Recipient: rcpt}, opt...)
			if err != nil || ds.SharedSecret != nil || !bytes.Equal(unwrap("DeriveSharedSecret", *ds.KeyId, ds.CiphertextForRecipient), shared) {
				t.Fatalf("DeriveSharedSecret: %v", err)
			}
		})
	}
}

// wantAWSRefusal: err is a 400 ValidationException whose message says want,
// and there is no answer.
func wantAWSRefusal(t *testing.T, name string, out any, err error, want string) {
	t.Helper()
	var ae smithy.APIError
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || !strings.Contains(ae.ErrorMessage(), want) || !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Fatalf("%s: %v; want a 400 ValidationException saying %q", name, err, want)
	}
	if o, ok := out.(*awskms.GenerateDataKeyOutput); ok && o != nil {
		t.Fatalf("%s: an answer", name)
	}
}

// TestHPKERefusals: through the AWS SDK, a 4xx saying what is wrong for an
// ML-KEM key whose hash the document does not bind, a P-256 document with
// RSAES_OAEP_SHA_256, an RSA document with an HPKE algorithm, an ML-KEM
// algorithm without the key, and an unknown algorithm; and through
// Tencent's SDK the first two as well.
func TestHPKERefusals(t *testing.T) {
	e := newHPKEEnv(t, testserver.Bolt)
	ctx := context.Background()
	sym, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := enclave.NewKeyOfType(enclave.KeyTypeP256, 0)
	mlkem, _ := enclave.NewKeyOfType(enclave.KeyTypeMLKEM768X25519, 0)
	otherMLKEM, _ := enclave.NewKeyOfType(enclave.KeyTypeMLKEM768X25519, 0)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	p256Doc, mlkemDoc, rsaDoc := e.doc(t, p256.PublicKeyDER()), e.doc(t, mlkem.PublicKeyDER()), e.doc(t, rsaDER)
	gdk := func(doc []byte, alg string, opt ...func(*awskms.Options)) (*awskms.GenerateDataKeyOutput, error) {
		return e.c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: sym.KeyMetadata.KeyId, KeySpec: awstypes.DataKeySpecAes256, Recipient: hpkeRecipient(doc, alg)}, opt...)
	}
	for _, tc := range []struct {
		name, alg string
		doc       []byte
		opt       []func(*awskms.Options)
		want      string
	}{
		{"ML-KEM key not bound", recipient.AlgHPKEMLKEM768X25519, mlkemDoc, []func(*awskms.Options){withRecipientPublicKey(otherMLKEM.RecipientPublicKey())}, "does not bind Recipient.PublicKey"},
		{"ML-KEM key missing", recipient.AlgHPKEMLKEM768X25519, mlkemDoc, nil, "Recipient.PublicKey is required"},
		{"ML-KEM key on a P-256 document", recipient.AlgHPKEMLKEM768X25519, p256Doc, []func(*awskms.Options){withRecipientPublicKey(mlkem.RecipientPublicKey())}, "binds an EC P-256 key"},
		{"P-256 document, RSA algorithm", recipient.KeyEncryptionAlgorithm, p256Doc, nil, "EC P-256 key, which cannot receive a secret with RSAES_OAEP_SHA_256; use HPKE_P256_SHA256_AES256GCM"},
		{"RSA document, P-256 algorithm", recipient.AlgHPKEP256, rsaDoc, nil, "RSA-2048 key, which cannot receive a secret with HPKE_P256_SHA256_AES256GCM; use RSAES_OAEP_SHA_256"},
		{"RSA document, ML-KEM algorithm", recipient.AlgHPKEMLKEM768X25519, rsaDoc, []func(*awskms.Options){withRecipientPublicKey(mlkem.RecipientPublicKey())}, "use RSAES_OAEP_SHA_256"},
		{"digest document, P-256 algorithm", recipient.AlgHPKEP256, mlkemDoc, nil, "use HPKE_MLKEM768X25519_SHA256_AES256GCM with Recipient.PublicKey"},
		{"PublicKey with P-256", recipient.AlgHPKEP256, p256Doc, []func(*awskms.Options){withRecipientPublicKey(mlkem.RecipientPublicKey())}, "Recipient.PublicKey is only for"},
		{"unknown algorithm", "HPKE_P384_SHA384_AES256GCM", p256Doc, nil, `unsupported key encryption algorithm "HPKE_P384_SHA384_AES256GCM"`},
	} {
		out, err := gdk(tc.doc, tc.alg, tc.opt...)
		wantAWSRefusal(t, tc.name, out, err, tc.want)
	}
	// The same through Tencent's SDK (its common client; Recipient is
	// attestkms's extension there).
	for _, tc := range []struct {
		name string
		r    map[string]any
		want string
	}{
		{"ML-KEM key not bound", map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(mlkemDoc), "KeyEncryptionAlgorithm": recipient.AlgHPKEMLKEM768X25519,
			"PublicKey": base64.StdEncoding.EncodeToString(otherMLKEM.RecipientPublicKey())}, "does not bind Recipient.PublicKey"},
		{"P-256 document, RSA algorithm", map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(p256Doc), "KeyEncryptionAlgorithm": recipient.KeyEncryptionAlgorithm}, "use HPKE_P256_SHA256_AES256GCM"},
		{"RSA document, P-256 algorithm", map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(rsaDoc), "KeyEncryptionAlgorithm": recipient.AlgHPKEP256}, "use RSAES_OAEP_SHA_256"},
	} {
		resp, err := tencentCommon(e.srv, "GenerateDataKey", map[string]any{"KeyId": *sym.KeyMetadata.KeyId, "KeySpec": "AES_256", "Recipient": tc.r})
		var te *tcerr.TencentCloudSDKError
		if !errors.As(err, &te) || !strings.HasPrefix(te.Code, "InvalidParameter") || !strings.Contains(te.Message, tc.want) || resp != nil {
			t.Fatalf("Tencent, %s: %v %v", tc.name, resp, err)
		}
	}
}

// TestHPKERecipientsTencent: GenerateDataKey and Decrypt with each HPKE
// algorithm through Tencent's SDK (common client): Plaintext is then the
// HPKE frame (not raw RSA), opened by package enclave under the key's ARN.
func TestHPKERecipientsTencent(t *testing.T) {
	e := newHPKEEnv(t, testserver.Bolt)
	ctx := context.Background()
	sym, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{enclave.KeyTypeP256, enclave.KeyTypeMLKEM768X25519} {
		k, _ := enclave.NewKeyOfType(typ, 0)
		doc := e.doc(t, k.PublicKeyDER())
		r := map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(doc), "KeyEncryptionAlgorithm": k.Algorithm()}
		if pub := k.RecipientPublicKey(); pub != nil {
			r["PublicKey"] = base64.StdEncoding.EncodeToString(pub)
		}
		resp, err := tencentCommon(e.srv, "GenerateDataKey", map[string]any{"KeyId": *sym.KeyMetadata.KeyId, "KeySpec": "AES_256", "Recipient": r})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		frame, _ := base64.StdEncoding.DecodeString(resp["Plaintext"].(string))
		dk, err := k.Unwrap("GenerateDataKey", *sym.KeyMetadata.Arn, doc, frame)
		if err != nil {
			t.Fatalf("%s: Tencent's Plaintext does not open: %v", typ, err)
		}
		blob := resp["CiphertextBlob"].(string)
		plain, err := tencentCommon(e.srv, "Decrypt", map[string]any{"CiphertextBlob": blob})
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := base64.StdEncoding.DecodeString(plain["Plaintext"].(string)); !bytes.Equal(p, dk) || len(dk) != 32 {
			t.Fatalf("%s: the wrapped data key is not the plaintext path's", typ)
		}
		resp, err = tencentCommon(e.srv, "Decrypt", map[string]any{"CiphertextBlob": blob, "Recipient": r})
		if err != nil {
			t.Fatalf("%s: Decrypt: %v", typ, err)
		}
		frame, _ = base64.StdEncoding.DecodeString(resp["Plaintext"].(string))
		if got, err := k.Unwrap("Decrypt", *sym.KeyMetadata.Arn, doc, frame); err != nil || !bytes.Equal(got, dk) {
			t.Fatalf("%s: Decrypt for the recipient: %v", typ, err)
		}
	}
}

// TestHPKETDX: an Intel TDX envelope binds a P-256 key, or an ML-KEM key's
// SHA-256 (the envelope's public_key holds the 32 bytes, and REPORTDATA
// binds them as it binds any key): GenerateDataKey and Decrypt through the
// AWS SDK open in the TD to the plaintext path's data key.
func TestHPKETDX(t *testing.T) {
	e := newTDXEnv(t, testserver.Bolt)
	ctx := context.Background()
	sym, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{enclave.KeyTypeP256, enclave.KeyTypeMLKEM768X25519} {
		k, _ := enclave.NewKeyOfType(typ, 0)
		e.pubDER = k.PublicKeyDER()
		doc := e.evidence(t, attesttest.TDXQuote{})
		var opt []func(*awskms.Options)
		if pub := k.RecipientPublicKey(); pub != nil {
			opt = append(opt, withRecipientPublicKey(pub))
		}
		gdk, err := e.c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: sym.KeyMetadata.KeyId, KeySpec: awstypes.DataKeySpecAes256, Recipient: hpkeRecipient(doc, k.Algorithm())}, opt...)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		dk, err := k.Unwrap("GenerateDataKey", *gdk.KeyId, doc, gdk.CiphertextForRecipient)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		plain, err := e.c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob})
		if err != nil || !bytes.Equal(plain.Plaintext, dk) {
			t.Fatalf("%s: not the plaintext path's data key: %v", typ, err)
		}
		dec, err := e.c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, Recipient: hpkeRecipient(doc, k.Algorithm())}, opt...)
		if err != nil {
			t.Fatalf("%s: Decrypt: %v", typ, err)
		}
		if got, err := k.Unwrap("Decrypt", *dec.KeyId, doc, dec.CiphertextForRecipient); err != nil || !bytes.Equal(got, dk) {
			t.Fatalf("%s: Decrypt for the TD: %v", typ, err)
		}
	}
}
