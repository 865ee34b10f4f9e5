package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/recipient"
)

const verifyEvidenceUsage = `Usage: attestkms verify-evidence --in FILE [--at RFC3339] [--nitro-roots PEM]
         [--qingtian-roots PEM] [--snp-roots PEM] [--tpm-roots PEM]
         [--tdx-roots PEM] [--tdx-collateral DIR] ...

Runs the server's own verification on attestation evidence — an AWS Nitro
Enclaves, AWS NitroTPM or Huawei Qingtian COSE_Sign1, or an evidence envelope with an AMD SEV-SNP report,
a TPM 2.0 quote or an Intel TDX quote (docs/evidence.md), raw or base64 — and prints its claims as
JSON, or says precisely why it is refused. Use it when attestkms refuses a
Recipient.

The input is the raw document, its base64, or what "enclavetool attest" prints
(a "DOCUMENT: base64" line): --in - reads it from a pipe.

--at verifies at another instant: certificates and freshness (--attestation-max-age)
are judged at that time, so archived documents can be checked. A debug-mode
document's (or SEV-SNP debug guest's) claims are printed, with a warning: the
server refuses it unless started with --allow-debug-enclaves. Every document
says in "recipient_key" what key it binds ("type"), whether the server takes
that key for a Recipient, and with which KeyEncryptionAlgorithm
("algorithms"); a NitroTPM document verifies whatever its public_key (exit 0:
it is genuine), the others only with a usable key: an RSA key of 2048 to 4096 bits
(RSAES_OAEP_SHA_256), an EC P-256 key (HPKE_P256_SHA256_AES256GCM) or the
SHA-256 of an ML-KEM-768+X25519 key (HPKE_MLKEM768X25519_SHA256_AES256GCM,
see docs/hpke.md) is usable, any other is refused.

Exit status: 0 verified; 1 refused (the reason on stderr); 2 usage; 3 the input
or a roots file cannot be read.

Examples:
  attestkms verify-evidence --in doc.cbor
  attestkms verify-evidence --in doc.cbor --nitro-roots ca/root.pem
  enclavetool attest --attestor sim --sim-ca ca | attestkms verify-evidence --in - --nitro-roots ca/root.pem
  attestkms verify-evidence --in old.cose --at 2024-01-24T18:14:26Z
  attestkms verify-evidence --in ev.cbor --snp-roots snpca/roots.pem
  attestkms verify-evidence --in ev.cbor --tpm-roots tpmca/roots.pem
  attestkms verify-evidence --in td.cbor --tdx-collateral /etc/attestkms/tdx-collateral
`

// claimsJSON is what verify-evidence prints.
type claimsJSON struct {
	Format          string            `json:"format"`
	ModuleID        string            `json:"module_id,omitempty"`
	Timestamp       time.Time         `json:"timestamp,omitzero"`
	Digest          string            `json:"digest,omitempty"`
	PCRs            map[string]string `json:"pcrs,omitempty"`
	ImageSha384     string            `json:"image_sha384,omitempty"`
	PublicKeySHA256 string            `json:"public_key_sha256"`
	PublicKeyBits   int               `json:"public_key_bits"`
	UserData        *string           `json:"user_data"` // base64
	Nonce           *string           `json:"nonce"`     // base64
	Debug           bool              `json:"debug"`
	SNP             *snpJSON          `json:"sev_snp,omitempty"`
	TPM             *tpmJSON          `json:"tpm2,omitempty"`
	TDX             *tdxJSON          `json:"tdx,omitempty"`
	// NitroTPM documents: their 24 registers, and whether a secret can be
	// wrapped to their key (real ones bind EC P-256 keys: genuine, but
	// never a Recipient).
	NitroTPMPCRs map[string]string `json:"nitrotpm_pcrs,omitempty"`
	RecipientKey *recipientKeyJSON `json:"recipient_key,omitempty"`
}

type recipientKeyJSON struct {
	Type   string `json:"type"`
	Usable bool   `json:"usable"`
	// Algorithms are the KeyEncryptionAlgorithms a Recipient with this
	// document may name (docs/hpke.md): none when it is not usable.
	Algorithms []string `json:"algorithms,omitempty"`
	Why        string   `json:"why,omitempty"`
}

