package main

import (
	"context"
	"encoding/pem"
	"flag"
	"fmt"
	"os"

	"github.com/attestkms/attestkms/enclave"
)

// derive-shared-secret: the ECDH secret of a KEY_AGREEMENT key and a peer's
// public key, unwrapped here.
func deriveSharedSecretCommand() *command {
	var keyID, publicKey string
	var peer []byte
	return &command{
		name:  "derive-shared-secret",
		calls: true,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&keyID, "key-id", "", "the KMS KEY_AGREEMENT key")
			fs.StringVar(&publicKey, "public-key", "", "the peer's public key `file` (PEM or DER SubjectPublicKeyInfo)")
		},
		check: func() (err error) {
			if keyID == "" || publicKey == "" {
				return usageError("--key-id and --public-key are required")
			}
			peer, err = readSPKI(publicKey)
			return err
		},
		run: func(ctx context.Context, s *enclave.Session, out *output) error {
			secret, err := s.DeriveSharedSecret(ctx, keyID, peer)
			if err != nil {
				return err
			}
			defer clear(secret)
			return out.result("SHARED_SECRET", secret)
		},
	}
}

// readSPKI reads a PEM or DER SubjectPublicKeyInfo, as DER; attestkms
// parses it.
func readSPKI(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%s: a %q PEM block, want PUBLIC KEY (SubjectPublicKeyInfo)", path, blk.Type)
		}
		return blk.Bytes, nil
	}
	return b, nil
}
