package main

import (
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
)

const snpCASynopsis = `Usage: attestsim snp-ca --out DIR

Makes a test AMD SEV-SNP signing chain in DIR, standing in for AMD's: an ARK,
an ASK and a VCEK (go-sev-guest's test-only signer), with roots.pem (the ASK
then the ARK, for attestkms --snp-roots) and the keys attestsim snp signs with
(mode 0600). Reports signed with "attestsim snp --ca DIR" verify only against
roots.pem.

Examples:
  attestsim snp-ca --out snpca
  attestkms serve --snp-roots snpca/roots.pem
`

const snpSynopsis = `Usage: attestsim snp --ca DIR --public-key PEM --out FILE [flags]

Signs an AMD SEV-SNP attestation report (1184 bytes, ECDSA P-384 by the test
VCEK) whose REPORT_DATA binds the enclave key in --public-key (and --nonce,
--user-data), and writes it in an attestkms evidence envelope (docs/evidence.md)
with the VCEK, ASK and ARK certificates. Send the file as a Recipient's
attestation document.

Examples:
  attestsim snp-ca --out snpca
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out enclave.pem
  attestsim snp --ca snpca --public-key enclave.pem --out ev.cbor \
      --measurement $(printf '%096d' 1) --host-data $(printf '%064d' 2)
  attestkms verify-evidence --in ev.cbor --snp-roots snpca/roots.pem
`

func runSNPCA(args []string, e env) error {
	return runEnvelopeCA(args, e, "snp-ca", snpCASynopsis, "the test chain", "sev-snp test signing chain", "--snp-roots",
		func() (saver, error) { return snptest.NewCA() })
}

// saver is a test CA that can be written to a directory.
type saver interface{ Save(dir string) error }

// runEnvelopeCA makes a test CA with newCA and saves it in --out.
func runEnvelopeCA(args []string, e env, cmd, synopsis, outWhat, made, rootsFlag string, newCA func() (saver, error)) error {
	flags := newFlagSet(cmd, synopsis, e)
	out := flags.String("out", "", "make "+outWhat+" in this `directory` (created if need be; it must not hold one already)")
	if err := flags.parse(args); err != nil {
		return err
	}
	if *out == "" {
		return usageError("", "--out is required")
	}
	ca, err := newCA()
	if err != nil {
		return failure(err, "")
	}
	if err := ca.Save(*out); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return failure(fmt.Errorf("%s already holds a test CA", *out), "choose another --out, or remove "+*out)
		}
		return failure(err, "")
	}
	fmt.Fprintf(e.stdout, "made a %s in %s\ntrust it with: attestkms serve %s %s/roots.pem\n", made, *out, rootsFlag, *out)
	return nil
}

func runSNP(args []string, e env) error {
	flags := newFlagSet("snp", snpSynopsis, e)
	caDir := flags.String("ca", "", "sign with the test chain in this `directory` (made by attestsim snp-ca)")
	keyFile := flags.String("public-key", "", "the enclave's key, a PEM `file` (- for standard input): public key, or private key of which the public half is used")
	measurement := flags.String("measurement", "", "MEASUREMENT, 48 bytes in `hex` (default: SHA-384 of \"attestkms simulated guest\")")
	hostData := flags.String("host-data", "", "HOST_DATA, 32 bytes in `hex` (default zero)")
	policy := flags.String("policy", "", "the guest policy, a 64-bit `number` (e.g. 0x30000: SMT allowed, debug off; 0xb0000 adds debug); default 0x30000")
	vmpl := flags.Uint("vmpl", 0, "the `VMPL` that asked for the report (0 to 3)")
	userData := flags.String("user-data", "", "the envelope's user_data, `base64`, bound in REPORT_DATA")
	nonce := flags.String("nonce", "", "the envelope's nonce, `base64`, bound in REPORT_DATA")
	out := flags.String("out", "", "write the envelope to this `file` (- for stdout)")
	if err := flags.parse(args); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"--ca", *caDir}, {"--public-key", *keyFile}, {"--out", *out}} {
		if f.v == "" {
			return usageError("", "%s is required", f.name)
		}
	}
	var r snptest.Report
	var err error
	if r.Measurement, err = hexFlag("--measurement", *measurement, 48); err != nil {
		return err
	}
	if r.Measurement == nil {
		m := crypto.SHA384.New()
		m.Write([]byte("attestkms simulated guest"))
		r.Measurement = m.Sum(nil)
	}
	if r.HostData, err = hexFlag("--host-data", *hostData, 32); err != nil {
		return err
	}
	if *policy != "" {
		if r.Policy, err = strconv.ParseUint(*policy, 0, 64); err != nil {
			return usageError("for example --policy 0x30000", "--policy %q is not a number", *policy)
		}
	}
	if *vmpl > 3 {
		return usageError("", "--vmpl must be 0 to 3")
	}
	r.VMPL = uint32(*vmpl)
	if r.UserData, err = decodeBase64("--user-data", *userData); err != nil {
		return err
	}
	if r.Nonce, err = decodeBase64("--nonce", *nonce); err != nil {
		return err
	}
	der, err := enclaveKeyDER(e, *keyFile)
	if err != nil {
		return err
	}
	ca, err := snptest.LoadCA(*caDir)
	if err != nil {
		return failure(err, notFoundHint(err, "attestsim snp-ca --out "+*caDir))
	}
	b, err := ca.Evidence(der, r)
	if err != nil {
		return failure(err, "")
	}
	return writeEvidence(e, *out, b, fmt.Sprintf("a sev-snp evidence envelope of %d bytes, measurement %x", len(b), r.Measurement))
}