// recipientAlgorithms is the KeyEncryptionAlgorithm a bound key of type
// typ (attest.ParseBoundKey's) can receive a secret with.
func recipientAlgorithms(typ string) []string {
	switch {
	case typ == "EC P-256":
		return []string{recipient.AlgHPKEP256}
	case typ == attest.KeyTypeDigest:
		return []string{recipient.AlgHPKEMLKEM768X25519}
	case strings.HasPrefix(typ, "RSA-"):
		return []string{recipient.KeyEncryptionAlgorithm}
	}
	return nil
}

type snpJSON struct {
	Measurement string `json:"measurement"`
	HostData    string `json:"host_data"`
	ReportID    string `json:"report_id"`
	Policy      string `json:"policy"` // hex, as AMD's documents write it
	VMPL        uint32 `json:"vmpl"`
	ReportedTCB string `json:"reported_tcb"`
	ChipID      string `json:"chip_id"`
	Signer      string `json:"signer"`
	Product     string `json:"product,omitempty"`
}

type tpmJSON struct {
	Bank         string            `json:"bank"`
	PCRs         map[string]string `json:"pcrs"`
	Clock        uint64            `json:"clock"`
	ResetCount   uint32            `json:"reset_count"`
	RestartCount uint32            `json:"restart_count"`
}

func toClaimsJSON(c *attest.Claims) claimsJSON {
	fp := sha256.Sum256(c.PublicKeyDER)
	out := claimsJSON{
		Format: string(c.Format), ModuleID: c.ModuleID, Timestamp: c.Time.UTC(), Digest: c.Digest,
		PublicKeySHA256: hex.EncodeToString(fp[:]), Debug: c.Debug,
	}
	if c.PublicKey != nil {
		out.PublicKeyBits = c.PublicKey.N.BitLen()
	}
	if c.PublicKeyDER == nil {
		out.PublicKeySHA256 = "" // no key: not the SHA-256 of nothing
	}
	if c.Format == attest.FormatNitroTPM {
		out.NitroTPMPCRs = map[string]string{}
		for i, v := range c.NitroTPMPCRs {
			out.NitroTPMPCRs[strconv.Itoa(i)] = hex.EncodeToString(v)
		}
	}
	// Every format's bound key: its type, and the algorithms a Recipient
	// with this document may name (a Nitro Enclave or TDX document may bind
	// a P-256 key or an ML-KEM key's digest as well as an RSA key).
	if c.Format == attest.FormatNitroTPM || c.KeyType != "" || c.KeyUnusable != nil {
		out.RecipientKey = &recipientKeyJSON{Type: c.KeyType, Usable: c.KeyUnusable == nil}
		if c.KeyUnusable == nil {
			out.RecipientKey.Algorithms = recipientAlgorithms(c.KeyType)
		} else {
			out.RecipientKey.Why = c.KeyUnusable.Error() + "; so this document is never a Recipient"
		}
	}
	if len(c.PCRs) > 0 {
		out.PCRs = map[string]string{}
		for i, v := range c.PCRs {
			out.PCRs[strconv.Itoa(i)] = hex.EncodeToString(v)
		}
	}
	out.ImageSha384 = c.Measurements()[attest.AttestationPrefix+"ImageSha384"]
	if s := c.SNP; s != nil {
		out.SNP = &snpJSON{
			Measurement: hex.EncodeToString(s.Measurement), HostData: hex.EncodeToString(s.HostData),
			ReportID: hex.EncodeToString(s.ReportID), Policy: fmt.Sprintf("%#x", s.Policy), VMPL: s.VMPL,
			ReportedTCB: fmt.Sprintf("%#016x", s.ReportedTCB), ChipID: hex.EncodeToString(s.ChipID),
			Signer: s.Signer, Product: s.Product,
		}
	}
	if t := c.TPM; t != nil {
		out.TPM = &tpmJSON{Bank: t.Bank, PCRs: map[string]string{}, Clock: t.Clock, ResetCount: t.ResetCount, RestartCount: t.RestartCount}
		for i, v := range t.PCRs {
			out.TPM.PCRs[strconv.Itoa(i)] = hex.EncodeToString(v)
		}
	}
	b64 := func(b []byte) *string {
		if b == nil {
			return nil
		}
		s := base64.StdEncoding.EncodeToString(b)
		return &s
	}
	out.UserData, out.Nonce = b64(c.UserData), b64(c.Nonce)
	out.TDX = toTDXJSON(c.TDX)
	return out
}

