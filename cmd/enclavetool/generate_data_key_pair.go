package main

import (
	"context"
	"flag"

	"github.com/attestkms/attestkms/enclave"
)

// generate-data-key-pair: a key pair whose private key is unwrapped here,
// with its public key and the private key's ciphertext blob.
func generateDataKeyPairCommand() *command {
	var keyID, keyPairSpec string
	var ec contextFlags
	return &command{
		name:  "generate-data-key-pair",
		calls: true,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&keyID, "key-id", "", "the KMS key that encrypts the private key")
			fs.StringVar(&keyPairSpec, "key-pair-spec", "ECC_NIST_P256", "RSA_2048, RSA_3072, RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521 or ECC_SECG_P256K1")
			fs.Var(&ec, "encryption-context", "a `KEY=VALUE` pair of the encryption context (repeatable)")
		},
		check: func() error {
			if keyID == "" {
				return usageError("--key-id is required")
			}
			return nil
		},
		run: func(ctx context.Context, s *enclave.Session, out *output) error {
			kp, err := s.GenerateDataKeyPair(ctx, keyID, keyPairSpec, ec.m)
			if err != nil {
				return err
			}
			defer clear(kp.PrivateKey)
			out.print("PUBLIC_KEY", kp.PublicKey)
			out.print("PRIVATE_KEY_CIPHERTEXT", kp.PrivateKeyCiphertextBlob)
			return out.result("PRIVATE_KEY", kp.PrivateKey)
		},
	}
}
