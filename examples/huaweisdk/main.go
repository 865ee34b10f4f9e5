// Command huaweisdk is the README's Huawei Cloud example: it drives a running
// attestkms with the official huaweicloud-sdk-go-v3 KMS client, unchanged —
// creates a key, gets a data key, and decrypts its ciphertext back.
//
//	go run ./cmd/attestkms serve &
//	go run ./examples/huaweisdk [--alias app]   # reads ./attestkms-data/admin-credential.json
//
// It can be run again and again: the key's alias is huawei-quick-start-<random>
// unless --alias names one, and create-key names the key in the same
// transaction (key_alias), so an alias already taken (KMS.1104) makes no key.
//
// Two settings point the SDK at attestkms instead of Huawei Cloud: the
// endpoint is given directly (WithEndpoints, no region), and the project id
// is set in the credentials (without it the SDK asks Huawei's IAM for one).
// The access key pair is the one every dialect of attestkms takes.
//
// Each request carries a fresh sequence (Huawei's request serial number).
// attestkms refuses a signature it has already seen, as a replay, and the
// SDK's signature covers the time to the second but no nonce: two identical
// requests within one second would otherwise have one signature.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/attestkms/attestkms/internal/credfile"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:8080", "attestkms's `URL`")
	credFile := flag.String("credential", "attestkms-data/admin-credential.json", "the credential `file` attestkms wrote")
	alias := flag.String("alias", "", "the new key's key_alias, which must be new (default huawei-quick-start-<random>)")
	insecure := flag.Bool("insecure", false, "do not verify the server's TLS certificate (test servers only)")
	flag.Parse()
	if err := run(*endpoint, *credFile, *alias, *insecure, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "huaweisdk: error:", err)
		os.Exit(1)
	}
}

func run(endpoint, credFile, alias string, insecure bool, out io.Writer) error {
	cred, err := credfile.Read(credFile)
	if err != nil {
		return err
	}
	if cred.ProjectID == "" {
		return errors.New(credFile + " has no project_id: the SDK needs it (or it asks Huawei's IAM)")
	}
	if alias == "" {
		alias = "huawei-quick-start-" + (*sequence())[:8]
	}

	auth, err := basic.NewCredentialsBuilder().
		WithAk(cred.AccessKeyID).
		WithSk(cred.SecretAccessKey).
		WithProjectId(cred.ProjectID).
		SafeBuild()
	if err != nil {
		return err
	}
	hc, err := kms.KmsClientBuilder().
		WithEndpoints([]string{endpoint}).
		WithCredential(auth).
		WithHttpConfig(config.DefaultHttpConfig().WithIgnoreSSLVerification(insecure)).
		SafeBuild()
	if err != nil {
		return err
	}
	c := kms.NewKmsClient(hc)

	key, err := c.CreateKey(&model.CreateKeyRequest{Body: &model.CreateKeyRequestBody{
		KeyAlias:       alias,
		KeyDescription: ptr("quick start"),
		Sequence:       sequence(),
	}})
	if err != nil {
		return err
	}
	keyID := *key.KeyInfo.KeyId
	fmt.Fprintln(out, "created", keyID, "as", alias)

	aad := "app=quick-start"
	dk, err := c.CreateDatakey(&model.CreateDatakeyRequest{Body: &model.CreateDatakeyRequestBody{
		KeyId:                       keyID,
		DatakeyLength:               ptr("256"), // bits
		AdditionalAuthenticatedData: &aad,
		Sequence:                    sequence(),
	}})
	if err != nil {
		return err
	}
	// Encrypt your data with the key in dk.PlainText (hex), keep
	// dk.CipherText (hex) beside it, forget the key. Later:
	back, err := c.DecryptDatakey(&model.DecryptDatakeyRequest{Body: &model.DecryptDatakeyRequestBody{
		KeyId:                       keyID,
		CipherText:                  *dk.CipherText,
		DatakeyCipherLength:         "32", // bytes
		AdditionalAuthenticatedData: &aad,
		Sequence:                    sequence(),
	}})
	if err != nil {
		return err
	}
	plain, err := hex.DecodeString(*dk.PlainText)
	if err != nil {
		return err
	}
	again, err := hex.DecodeString(*back.DataKey)
	if err != nil {
		return err
	}
	if !bytes.Equal(plain, again) {
		return errors.New("the data key did not round-trip")
	}
	fmt.Fprintf(out, "data key round trip ok (%d-byte key, %d-byte ciphertext, digest %s…)\n", len(plain), len(*dk.CipherText)/2, (*back.DatakeyDgst)[:16])
	return nil
}

func ptr(s string) *string { return &s }

// sequence is a fresh 36-byte request serial number (a random UUID).
func sequence() *string {
	var b [16]byte
	rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b[:])
	return ptr(h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32])
}
