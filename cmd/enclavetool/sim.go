package main

import (
	"crypto/sha512"
	"encoding/hex"
	"time"

	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
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

// simSNPAttestor signs SEV-SNP reports with attestsim snp-ca's test chain;
// they verify only against its roots (attestkms serve --snp-roots
// DIR/roots.pem).
type simSNPAttestor struct {
	ca          *snptest.CA
	measurement []byte
}

func newSimSNPAttestor(dir, measurement string) (*simSNPAttestor, error) {
	ca, err := snptest.LoadCA(dir)
	if err != nil {
		return nil, err
	}
	a := &simSNPAttestor{ca: ca}
	if measurement != "" {
		m, err := hex.DecodeString(measurement)
		if err != nil || len(m) != 48 {
			return nil, usageError("--sim-measurement must be 48 bytes of hex")
		}
		a.measurement = m
	} else {
		m := sha512.Sum384([]byte("attestkms simulated guest"))
		a.measurement = m[:]
	}
	return a, nil
}

func (a *simSNPAttestor) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	return a.ca.Evidence(publicKeyDER, snptest.Report{Measurement: a.measurement, Nonce: nonce, UserData: userData})
}

// simTPMAttestor signs TPM quotes with attestsim tpm-ca's test AK; they
// verify only against its CA (attestkms serve --tpm-roots DIR/roots.pem).
type simTPMAttestor struct {
	ca   *tpmtest.CA
	pcrs map[int][]byte
}

func newSimTPMAttestor(dir string, pcrs map[int][]byte) (*simTPMAttestor, error) {
	ca, err := tpmtest.LoadCA(dir)
	if err != nil {
		return nil, err
	}
	for i, v := range pcrs {
		if i > 23 || len(v) != 32 {
			return nil, usageError("--sim-pcr %d: with sim-tpm, PCRs are 0 to 23 and SHA-256 (32 bytes)", i)
		}
	}
	return &simTPMAttestor{ca: ca, pcrs: pcrs}, nil
}

func (a *simTPMAttestor) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	return a.ca.Evidence(publicKeyDER, tpmtest.Quote{PCRs: a.pcrs, Nonce: nonce, UserData: userData})
}