const tpmCASynopsis = `Usage: attestsim tpm-ca --out DIR

Makes a test TPM attestation key (AK) in DIR: a self-signed AK CA (roots.pem,
for attestkms --tpm-roots), an AK certificate, and the AK's private key (mode
0600), with which "attestsim tpm" signs quotes in pure Go, as a TPM would.

Examples:
  attestsim tpm-ca --out tpmca
  attestkms serve --tpm-roots tpmca/roots.pem
`

const tpmSynopsis = `Usage: attestsim tpm --ca DIR --public-key PEM --out FILE [--pcr N=HEX ...] [flags]

Signs a TPM 2.0 quote (TPMS_ATTEST, TPMT_SIGNATURE) over the SHA-256 PCRs
given, whose extraData binds the enclave key in --public-key (and --nonce,
--user-data), and writes it in an attestkms evidence envelope (docs/evidence.md)
with the PCR values, the AK's TPMT_PUBLIC and its certificate.

Examples:
  attestsim tpm-ca --out tpmca
  attestsim tpm --ca tpmca --public-key enclave.pem --out ev.cbor \
      --pcr 7=$(printf '%064d' 7) --pcr 0=$(printf '%064d' 0)
  attestkms verify-evidence --in ev.cbor --tpm-roots tpmca/roots.pem
`

func runTPMCA(args []string, e env) error {
	return runEnvelopeCA(args, e, "tpm-ca", tpmCASynopsis, "the AK CA", "tpm2 test AK CA", "--tpm-roots",
		func() (saver, error) { return tpmtest.NewCA() })
}

func runTPM(args []string, e env) error {
	flags := newFlagSet("tpm", tpmSynopsis, e)
	caDir := flags.String("ca", "", "sign with the test AK in this `directory` (made by attestsim tpm-ca)")
	keyFile := flags.String("public-key", "", "the enclave's key, a PEM `file` (- for standard input): public key, or private key of which the public half is used")
	pcrs := pcrFlag{}
	flags.Var(pcrs, "pcr", "quote SHA-256 PCR `N=HEX` (0 to 23; repeat the flag for each PCR); default PCR0 to PCR7 with fixed test values")
	userData := flags.String("user-data", "", "the envelope's user_data, `base64`, bound in extraData")
	nonce := flags.String("nonce", "", "the envelope's nonce, `base64`, bound in extraData")
	out := flags.String("out", "", "write the envelope to this `file` (- for stdout)")
	if err := flags.parse(args); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"--ca", *caDir}, {"--public-key", *keyFile}, {"--out", *out}} {
		if f.v == "" {
			return usageError("", "%s is required", f.name)
		}
	}
	var q tpmtest.Quote
	if len(pcrs) > 0 {
		q.PCRs = map[int][]byte{}
		for i, v := range pcrs {
			if i > 23 {
				return usageError("", "--pcr %d: TPM PCRs are 0 to 23", i)
			}
			if len(v) != 32 {
				return usageError("SHA-256 PCRs are 32 bytes, 64 hex digits", "--pcr %d is %d bytes", i, len(v))
			}
			q.PCRs[i] = v
		}
	}
	var err error
	if q.UserData, err = decodeBase64("--user-data", *userData); err != nil {
		return err
	}
	if q.Nonce, err = decodeBase64("--nonce", *nonce); err != nil {
		return err
	}
	der, err := enclaveKeyDER(e, *keyFile)
	if err != nil {
		return err
	}
	ca, err := tpmtest.LoadCA(*caDir)
	if err != nil {
		return failure(err, notFoundHint(err, "attestsim tpm-ca --out "+*caDir))
	}
	b, err := ca.Evidence(der, q)
	if err != nil {
		return failure(err, "")
	}
	return writeEvidence(e, *out, b, fmt.Sprintf("a tpm2 evidence envelope of %d bytes", len(b)))
}

// hexFlag decodes a flag of exactly n bytes in hex; "" is nil.
func hexFlag(name, v string, n int) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != n {
		return nil, usageError(fmt.Sprintf("%s is %d bytes, %d hex digits", name, n, 2*n), "%s %q is not %d bytes of hex", name, v, n)
	}
	return b, nil
}

// enclaveKeyDER reads the enclave's key and warns when attestkms will refuse it.
func enclaveKeyDER(e env, path string) ([]byte, error) {
	pub, err := readPublicKey(e, path)
	if err != nil {
		return nil, err
	}
	if d, ok := pub.(keyDigest); ok {
		return d, nil // the evidence binds the digest as it binds a key
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, failure(fmt.Errorf("%s: %w", displayPath(path), err), "")
	}
	if _, _, err := attest.ParseBoundKey(der); err != nil {
		fmt.Fprintf(e.stderr, "attestsim: warning: %s is not an RSA key of 2048 to 4096 bits or an EC P-256 key: attestkms will refuse the evidence\n", displayPath(path))
	}
	return der, nil
}

func notFoundHint(err error, make string) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "make one with: " + make
	}
	return ""
}

func writeEvidence(e env, out string, b []byte, what string) error {
	if out == "-" {
		_, err := e.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return failure(err, "")
	}
	fmt.Fprintf(e.stdout, "wrote %s: %s\n", out, what)
	return nil
}

// displayPath names a --public-key or --out argument in messages.
func displayPath(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}
