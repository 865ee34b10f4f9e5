// Command awssdk is the README's quick start: it drives a running attestkms
// with the official AWS SDK for Go v2, unchanged — creates a key, gets a data
// key, and decrypts its ciphertext back.
//
//	go run ./cmd/attestkms serve &
//	go run ./examples/awssdk [--alias alias/app]   # reads ./attestkms-data/admin-credential.json
//	go run ./examples/awssdk --key-spec ECC_NIST_P256 --alias alias/agree   # a KEY_AGREEMENT key
//	go run ./examples/awssdk --policy policy.json --alias alias/enclave-only
//
// It can be run again and again: with --alias, a later run uses the key the
// alias already names (putting --policy on it again) instead of making
// another, and a key whose alias cannot be made is scheduled for deletion
// rather than left behind.
package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/attestkms/attestkms/internal/credfile"
)

// options are the example's flags.
type options struct {
	endpoint, region, credential string
	alias                        string // alias/NAME, or ""
	keySpec                      types.KeySpec
	policy                       string // the key policy's JSON, or ""
}

func main() {
	var o options
	var keySpec, policyFile string
	flag.StringVar(&o.endpoint, "endpoint", envOr("http://127.0.0.1:8080", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"), "attestkms's `URL` (default $AWS_ENDPOINT_URL_KMS, else $AWS_ENDPOINT_URL, else http://127.0.0.1:8080)")
	flag.StringVar(&o.credential, "credential", "attestkms-data/admin-credential.json", "the credential `file` attestkms wrote")
	flag.StringVar(&o.alias, "alias", "", "name the key with this `alias` (alias/NAME); if it names a key already, use that key")
	flag.StringVar(&o.region, "region", envOr("us-east-1", "AWS_REGION", "AWS_DEFAULT_REGION"), "the server's `region` (attestkms serve --region; default $AWS_REGION, else us-east-1)")
	flag.StringVar(&keySpec, "key-spec", "SYMMETRIC_DEFAULT", "the key's `spec`: SYMMETRIC_DEFAULT (ENCRYPT_DECRYPT: a data key round trip), or ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521 (KEY_AGREEMENT: a shared secret with a local peer key)")
	flag.StringVar(&policyFile, "policy", "", "the key policy, a JSON `file` (default: the account has full access); with --alias and a key already named, put on that key")
	flag.Parse()
	o.keySpec = types.KeySpec(keySpec)
	if policyFile != "" {
		b, err := os.ReadFile(policyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "awssdk: error:", err)
			os.Exit(2)
		}
		o.policy = string(b)
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "awssdk: error:", err)
		os.Exit(1)
	}
}

// curves are the KEY_AGREEMENT specs this example checks with crypto/ecdh.
var curves = map[types.KeySpec]ecdh.Curve{
	types.KeySpecEccNistP256: ecdh.P256(),
	types.KeySpecEccNistP384: ecdh.P384(),
	types.KeySpecEccNistP521: ecdh.P521(),
}

func run(ctx context.Context, o options, out io.Writer) error {
	if o.keySpec == "" {
		o.keySpec = types.KeySpecSymmetricDefault
	}
	usage := types.KeyUsageTypeEncryptDecrypt
	if o.keySpec != types.KeySpecSymmetricDefault {
		if curves[o.keySpec] == nil {
			return fmt.Errorf("--key-spec %s: this example takes SYMMETRIC_DEFAULT, ECC_NIST_P256, ECC_NIST_P384 or ECC_NIST_P521", o.keySpec)
		}
		usage = types.KeyUsageTypeKeyAgreement
	}
	cred, err := credfile.Read(o.credential)
	if err != nil {
		return err
	}

	c := kms.New(kms.Options{
		// The server's one region: its ARNs name it, and it refuses a
		// request signed for another.
		Region:       o.region,
		Credentials:  credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, ""),
		BaseEndpoint: aws.String(o.endpoint),
	})
	key, err := namedKey(ctx, c, o, usage, out)
	if err != nil {
		return err
	}
	if usage == types.KeyUsageTypeKeyAgreement {
		return agree(ctx, c, key, curves[o.keySpec], out)
	}

	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             key.KeyId,
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: map[string]string{"app": "quick-start"},
	})
	var denied smithy.APIError
	if o.policy != "" && errors.As(err, &denied) && denied.ErrorCode() == "AccessDeniedException" {
		// An attestation-bound policy: its secrets go only to a verified
		// Recipient, which this program is not.
		fmt.Fprintf(out, "data key without a Recipient: refused (AccessDeniedException), as the key's policy says\n")
		return nil
	}
	if err != nil {
		return err
	}
	// Encrypt your data with dk.Plaintext, keep dk.CiphertextBlob beside it,
	// forget dk.Plaintext. Later:
	back, err := c.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    dk.CiphertextBlob,
		EncryptionContext: map[string]string{"app": "quick-start"},
	})
	if err != nil {
		return err
	}
	if !bytes.Equal(back.Plaintext, dk.Plaintext) {
		return fmt.Errorf("the data key did not round-trip")
	}
	fmt.Fprintf(out, "data key round trip ok (%d-byte key, %d-byte ciphertext blob)\n", len(dk.Plaintext), len(dk.CiphertextBlob))
	return nil
}

