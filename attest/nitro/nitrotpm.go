package nitro

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"regexp"

	"github.com/attestkms/attestkms/attest"
)

// AWS NitroTPM attestation documents (what nitro-tpm-attest returns on an EC2
// instance with NitroTPM: the TPM forwards an NSM attestation request to the
// Nitro hypervisor, which signs the answer) are Nitro documents with another
// payload: the same COSE_Sign1 ES384 envelope, the same AWS Nitro PKI and
// root, the same freshness, but
//
//	{
//	  "module_id":     text,               ; "i-<instance>-tpm<16 hex>"
//	  "digest":        "SHA384",
//	  "timestamp":     uint,
//	  "nitrotpm_pcrs": {24 uint => bytes},  ; index 0..23, every one, 48 bytes each
//	  "certificate":   bytes,
//	  "cabundle":      [+ bytes],
//	  "public_key":    bytes / null,        ; any key: real deployments bind EC P-256
//	  "user_data":     bytes / null,
//	  "nonce":         bytes / null,
//	}
//
// with no "pcrs" (a document with both is refused: which registers would a
// policy mean?). The key "nitrotpm_pcrs" chooses this schema before
// verification; it chooses only the schema, which is then as strict as the
// enclave one, and the signature covers it.
//
// Debug. AWS documents no debug mode for NitroTPM: the instance's memory is
// its owner's, not its host's, and the registers measure what booted (PCR16,
// "debug", is a register like the others, for the OS to extend). So a
// NitroTPM document is never Claims.Debug and --allow-debug-enclaves changes
// nothing for it; what a register's value means is the key policy's business.
//
// The key. A NitroTPM document may bind a key secrets cannot be wrapped to
// (an EC P-256 key for HPKE, or none): it is still genuine, so its claims are
// returned with PublicKey nil and Claims.KeyUnusable saying why, and the key
// service refuses it as a Recipient with that reason.

const (
	// nitroTPMPCRs: NitroTPM documents carry the SHA-384 bank, all 24.
	nitroTPMPCRs = 24
	// nitroTPMPCRLen: SHA-384.
	nitroTPMPCRLen = 48
)

// nitroTPMModuleID is the shape of a NitroTPM module id: the instance id,
// then "-tpm" and the module's hex id (nitro-tpm-attest's documents say
// "i-0123456789abcdef0-tpm0123456789abcdef"). Enclave ids say "-enc".
var nitroTPMModuleID = regexp.MustCompile(`^i-[0-9a-f]{8,32}-tpm[0-9a-f]{1,32}$`)

// nitroTPMProfile verifies NitroTPM documents only (Options.Format
// attest.FormatNitroTPM); nitroProfile verifies them as well as enclave ones.
var nitroTPMProfile = profile{
	format:         attest.FormatNitroTPM,
	suites:         []*suite{es384},
	maxCABundle:    nitroMaxCABundle,
	maxCert:        nitroMaxCert,
	maxUserData:    nitroMaxData,
	maxNonce:       nitroMaxData,
	certSigAlgs:    []x509.SignatureAlgorithm{x509.ECDSAWithSHA384},
	checkKeyFields: nitroKeyFields,
	nitroTPM:       true,
	tpmOnly:        true,
}

// parseNitroTPM fills d from a NitroTPM payload's own fields; the common
// ones are parseDocument's.
func parseNitroTPM(d *document, raw *fields) error {
	if raw[keyPCRs] != nil {
		return fmt.Errorf("%w: both \"pcrs\" and \"nitrotpm_pcrs\" are present; a NitroTPM document carries nitrotpm_pcrs only", attest.ErrMalformed)
	}
	if !nitroTPMModuleID.MatchString(d.moduleID) {
		return fmt.Errorf("%w: module_id %.64q is not a NitroTPM module id (i-<instance>-tpm<hex>)", attest.ErrMalformed, d.moduleID)
	}
	if d.suite != es384 {
		return fmt.Errorf("%w: NitroTPM documents are SHA384, not %s", attest.ErrMalformed, d.suite.digest)
	}
	p, err := tpmPCRs(raw[keyNitroTPMPCRs])
	if err != nil {
		return err
	}
	d.tpmPCRs = p
	return nil
}

// tpmPCRs decodes nitrotpm_pcrs: exactly the registers 0..23, 48 bytes each.
func tpmPCRs(raw rawItem) (map[int][]byte, error) {
	var regs [maxMapPairs]register
	n, err := registers("nitrotpm_pcrs", raw, &regs)
	if err != nil {
		return nil, err
	}
	out := make(map[int][]byte, n)
	for _, r := range regs[:n] {
		if r.index >= nitroTPMPCRs {
			return nil, fmt.Errorf("%w: nitrotpm_pcrs index %d is more than %d", attest.ErrMalformed, r.index, nitroTPMPCRs-1)
		}
		name := tpmPCRNames[r.index]
		b, err := bytesOf(name, r.value, nitroTPMPCRLen)
		if err != nil {
			return nil, err
		}
		if len(b) != nitroTPMPCRLen {
			return nil, fmt.Errorf("%w: %s is %d bytes; NitroTPM registers are SHA-384, %d", attest.ErrMalformed, name, len(b), nitroTPMPCRLen)
		}
		out[int(r.index)] = b
	}
	if len(out) != nitroTPMPCRs {
		for i := range nitroTPMPCRs {
			if _, ok := out[i]; !ok {
				return nil, fmt.Errorf("%w: nitrotpm_pcrs has %d registers, not %d: register %d is missing", attest.ErrMalformed, len(out), nitroTPMPCRs, i)
			}
		}
	}
	return out, nil
}

// nitroTPMKey judges a NitroTPM document's key as a Recipient's: the RSA
// key, or why there is none.
func nitroTPMKey(d *document) (key *rsa.PublicKey, typ string, why error) {
	if d.publicKey == nil {
		return nil, "none", fmt.Errorf("%w: the document carries no public_key", attest.ErrKey)
	}
	return attest.ParseBoundKey(d.publicKey)
}

// nitroTPMClaims are the claims of a NitroTPM document that verified. It is
// never Debug (see above); its key may be unusable, and then says why.
func nitroTPMClaims(d *document) *attest.Claims {
	key, typ, why := nitroTPMKey(d)
	return &attest.Claims{
		Format:       attest.FormatNitroTPM,
		Time:         d.time,
		PublicKey:    key,
		PublicKeyDER: d.publicKey,
		KeyType:      typ,
		KeyUnusable:  why,
		UserData:     d.userData,
		Nonce:        d.nonce,
		ModuleID:     d.moduleID,
		Digest:       d.suite.digest,
		NitroTPMPCRs: d.tpmPCRs,
	}
}
