package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	sdkerr "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	hwmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/tdx"
	"github.com/attestkms/attestkms/internal/testserver"
)

// tdxEnv is a server trusting a test TDX CA, with its signed collateral in
// a directory (--tdx-collateral), and a TD's ephemeral key.
type tdxEnv struct {
	srv    *testserver.Server
	c      clients
	ca     *attesttest.TDXCA
	priv   *rsa.PrivateKey
	pubDER []byte
}

func newTDXEnv(t *testing.T, store string) *tdxEnv {
	t.Helper()
	ca, err := attesttest.NewTDXCAWith(attesttest.TDXCAOptions{FMSPC: &[6]byte{0, 0x90, 0x6e, 0xd5, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	issue := time.Now().Add(-time.Hour)
	signed, err := ca.Collateral(attesttest.TDXCollateralOptions{IssueDate: issue, NextUpdate: issue.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := signed.Save(dir); err != nil {
		t.Fatal(err)
	}
	roots := []*x509.Certificate{ca.Root}
	col, err := tdx.OpenCollateralDir(dir, roots)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tdx.New(tdx.Options{Roots: roots, Collateral: col})
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, testserver.Options{Store: store, Attestation: &attest.Set{Envelopes: map[attest.Format]attest.Verifier{attest.FormatTDX: v}}})
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	return &tdxEnv{srv: srv, c: threeSDKs(t, srv), ca: ca, priv: priv, pubDER: der}
}

var goodMRTD = bytes.Repeat([]byte{0x7d}, 48)

// evidence is a TDX envelope for the TD's key; q.ReportData, unless set,
// binds it with testNonce.
func (e *tdxEnv) evidence(t *testing.T, q attesttest.TDXQuote) []byte {
	t.Helper()
	env := &envelope.Envelope{Format: attest.FormatTDX, PublicKey: e.pubDER, Nonce: testNonce}
	if q.MRTD == nil {
		q.MRTD = goodMRTD
	}
	var err error
	if env.Quote, err = e.ca.Quote(env.Binding(crypto.SHA512), q); err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTDXRecipients: a TD gets a data key through AWS and Tencent and a
// shared secret through Huawei, wrapped to its key, under a policy on
// TdxMrTd and TdxRtmr3; another MRTD or RTMR3 is refused; and hostile
// quotes get a 4xx in each dialect's shape, without a secret.
func TestTDXRecipients(t *testing.T) {
	e := newTDXEnv(t, testserver.Bolt)
	ctx := context.Background()
	acct := e.srv.Account.AccountID
	rtmr3 := bytes.Repeat([]byte{0x33}, 48)
	k, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(attestedPolicy(acct,
		`{"kms:RecipientAttestation:TdxMrTd":"`+strings.Repeat("7d", 48)+`","kms:RecipientAttestation:TdxRtmr3":"`+strings.Repeat("33", 48)+`","kms:RecipientAttestation:TdxTcbStatus":"UpToDate"}`))})
	if err != nil {
		t.Fatal(err)
	}
	id := *k.KeyMetadata.KeyId
	good := e.evidence(t, attesttest.TDXQuote{RTMR: [4][]byte{3: rtmr3}})
	recip := func(doc []byte) *awstypes.RecipientInfo {
		return &awstypes.RecipientInfo{AttestationDocument: doc, KeyEncryptionAlgorithm: awstypes.KeyEncryptionMechanismRsaesOaepSha256}
	}
	gdk, err := e.c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: awstypes.DataKeySpecAes256, Recipient: recip(good)})
	if err != nil {
		t.Fatal(err)
	}
	if gdk.Plaintext != nil {
		t.Fatal("a Recipient's data key came back in plaintext")
	}
	var env envelopeEnv
	env.priv = e.priv
	dataKey := env.unwrap(t, gdk.CiphertextForRecipient)
	dec, err := e.c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, Recipient: recip(good)})
	if err != nil || !bytes.Equal(env.unwrap(t, dec.CiphertextForRecipient), dataKey) {
		t.Fatalf("Decrypt for the TD: %v", err)
	}
	// Policy: another MRTD, another RTMR3: AccessDenied.
	for name, doc := range map[string][]byte{
		"other MRTD":  e.evidence(t, attesttest.TDXQuote{MRTD: bytes.Repeat([]byte{0x7e}, 48), RTMR: [4][]byte{3: rtmr3}}),
		"other RTMR3": e.evidence(t, attesttest.TDXQuote{RTMR: [4][]byte{3: bytes.Repeat([]byte{0x34}, 48)}}),
	} {
		out, err := e.c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: awstypes.DataKeySpecAes256, Recipient: recip(doc)})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || out != nil {
			t.Fatalf("%s: %v; want AccessDeniedException", name, err)
		}
	}
	// Tencent: raw RSA-OAEP to the TD's key.
	resp, err := tencentCommon(e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256",
		"Recipient": map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(good), "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}})
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(resp["Plaintext"].(string))
	if _, err := rsa.DecryptOAEP(sha256.New(), nil, e.priv, ct, nil); err != nil {
		t.Fatalf("Tencent's Plaintext does not unwrap: %v", err)
	}
	// Huawei: DeriveSharedSecret with the SDK's recipient model.
	ka, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: awstypes.KeySpecEccNistP256, KeyUsage: awstypes.KeyUsageTypeKeyAgreement,
		Policy: aws.String(attestedPolicy(acct, `{"kms:RecipientAttestation:TdxMrTd":"`+strings.Repeat("7d", 48)+`"}`))})
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	docB64, alg := base64.StdEncoding.EncodeToString(good), "RSAES_OAEP_SHA_256"
	hds, err := e.c.huawei.DeriveSharedSecret(&hwmodel.DeriveSharedSecretRequest{Body: &hwmodel.DeriveSharedSecretRequestBody{
		KeyId: *ka.KeyMetadata.KeyId, KeyAgreementAlgorithm: hwmodel.GetDeriveSharedSecretRequestBodyKeyAgreementAlgorithmEnum().ECDH,
		PublicKey: base64.StdEncoding.EncodeToString(peerDER),
		Recipient: &hwmodel.Recipient{AttestationDocument: &docB64, KeyEncryptionAlgorithm: &alg}}})
	if err != nil || hds.CiphertextRecipient == nil || hds.SharedSecret != nil {
		t.Fatalf("Huawei DeriveSharedSecret for a TD: %v", err)
	}

	// Hostile quotes: a 4xx in each dialect, the reason, nothing secret.
	tampered := bytes.Clone(good)
	tampered[len(tampered)/2] ^= 1
	hostile := map[string]struct {
		doc  []byte
		want string
	}{
		"wrong REPORTDATA": {e.evidence(t, attesttest.TDXQuote{ReportData: make([]byte, 64)}), "bind"},
		"debug TD":         {e.evidence(t, attesttest.TDXQuote{Attributes: attesttest.TDXAttributeDebug}), "debug"},
		"tampered":         {tampered, ""},
	}
	for name, tc := range hostile {
		out, err := e.c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: awstypes.DataKeySpecAes256, Recipient: recip(tc.doc)})
		var ae smithy.APIError
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &ae) || out != nil || !errors.As(err, &re) || re.HTTPStatusCode() < 400 || re.HTTPStatusCode() >= 500 {
			t.Fatalf("AWS, %s: %v", name, err)
		}
		if !strings.Contains(strings.ToLower(ae.ErrorMessage()), tc.want) {
			t.Errorf("AWS, %s: %q does not say %q", name, ae.ErrorMessage(), tc.want)
		}
		resp, err := tencentCommon(e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256",
			"Recipient": map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(tc.doc), "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}})
		var te *tcerr.TencentCloudSDKError
		if !errors.As(err, &te) || resp != nil || !strings.Contains(strings.ToLower(te.Message), tc.want) {
			t.Errorf("Tencent, %s: %v", name, err)
		}
		b64 := base64.StdEncoding.EncodeToString(tc.doc)
		hout, err := e.c.huawei.DeriveSharedSecret(&hwmodel.DeriveSharedSecretRequest{Body: &hwmodel.DeriveSharedSecretRequestBody{
			KeyId: *ka.KeyMetadata.KeyId, KeyAgreementAlgorithm: hwmodel.GetDeriveSharedSecretRequestBodyKeyAgreementAlgorithmEnum().ECDH,
			PublicKey: base64.StdEncoding.EncodeToString(peerDER),
			Recipient: &hwmodel.Recipient{AttestationDocument: &b64, KeyEncryptionAlgorithm: &alg}}})
		var se *sdkerr.ServiceResponseError
		if !errors.As(err, &se) || se.StatusCode < 400 || se.StatusCode >= 500 || (hout != nil && (hout.SharedSecret != nil || hout.CiphertextRecipient != nil)) {
			t.Errorf("Huawei, %s: %v", name, err)
		}
	}
}