// namedKey is the key --alias names, with --policy put on it, when there is
// one; else a new key, named --alias if given. AWS's CreateKey takes no alias,
// so a new key and its alias are two calls: if the alias cannot be made, the
// new key is scheduled for deletion (after the shortest window, 7 days),
// rather than left unnamed.
func namedKey(ctx context.Context, c *kms.Client, o options, usage types.KeyUsageType, out io.Writer) (*types.KeyMetadata, error) {
	if o.alias != "" {
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(o.alias)})
		var nf *types.NotFoundException
		switch {
		case errors.As(err, &nf):
			// Not yet: make it below.
		case err != nil:
			return nil, err
		case d.KeyMetadata.KeySpec != o.keySpec:
			return nil, fmt.Errorf("%s names a %s key, not %s: choose another --alias", o.alias, d.KeyMetadata.KeySpec, o.keySpec)
		default:
			if o.policy != "" {
				if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: d.KeyMetadata.KeyId, Policy: aws.String(o.policy)}); err != nil {
					return nil, err
				}
			}
			fmt.Fprintln(out, "using", *d.KeyMetadata.Arn, "named", o.alias)
			return d.KeyMetadata, nil
		}
	}
	in := &kms.CreateKeyInput{Description: aws.String("quick start"), KeySpec: o.keySpec, KeyUsage: usage}
	if o.policy != "" {
		in.Policy = aws.String(o.policy)
	}
	key, err := c.CreateKey(ctx, in)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(out, "created", *key.KeyMetadata.Arn)
	if o.alias != "" {
		if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(o.alias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
			_, derr := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)})
			return nil, errors.Join(err, derr)
		}
		fmt.Fprintln(out, "named it", o.alias)
	}
	return key.KeyMetadata, nil
}

// agree derives the shared secret of the KEY_AGREEMENT key and a fresh local
// peer key, and checks it against the peer's own ECDH with the key's public
// key.
func agree(ctx context.Context, c *kms.Client, key *types.KeyMetadata, curve ecdh.Curve, out io.Writer) error {
	pub, err := c.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: key.KeyId})
	if err != nil {
		return err
	}
	parsed, err := x509.ParsePKIXPublicKey(pub.PublicKey)
	if err != nil {
		return err
	}
	kmsPub, err := ecdhKey(parsed)
	if err != nil {
		return err
	}
	peer, err := curve.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	peerSPKI, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
	if err != nil {
		return err
	}
	ss, err := c.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{
		KeyId:                 key.KeyId,
		KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh,
		PublicKey:             peerSPKI,
	})
	if err != nil {
		return err
	}
	want, err := peer.ECDH(kmsPub)
	if err != nil {
		return err
	}
	if !bytes.Equal(ss.SharedSecret, want) {
		return errors.New("the key's shared secret differs from the peer's")
	}
	fmt.Fprintf(out, "shared secret agreed (%d bytes): DeriveSharedSecret matches a local peer's ECDH\n", len(want))
	return nil
}

// ecdhKey is an ECDSA-typed public key (what x509 parses) as an ECDH one.
func ecdhKey(k any) (*ecdh.PublicKey, error) {
	type ecdher interface {
		ECDH() (*ecdh.PublicKey, error)
	}
	e, ok := k.(ecdher)
	if !ok {
		return nil, fmt.Errorf("GetPublicKey returned a %T, not an EC key", k)
	}
	return e.ECDH()
}

// envOr is the first of the environment variables set, else def: the AWS
// SDKs' and CLI's settings, which enclavetool reads too.
func envOr(def string, names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return def
}
