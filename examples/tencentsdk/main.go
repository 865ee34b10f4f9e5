// Command tencentsdk is the README's Tencent Cloud example: it drives a
// running attestkms with the official Tencent Cloud SDK for Go
// (tencentcloud-sdk-go kms v20190118), unchanged — creates a key, gets a data
// key and decrypts its ciphertext back, then gets one more data key
// encrypted to a local RSA key (EncryptionPublicKey), which only that key's
// holder can read.
//
//	go run ./cmd/attestkms serve &
//	go run ./examples/tencentsdk [--alias app]   # reads ./attestkms-data/admin-credential.json
//
// It can be run again and again: the key's alias is quick-start-<random>
// unless --alias names one, and CreateKey names the key in the same
// transaction, so an alias already taken (AliasAlreadyExists) makes no key.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	kms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/internal/credfile"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:8080", "attestkms's `URL`")
	credFile := flag.String("credential", "attestkms-data/admin-credential.json", "the credential `file` attestkms wrote")
	alias := flag.String("alias", "", "the new key's `alias`, which must be new (Tencent requires one; default quick-start-<random>)")
	flag.Parse()
	if err := run(*endpoint, *credFile, *alias, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tencentsdk: error:", err)
		os.Exit(1)
	}
}

func run(endpoint, credFile, alias string, out io.Writer) error {
	cred, err := credfile.Read(credFile)
	if err != nil {
		return err
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("--endpoint %q is not an http:// or https:// URL", endpoint)
	}
	if alias == "" {
		var b [4]byte
		rand.Read(b[:])
		alias = fmt.Sprintf("quick-start-%x", b)
	}

	// The SDK talks to attestkms like to Tencent Cloud: the endpoint is
	// host:port, the scheme http or https; the SecretId and SecretKey are the
	// access key pair attestkms made.
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = u.Host
	cpf.HttpProfile.Scheme = strings.ToUpper(u.Scheme)
	c, err := kms.NewClient(common.NewCredential(cred.AccessKeyID, cred.SecretAccessKey), "ap-guangzhou", cpf)
	if err != nil {
		return err
	}

	ck := kms.NewCreateKeyRequest()
	ck.Alias, ck.Description = &alias, str("quick start")
	key, err := c.CreateKey(ck)
	if err != nil {
		return err
	}
	keyID := *key.Response.KeyId
	fmt.Fprintln(out, "created", keyID, "with alias", alias)

	const context = `{"app":"quick-start"}`
	gdk := kms.NewGenerateDataKeyRequest()
	gdk.KeyId, gdk.KeySpec, gdk.EncryptionContext = &keyID, str("AES_256"), str(context)
	dk, err := c.GenerateDataKey(gdk)
	if err != nil {
		return err
	}
	// Encrypt your data with the Plaintext (base64), keep the
	// CiphertextBlob beside it, forget the Plaintext. Later:
	dec := kms.NewDecryptRequest()
	dec.CiphertextBlob, dec.EncryptionContext = dk.Response.CiphertextBlob, str(context)
	back, err := c.Decrypt(dec)
	if err != nil {
		return err
	}
	if *back.Response.Plaintext != *dk.Response.Plaintext {
		return fmt.Errorf("the data key did not round-trip")
	}
	plain, _ := base64.StdEncoding.DecodeString(*dk.Response.Plaintext)
	fmt.Fprintf(out, "data key round trip ok (%d-byte key)\n", len(plain))

	// EncryptionPublicKey: the data key comes back encrypted to our RSA key.
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return err
	}
	gdk.EncryptionPublicKey = str(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	gdk.EncryptionAlgorithm = str("RSAES_OAEP_SHA_256")
	wrapped, err := c.GenerateDataKey(gdk)
	if err != nil {
		return err
	}
	ct, err := base64.StdEncoding.DecodeString(*wrapped.Response.Plaintext)
	if err != nil {
		return err
	}
	dataKey, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil)
	if err != nil {
		return fmt.Errorf("the wrapped data key does not decrypt: %w", err)
	}
	dec.CiphertextBlob = wrapped.Response.CiphertextBlob
	back, err = c.Decrypt(dec)
	if err != nil {
		return err
	}
	if got, _ := base64.StdEncoding.DecodeString(*back.Response.Plaintext); !bytes.Equal(got, dataKey) {
		return fmt.Errorf("the wrapped data key is not the one its CiphertextBlob holds")
	}
	fmt.Fprintf(out, "data key encrypted to a local RSA-2048 key round trip ok (%d-byte key)\n", len(dataKey))
	return nil
}

func str(s string) *string { return &s }
