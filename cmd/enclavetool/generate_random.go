package main

import (
	"context"
	"flag"

	"github.com/attestkms/attestkms/enclave"
)

// generate-random: random bytes from attestkms, unwrapped here.
func generateRandomCommand() *command {
	var numberOfBytes int
	return &command{
		name:  "generate-random",
		calls: true,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&numberOfBytes, "number-of-bytes", 32, "how many bytes, 1-1024")
		},
		run: func(ctx context.Context, s *enclave.Session, out *output) error {
			b, err := s.GenerateRandom(ctx, numberOfBytes)
			if err != nil {
				return err
			}
			defer clear(b)
			return out.result("PLAINTEXT", b)
		},
	}
}
