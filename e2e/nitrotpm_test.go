package e2e

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
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
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

// TestNitroTPMRecipients: simulated AWS NitroTPM documents, verified by the
// server's Nitro verifier (the same root as Nitro Enclaves), through the
// official AWS, Huawei and Tencent SDKs: a policy on NitroTPMPCR4 admits
// the document with that register and refuses another value and a Nitro
// Enclave document whose PCR4 has the same value; a Nitro Enclave policy
// (PCR4, ImageSha384) refuses the NitroTPM document; a document binding an
// EC P-256 key is refused in each dialect with a 4xx saying why.
func TestNitroTPMRecipients(t *testing.T) { testserver.Stores(t, testNitroTPMRecipients) }

func testNitroTPMRecipients(t *testing.T, store string) {
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := nitro.New(nitro.Options{Roots: ca.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, testserver.Options{Store: store, Attestation: &attest.Set{COSE: []attest.Verifier{v}}})
	c := threeSDKs(t, srv)
	ctx := context.Background()
	acct := srv.Account.AccountID
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)

	x, y := bytes.Repeat([]byte{0x4a}, 48), bytes.Repeat([]byte{0x4b}, 48)
	hexX := strings.Repeat("4a", 48)
	tpmDoc := func(pcr4, key []byte) []byte {
		regs := nitrotest.NitroTPMPCRs()
		regs[4] = pcr4
		d, err := ca.Sign(nitrotest.Document{NitroTPM: true, Timestamp: time.Now(), PCRs: regs, PublicKey: key, Nonce: testNonce})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	enclaveDoc := func(pcr4 []byte) []byte {
		pcrs := map[int][]byte{0: x, 1: make([]byte, 48), 2: make([]byte, 48), 4: pcr4}
		d, err := ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: pcrs, PublicKey: pubDER, Nonce: testNonce})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	good, wrong, enclave, ecDoc := tpmDoc(x, pubDER), tpmDoc(y, pubDER), enclaveDoc(x), tpmDoc(x, ecDER)
	awsRecipient := func(doc []byte) *awstypes.RecipientInfo {
		return &awstypes.RecipientInfo{AttestationDocument: doc, KeyEncryptionAlgorithm: awstypes.KeyEncryptionMechanismRsaesOaepSha256}
	}
	unwrap := func(cfr []byte) []byte {
		t.Helper()
		pt, err := recipient.UnwrapCMS(priv, cfr)
		if err != nil {
			t.Fatalf("CiphertextForRecipient does not unwrap: %v", err)
		}
		return pt
	}
	newKey := func(cond string) string {
		// A Nitro Enclave's PCR4 alone is the host's, not the image's: the
		// safety check refuses it (docs/policy.md), so the key bypasses it;
		// what is tested is which evidence the condition admits.
		k, err := c.aws.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(attestedPolicy(acct, cond)), BypassPolicyLockoutSafetyCheck: strings.Contains(cond, ":PCR4\"")})
		if err != nil {
			t.Fatal(err)
		}
		return *k.KeyMetadata.KeyId
	}
	denied := func(what string, out any, err error) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
			t.Fatalf("%s: %v; want AccessDeniedException", what, err)
		}
	}

	// A NitroTPM policy: the matching document only.
	tpmKey := newKey(`{"kms:RecipientAttestation:NitroTPMPCR4":"` + hexX + `"}`)
	gdk, err := c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(tpmKey), KeySpec: awstypes.DataKeySpecAes256, Recipient: awsRecipient(good)})
	if err != nil {
		t.Fatal(err)
	}
	if gdk.Plaintext != nil {
		t.Fatal("a Recipient's data key came back in plaintext")
	}
	dataKey := unwrap(gdk.CiphertextForRecipient)
	dec, err := c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, Recipient: awsRecipient(good)})
	if err != nil || !bytes.Equal(unwrap(dec.CiphertextForRecipient), dataKey) {
		t.Fatalf("Decrypt for the NitroTPM recipient: %v", err)
	}
	for name, doc := range map[string][]byte{"another PCR4": wrong, "a Nitro Enclave with that PCR4": enclave} {
		out, err := c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(tpmKey), KeySpec: awstypes.DataKeySpecAes256, Recipient: awsRecipient(doc)})
		denied("AWS NitroTPMPCR4 policy, "+name, out, err)
	}
	resp, err := tencentCommon(srv, "GenerateDataKey", map[string]any{"KeyId": tpmKey, "KeySpec": "AES_256",
		"Recipient": map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(good), "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}})
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(resp["Plaintext"].(string))
	if _, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil); err != nil {
		t.Fatalf("Tencent's Plaintext does not unwrap: %v", err)
	}
	for _, doc := range [][]byte{wrong, enclave} {
		_, err = tencentCommon(srv, "GenerateDataKey", map[string]any{"KeyId": tpmKey, "KeySpec": "AES_256",
			"Recipient": map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(doc), "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}})
		var te *tcerr.TencentCloudSDKError
		if !errors.As(err, &te) || te.Code != "UnauthorizedOperation" {
			t.Fatalf("Tencent, a refused document: %v", err)
		}
	}

	// Nitro Enclave policies refuse the NitroTPM document, whose register 4
	// (and register 0) hold the same value.
	for _, cond := range []string{
		`{"kms:RecipientAttestation:PCR4":"` + hexX + `"}`,
		`{"kms:RecipientAttestation:ImageSha384":"` + hexX + `"}`,
	} {
		id := newKey(cond)
		if _, err := c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: awstypes.DataKeySpecAes256, Recipient: awsRecipient(enclave)}); err != nil {
			t.Fatalf("%s: the enclave refused: %v", cond, err)
		}
		regs := nitrotest.NitroTPMPCRs()
		regs[0], regs[4] = x, x
		nt, err := ca.Sign(nitrotest.Document{NitroTPM: true, Timestamp: time.Now(), PCRs: regs, PublicKey: pubDER, Nonce: testNonce})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: awstypes.DataKeySpecAes256, Recipient: awsRecipient(nt)})
		denied("Nitro Enclave policy "+cond+", a NitroTPM document", out, err)
	}

	// Huawei: derive-shared-secret with a key whose policy is on NitroTPMPCR4.
	ka, err := c.aws.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: awstypes.KeySpecEccNistP256, KeyUsage: awstypes.KeyUsageTypeKeyAgreement,
		Policy: aws.String(attestedPolicy(acct, `{"kms:RecipientAttestation:NitroTPMPCR4":"`+hexX+`"}`))})
	if err != nil {
		t.Fatal(err)
	}
	kaID := *ka.KeyMetadata.KeyId
	gp, err := c.aws.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(kaID)})
	if err != nil {
		t.Fatal(err)
	}
	kmsPub, _ := x509.ParsePKIXPublicKey(gp.PublicKey)
	kmsECDH, _ := kmsPub.(*ecdsa.PublicKey).ECDH()
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	want, _ := peer.ECDH(kmsECDH)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	huawei := func(doc []byte) (*hwmodel.DeriveSharedSecretResponse, error) {
		docB64, alg := base64.StdEncoding.EncodeToString(doc), "RSAES_OAEP_SHA_256"
		return c.huawei.DeriveSharedSecret(&hwmodel.DeriveSharedSecretRequest{Body: &hwmodel.DeriveSharedSecretRequestBody{
			KeyId: kaID, KeyAgreementAlgorithm: hwmodel.GetDeriveSharedSecretRequestBodyKeyAgreementAlgorithmEnum().ECDH,
			PublicKey: base64.StdEncoding.EncodeToString(peerDER),
			Recipient: &hwmodel.Recipient{AttestationDocument: &docB64, KeyEncryptionAlgorithm: &alg}}})
	}
	hds, err := huawei(good)
	if err != nil {
		t.Fatalf("Huawei derive-shared-secret: %v", err)
	}
	cr, _ := base64.StdEncoding.DecodeString(*hds.CiphertextRecipient)
	if hds.SharedSecret != nil || !bytes.Equal(unwrap(cr), want) {
		t.Fatal("Huawei's ciphertext_recipient is not the shared secret")
	}
	for name, doc := range map[string][]byte{"another PCR4": wrong, "a Nitro Enclave": enclave} {
		out, err := huawei(doc)
		var se *sdkerr.ServiceResponseError
		if !errors.As(err, &se) || se.StatusCode != 403 || (out != nil && out.CiphertextRecipient != nil) {
			t.Fatalf("Huawei, %s: %v", name, err)
		}
	}

	// An EC P-256 key: genuine, but no secret can be wrapped to it; a clear
	// 4xx in each dialect, saying so.
	out, err := c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(tpmKey), KeySpec: awstypes.DataKeySpecAes256, Recipient: awsRecipient(ecDoc)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || !strings.Contains(ae.ErrorMessage(), "EC P-256") || out != nil {
		t.Fatalf("AWS, an EC P-256 key: %v", err)
	}
	hout, err := huawei(ecDoc)
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) || se.ErrorCode != "KMS.0308" || se.StatusCode != 400 || !strings.Contains(se.ErrorMessage, "EC P-256") || (hout != nil && hout.CiphertextRecipient != nil) {
		t.Fatalf("Huawei, an EC P-256 key: %v", err)
	}
	tresp, err := tencentCommon(srv, "GenerateDataKey", map[string]any{"KeyId": tpmKey, "KeySpec": "AES_256",
		"Recipient": map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(ecDoc), "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}})
	var te *tcerr.TencentCloudSDKError
	if !errors.As(err, &te) || te.Code != "InvalidParameterValue" || !strings.Contains(te.Message, "EC P-256") || tresp != nil {
		t.Fatalf("Tencent, an EC P-256 key: %v %v", tresp, err)
	}

	// The audit log names the NitroTPM registers a secret was released on.
	found := false
	for _, line := range gateAuditLines(t, srv.DataDir) {
		if a, ok := line["attestation"].(map[string]any); ok && a["format"] == "nitrotpm" && line["outcome"] == "ok" {
			regs, _ := a["nitrotpm_pcrs"].(map[string]any)
			if regs["4"] != hexX || a["pcr0"] != nil {
				t.Fatalf("audit line %v", line)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no audit line of a secret released to a NitroTPM document")
	}
}
