package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// keepCiphertexts saves each CiphertextForRecipient in dir as OP-N.ber, in a
// new 0600 file (N the first number not taken, so that earlier runs' files
// stay), and says on stderr when one cannot be saved.
func keepCiphertexts(dir string, stderr io.Writer) func(op string, cfr []byte) {
	return func(op string, cfr []byte) {
		for n := 1; n <= 1000; n++ {
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%s-%d.ber", op, n)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			if err == nil {
				_, err = f.Write(cfr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintf(stderr, "enclavetool: warning: --keep-ciphertext: %v\n", err)
			}
			return
		}
		fmt.Fprintf(stderr, "enclavetool: warning: --keep-ciphertext: %s holds %s-1.ber to %s-1000.ber already\n", dir, op, op)
	}
}
