// Command awssdk is the README's quick start: it drives a running attestkms
// with the official AWS SDK for Go v2, unchanged — creates a key, gets a data
// key, and decrypts its ciphertext back.
//
//	go run ./cmd/attestkms serve &
//	go run ./examples/awssdk [--alias alias/app]   # reads ./attestkms-data/admin-credential.json
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/attestkms/attestkms/internal/credfile"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:8080", "attestkms's `URL`")
	credFile := flag.String("credential", "attestkms-data/admin-credential.json", "the credential `file` attestkms wrote")
	alias := flag.String("alias", "", "also name the new key with this `alias` (alias/NAME)")
	region := flag.String("region", "us-east-1", "the server's `region` (attestkms serve --region)")
	flag.Parse()
	if err := run(context.Background(), *endpoint, *region, *credFile, *alias, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "awssdk: error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, endpoint, region, credFile, alias string, out io.Writer) error {
	cred, err := credfile.Read(credFile)
	if err != nil {
		return err
	}

	c := kms.New(kms.Options{
		// The server's one region: its ARNs name it, and it refuses a
		// request signed for another.
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
	})
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("quick start")})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "created", *key.KeyMetadata.Arn)
	if alias != "" {
		if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
			return err
		}
		fmt.Fprintln(out, "named it", alias)
	}

	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             key.KeyMetadata.KeyId,
		KeySpec:           types.DataKeySpecAes256,
		EncryptionContext: map[string]string{"app": "quick-start"},
	})
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
