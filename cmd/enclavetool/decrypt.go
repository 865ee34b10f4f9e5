package main

import (
	"context"
	"encoding/base64"
	"flag"
	"os"
	"strings"

	"github.com/attestkms/attestkms/enclave"
)

// decrypt: a ciphertext blob decrypted by attestkms, the plaintext unwrapped
// here.
func decryptCommand() *command {
	var keyID, ciphertext string
	var ec contextFlags
	var blob []byte
	return &command{
		name:  "decrypt",
		calls: true,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&keyID, "key-id", "", "the KMS key the ciphertext must be under (optional)")
			fs.StringVar(&ciphertext, "ciphertext", "", "the ciphertext blob, base64 (or @FILE for raw bytes)")
			fs.Var(&ec, "encryption-context", "a `KEY=VALUE` pair of the encryption context (repeatable)")
		},
		check: func() (err error) {
			blob, err = readBlob(ciphertext)
			return err
		},
		run: func(ctx context.Context, s *enclave.Session, out *output) error {
			pt, err := s.Decrypt(ctx, blob, keyID, ec.m)
			if err != nil {
				return err
			}
			defer clear(pt)
			return out.result("PLAINTEXT", pt)
		},
	}
}

// readBlob reads --ciphertext: base64, or @FILE for raw bytes.
func readBlob(s string) ([]byte, error) {
	if s == "" {
		return nil, usageError("--ciphertext is required")
	}
	if strings.HasPrefix(s, "@") {
		return os.ReadFile(s[1:])
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, usageError("--ciphertext is not base64 (use @FILE for raw bytes)")
	}
	return b, nil
}
