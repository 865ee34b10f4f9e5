package main

import (
	"crypto/sha512"
	"time"

	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

// simAttestor signs documents with attestsim's test CA, in the NSM's shape,
// for tests and CI without Nitro hardware. Its documents verify only against
// that CA's root (attestkms serve --nitro-roots DIR/root.pem).
type simAttestor struct {
	ca   *nitrotest.CA
	pcrs map[int][]byte
}

// defaultSimPCR0 makes a simulated enclave a production one (PCR0 not zero):
// attestkms refuses debug enclaves unless told otherwise.
var defaultSimPCR0 = sha512.Sum384([]byte("attestkms simulated enclave"))

func newSimAttestor(dir string, pcrs map[int][]byte) (*simAttestor, error) {
	ca, err := nitrotest.LoadTestCA(dir, nil)
	if err != nil {
		return nil, err
	}
	all := map[int][]byte{}
	for i := 0; i < 16; i++ {
		all[i] = make([]byte, 48)
	}
	all[0] = defaultSimPCR0[:]
	for i, v := range pcrs {
		all[i] = v
	}
	return &simAttestor{ca: ca, pcrs: all}, nil
}

func (s *simAttestor) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	return s.ca.Sign(nitrotest.Document{
		Timestamp: time.Now(), PCRs: s.pcrs, PublicKey: publicKeyDER, Nonce: nonce, UserData: userData,
	})
}
