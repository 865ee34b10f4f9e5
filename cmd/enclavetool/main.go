// Command enclavetool is the enclave side of attestkms, like AWS's
// kmstool-enclave-cli: it makes an ephemeral key (RSA, or with --key-type an
// EC P-256 or ML-KEM-768+X25519 key for HPKE), gets an attestation
// document for it (the Nitro /dev/nsm device, an SEV-SNP guest's report, a
// TPM quote, attestsim's test CAs, or a program of the user's: --attestor
// exec:PROGRAM), asks
// attestkms for a secret with that document as the Recipient, unwraps the
// answer, and prints the secret or writes it to a 0600 file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/attestkms/attestkms/enclave"
	"github.com/attestkms/attestkms/internal/version"
)

const usage = `enclavetool: get secrets from attestkms inside an attested enclave

Usage:
  enclavetool generate-data-key      --key-id ID [--key-spec AES_256 | --number-of-bytes N]
  enclavetool decrypt                --ciphertext B64 [--key-id ID]
  enclavetool generate-random        --number-of-bytes N
  enclavetool derive-shared-secret   --key-id ID --public-key PEER.pem
  enclavetool generate-data-key-pair --key-id ID --key-pair-spec ECC_NIST_P256
  enclavetool attest                 [--out doc.cbor]          just the attestation document

Every command takes the connection and attestation flags (see "enclavetool
COMMAND --help"): --endpoint (a URL; in an enclave vsock://CID:PORT or
vsock+https://CID:PORT?name=HOST, docs/vsock.md), --region, --credential,
--ca-bundle, --attestor
nitro|snp|tdx|tpm|nitrotpm|sim|sim-snp|sim-tdx|sim-tpm|sim-nitrotpm|exec:PROGRAM,
--sim-ca DIR, --service-key PEM|FINGERPRINT. As with the AWS CLI, the environment sets
what no flag does: AWS_ENDPOINT_URL_KMS or AWS_ENDPOINT_URL, AWS_REGION or
AWS_DEFAULT_REGION, AWS_CA_BUNDLE, and AWS_ACCESS_KEY_ID with
AWS_SECRET_ACCESS_KEY.

The key: --key-type rsa (the default: RSAES_OAEP_SHA_256, CMS as AWS KMS
returns it), p256 (HPKE_P256_SHA256_AES256GCM) or mlkem768x25519
(HPKE_MLKEM768X25519_SHA256_AES256GCM, post-quantum; the evidence binds the
key's SHA-256 and the request carries the key). An HPKE answer opens only for
the request it answers (operation, key, this document); see docs/hpke.md. RSA
stays the default because it is what AWS KMS speaks. No key type stops a host
that substitutes an answer of its own: --service-key does, whatever the type
(pin attestkms's answer-signing key, "attestkms service-key", built into the
measured image; every answer must then be signed by it over this request, or
it is refused: docs/answers.md). An HPKE key costs well under a millisecond
to make, RSA-2048 tens of ms.

In an Intel TDX guest, --attestor tdx gets a quote through configfs-tsm, else
/dev/tdx_guest; --attestor sim-tdx runs "attestsim tdx" (--sim-measurement is
the MRTD, --sim-pcr N=HEX sets RTMR N, 0 to 3).

The simulated attestors (sim, sim-snp, sim-tdx, sim-tpm, sim-nitrotpm) run
attestsim, which signs with its test CA in --sim-ca: enclavetool looks for it
at $ATTESTKMS_ATTESTSIM, then next to itself (go build -o bin/ ./cmd/... puts it there), then on PATH,
and gives it the public key and the --sim-* options, nothing secret.

In a TEE with no attestor here (a Huawei QingTian enclave, whose QTSM is
reached through libqtsm), --attestor exec:PROGRAM runs a program of yours
that asks the device: the public key to bind on its standard input (DER,
or with --key-type mlkem768x25519 the key's 32-byte SHA-256), a fresh
ATTESTKMS_NONCE to bind and ATTESTKMS_USER_DATA (hex) in its environment, the
document on its standard output; "enclavetool COMMAND --help" and
docs/vsock.md give the contract.

Output lines are NAME: base64 (PLAINTEXT, CIPHERTEXT, SHARED_SECRET, ...), as
kmstool-enclave-cli prints them; --out FILE writes the secret's raw bytes to a
new 0600 file instead. Exit status: 0 success, 1 failure, 2 usage.
"enclavetool --version" prints the build (module version, VCS revision).

Example (simulated enclave, see the README):
  enclavetool generate-data-key --attestor sim --sim-ca ca \
      --credential attestkms-data/admin-credential.json --key-id alias/app
`

type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }

func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, ok := commands[args[0]]; {
	case ok:
		err = runCommand(cmd(), args[1:], stdout, stderr)
	case args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help":
		fmt.Fprint(stdout, usage)
		return 0
	case version.IsFlag(args[0]):
		fmt.Fprintln(stdout, version.String("enclavetool"))
		return 0
	default:
		err = usageError("unknown command %q", args[0])
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "enclavetool: error: %s\n", strings.TrimSuffix(err.Error(), "."))
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.hint != "" {
			fmt.Fprintf(stderr, "enclavetool: hint: %s\n", ee.hint)
		}
		if ee.code == 2 {
			fmt.Fprintln(stderr, `enclavetool: hint: run "enclavetool --help" for usage`)
		}
		return ee.code
	}
	if h := hintFor(err); h != "" {
		fmt.Fprintf(stderr, "enclavetool: hint: %s\n", h)
	}
	return 1
}

// hintFor guesses a fix for an attestkms refusal.
func hintFor(err error) string {
	if errors.Is(err, exec.ErrNotFound) {
		return "--attestor exec:PROGRAM runs PROGRAM itself if it has a slash (give its path), else the one on PATH"
	}
	var ae *enclave.APIError
	if !errors.As(err, &ae) {
		return ""
	}
	switch {
	case strings.Contains(ae.Message, "debug mode"):
		return "a simulated enclave with all-zero PCRs is a debug enclave: give --sim-pcr 0=HEX, or start attestkms with --allow-debug-enclaves"
	case strings.Contains(ae.Message, "untrusted certificate chain"):
		return "start attestkms with --nitro-roots pointing at the CA's root.pem (attestsim nitro-ca writes it)"
	case ae.Type == "InvalidSignatureException":
		return "check the credential (--credential, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) and the clock"
	case ae.Type == "AccessDeniedException":
		return "the key policy does not allow this enclave: compare its PCRs (enclavetool attest [the same --attestor flags] | attestkms verify-evidence --in -) with the policy's conditions"
	}
	return ""
}