// readError marks failures to read inputs (exit 3).
func readError(err error) error { return &exitError{code: 3, err: err} }

func runVerifyEvidence(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify-evidence", verifyEvidenceUsage, stdout, stderr)
	in := fs.String("in", "", "the document `file` (- for standard input): raw, base64, or enclavetool attest's DOCUMENT: line")
	at := fs.String("at", "", "verify at this `instant` (RFC 3339) instead of now")
	var ev evidenceFlags
	ev.register(fs)
	ev.allowDebug = true // show a debug guest's claims, with the warning below
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *in == "" {
		return usageError("--in is required")
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339Nano, *at)
		if err != nil {
			return usageError("--at %q is not an RFC 3339 time, e.g. 2024-01-24T18:14:26Z", *at)
		}
		now = t
	}
	doc, err := readEvidence(*in)
	if err != nil {
		return readError(err)
	}
	set, err := ev.verifiers()
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if err != nil {
		return readError(err)
	}
	claims, err := set.Verify(doc, now)
	if err != nil {
		return withHint(fmt.Errorf("evidence refused: %w", err), evidenceHint(err, ev))
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(toClaimsJSON(claims)); err != nil {
		return err
	}
	if claims.KeyUnusable != nil {
		fmt.Fprintf(stderr, "attestkms: warning: the evidence is genuine, but its public_key (%s) cannot receive a secret: the server refuses it as a Recipient\n", claims.KeyType)
	}
	if claims.Debug {
		fmt.Fprintln(stderr, "attestkms: warning: the evidence comes from a debug-mode enclave or guest, whose memory is open to its host: the server refuses it unless started with --allow-debug-enclaves")
	}
	return nil
}

// maxEvidenceInput bounds what verify-evidence reads: the largest evidence
// the server takes, base64-encoded with room for line breaks.
const maxEvidenceInput = 4 * attest.MaxEvidence

// readEvidence reads a document, raw or base64 (as it often appears in logs),
// or the "DOCUMENT: base64" line enclavetool attest prints, so that
// "enclavetool attest | attestkms verify-evidence --in -" works.
func readEvidence(path string) ([]byte, error) {
	r := io.Reader(os.Stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxEvidenceInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxEvidenceInput {
		return nil, fmt.Errorf("%s: more than %d bytes, larger than any evidence the server takes", path, maxEvidenceInput)
	}
	if attest.Sniff(b) == "" {
		text := bytes.TrimSpace(b)
		if rest, ok := bytes.CutPrefix(text, []byte("DOCUMENT:")); ok {
			text = bytes.TrimSpace(rest)
		}
		if d, err := base64.StdEncoding.DecodeString(string(text)); err == nil {
			return d, nil
		}
	}
	return b, nil
}

func evidenceHint(err error, ev evidenceFlags) string {
	switch {
	case errors.Is(err, attest.ErrExpired):
		return "an archived document verifies at its own time: pass --at with its timestamp"
	case errors.Is(err, attest.ErrChain) && ev.nitroRoots == "" && ev.qingtianRoots == "" && ev.snpRoots == "" && ev.tpmRoots == "" && ev.tdx.roots == "":
		return "simulated evidence chains to attestsim's roots: pass --nitro-roots DIR/root.pem (or --qingtian-roots, --snp-roots DIR/roots.pem, --tpm-roots DIR/roots.pem, --tdx-roots DIR/roots.pem)"
	case errors.Is(err, attest.ErrChain):
		return "the evidence does not chain to the roots given; check --nitro-roots / --qingtian-roots / --snp-roots / --tpm-roots / --tdx-roots"
	case errors.Is(err, attest.ErrNoVerifier) && ev.tpmRoots == "":
		return "TPM quotes are verified only with --tpm-roots (the AK's CA, or its pinned public key)"
	case errors.Is(err, attest.ErrPolicy) && ev.tdx.collateral == "" && strings.Contains(err.Error(), "no TCB Info"):
		return "TDX quotes are judged with Intel's collateral: pass --tdx-collateral DIR (docs/evidence.md), or carry it in the envelope"
	}
	return ""
}
