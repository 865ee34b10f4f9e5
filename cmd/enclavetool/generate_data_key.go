package main

import (
	"context"
	"flag"

	"github.com/attestkms/attestkms/enclave"
)

// generate-data-key: a data key under --key-id, the plaintext unwrapped here
// and the ciphertext blob to store.
func generateDataKeyCommand() *command {
	var keyID, keySpec string
	var numberOfBytes int
	var ec contextFlags
	return &command{
		name:  "generate-data-key",
		calls: true,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&keyID, "key-id", "", "the KMS key: id, ARN, alias/NAME or alias ARN")
			fs.StringVar(&keySpec, "key-spec", "", "AES_256 or AES_128 (default AES_256 unless --number-of-bytes)")
			fs.IntVar(&numberOfBytes, "number-of-bytes", 0, "data key length, 1-1024")
			fs.Var(&ec, "encryption-context", "a `KEY=VALUE` pair of the encryption context (repeatable)")
		},
		check: func() error {
			if keyID == "" {
				return usageError("--key-id is required")
			}
			if keySpec == "" && numberOfBytes == 0 {
				keySpec = "AES_256"
			}
			return nil
		},
		run: func(ctx context.Context, s *enclave.Session, out *output) error {
			dk, err := s.GenerateDataKey(ctx, keyID, keySpec, numberOfBytes, ec.m)
			if err != nil {
				return err
			}
			defer clear(dk.Plaintext)
			out.print("CIPHERTEXT", dk.CiphertextBlob)
			return out.result("PLAINTEXT", dk.Plaintext)
		},
	}
}
