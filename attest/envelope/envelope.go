// Package envelope is attestkms's evidence envelope: the CBOR map that
// carries AMD SEV-SNP reports, TPM 2.0 quotes and Intel TDX quotes with the enclave's public
// key, nonce and user data (docs/evidence.md is its schema). What it holds
// is unverified, every byte of it chosen by whoever sent it: Decode checks
// its shape and bounds only, and an Envelope is never claims. Only the
// verifier of its format (attest/snp, attest/tpm, attest/tdx) turns one into
// attest.Claims, after checking that the report or quote inside is genuine
// and binds the envelope (Binding).
package envelope

import (
	"crypto"
	"encoding/binary"
	"fmt"

	"github.com/attestkms/attestkms/attest"
	"github.com/fxamacker/cbor/v2"
)

// An Envelope is attestkms's container for evidence that has no standard
// "document with a public key": AMD SEV-SNP reports and TPM 2.0 quotes. It
// is a CBOR map with text keys; docs/evidence.md gives its exact schema.
// The envelope itself is not signed: what makes it evidence is that the
// report or quote inside binds PublicKey, Nonce and UserData (see Binding),
// and that the verifier of its format checks that.
type Envelope struct {
	Format    attest.Format `cbor:"format"`
	PublicKey []byte        `cbor:"public_key"`
	Nonce     []byte        `cbor:"nonce,omitempty"`
	UserData  []byte        `cbor:"user_data,omitempty"`

	// sev-snp: the 1184-byte ATTESTATION_REPORT, the certificate of the
	// key that signed it (VCEK or VLEK, DER), and optionally the AMD
	// signing and root keys' certificates (which prove nothing: the
	// verifier's roots are what it trusts).
	Report []byte `cbor:"report,omitempty"`
	VCEK   []byte `cbor:"vcek,omitempty"`
	VLEK   []byte `cbor:"vlek,omitempty"`
	ASK    []byte `cbor:"ask,omitempty"`
	ARK    []byte `cbor:"ark,omitempty"`

	// tpm2: the quote (TPMS_ATTEST) and its TPMT_SIGNATURE as the TPM
	// returned them, the quoted PCRs' values (index -> digest, of the
	// quote's bank), and the attestation key: its TPMT_PUBLIC and/or its
	// certificate (DER) with the intermediates up to a root.
	Quote     []byte         `cbor:"quote,omitempty"`
	Signature []byte         `cbor:"signature,omitempty"`
	PCRs      map[int][]byte `cbor:"pcrs,omitempty"`
	AKPublic  []byte         `cbor:"ak_public,omitempty"`
	AKCert    []byte         `cbor:"ak_cert,omitempty"`
	AKChain   [][]byte       `cbor:"ak_chain,omitempty"`

	// tdx: the quote (version 4, as configfs-tsm or /dev/tdx_guest return
	// it) is Quote above; Collateral is Intel's collateral for it, optional
	// (the server holds its own), as Intel's PCS serves it.
	Collateral *TDXCollateral `cbor:"collateral,omitempty"`
}

// TDXCollateral is Intel's signed collateral for a TDX quote, as an enclave
// may get it from its host's caching service: unverified until attest/tdx
// has checked every signature in it to its roots. TCBInfo and QEIdentity are
// the JSON bodies PCS returns (tcb?fmspc=..., qe/identity), TCBSigningCert
// the DER "Intel SGX TCB Signing" certificate that signed both (the first
// certificate of PCS's issuer-chain headers; the second is the root, which
// the server holds); PCKCRL and RootCRL are DER CRLs, optional (the
// server's are used when absent).
type TDXCollateral struct {
	TCBInfo        []byte `cbor:"tcb_info"`
	QEIdentity     []byte `cbor:"qe_identity"`
	TCBSigningCert []byte `cbor:"tcb_signing_cert"`
	PCKCRL         []byte `cbor:"pck_crl,omitempty"`
	RootCRL        []byte `cbor:"root_crl,omitempty"`
}

// Bounds of an envelope's fields, checked by Decode. The whole envelope is
// first bounded by attest.MaxEvidence.
const (
	MaxKey     = 1024 // public_key: an RSA-4096 SubjectPublicKeyInfo is 550 bytes
	MaxData    = 1024 // nonce, user_data
	MaxReport  = 1184 // report: exactly this, checked by the sev-snp verifier
	MaxCert    = 4096 // each certificate
	MaxChain   = 4    // ak_chain's certificates
	MaxTPMBlob = 1024 // quote, signature, ak_public
	MaxPCRs    = 24   // pcrs' entries, indices 0 to 23
	MaxDigest  = 64   // each PCR value (SHA-512)
	// MaxTDXQuote bounds a tdx quote: a version 4 quote is 632 bytes of
	// header and TD report, the signatures, the QE report and a PEM PCK
	// chain of three certificates (real ones are about 5,000 bytes).
	MaxTDXQuote = 8192
	// MaxCollateralJSON bounds collateral's tcb_info and qe_identity:
	// Intel's TCB Info for a platform with many TCB levels runs to a few KB
	// (the whole envelope is bounded by attest.MaxEvidence in any case).
	MaxCollateralJSON = 12 << 10
	MaxCRL            = 8192 // pck_crl, root_crl
)

var envelopeDecoder = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:          cbor.DupMapKeyEnforcedAPF,
		IndefLength:        cbor.IndefLengthForbidden,
		TagsMd:             cbor.TagsForbidden,
		UTF8:               cbor.UTF8RejectInvalid,
		ByteStringToString: cbor.ByteStringToStringForbidden,
		FieldNameMatching:  cbor.FieldNameMatchingCaseSensitive,
		ExtraReturnErrors:  cbor.ExtraDecErrorUnknownField,
		IntDec:             cbor.IntDecConvertNone,
		MaxNestedLevels:    4,
		MaxArrayElements:   16, // the library's least; ak_chain is checked against MaxChain
		MaxMapPairs:        32,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

var envelopeEncoder = func() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// fieldsOf lists, per format, the fields its envelope may have beside
// format, public_key, nonce and user_data; any other field present is an
// error, as an unknown field is.
var fieldsOf = map[attest.Format][]string{
	attest.FormatSEVSNP: {"report", "vcek", "vlek", "ask", "ark"},
	attest.FormatTPM2:   {"quote", "signature", "pcrs", "ak_public", "ak_cert", "ak_chain"},
	attest.FormatTDX:    {"quote", "collateral"},
}

// Decode decodes an envelope strictly: a definite-length CBOR map with text
// keys, no unknown, duplicate or mistyped field, no field of another format,
// no tag, no trailing byte, every length within the bounds above and every
// required field of its format present. It checks the shape only; the
// format's verifier judges the contents, and until it has, they are
// unverified. Errors wrap attest.ErrMalformed.
func Decode(evidence []byte) (*Envelope, error) {
	if len(evidence) > attest.MaxEvidence {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", attest.ErrMalformed, len(evidence), attest.MaxEvidence)
	}
	var e Envelope
	if err := envelopeDecoder.Unmarshal(evidence, &e); err != nil {
		return nil, fmt.Errorf("%w: evidence envelope: %v", attest.ErrMalformed, err)
	}
	if err := e.Check(); err != nil {
		return nil, err
	}
	return &e, nil
}

// Marshal encodes the envelope (core deterministic CBOR), checking it as
// Decode would.
func (e *Envelope) Marshal() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("evidence envelope: %v", err)
	}
	return envelopeEncoder.Marshal(e)
}

// Check checks a hand-made envelope as Decode checks a decoded one (every
// bound, the format's required fields, no field of another format),
// wrapping attest.ErrMalformed. Verifiers call it first, so that they rely
// on the same shape whether an envelope was decoded or built (as their
// tests build hostile ones), and Binding's lengths always fit their two
// bytes.
func (e *Envelope) Check() error {
	if e == nil {
		return fmt.Errorf("%w: no evidence envelope", attest.ErrMalformed)
	}
	if err := e.check(); err != nil {
		return fmt.Errorf("%w: evidence envelope: %v", attest.ErrMalformed, err)
	}
	return nil
}

func (e *Envelope) check() error {
	allowed, ok := fieldsOf[e.Format]
	if !ok {
		return fmt.Errorf("format %q is not %q, %q or %q", e.Format, attest.FormatSEVSNP, attest.FormatTPM2, attest.FormatTDX)
	}
	type field struct {
		name     string
		v        []byte
		min, max int
	}
	fields := []field{
		{"public_key", e.PublicKey, 1, MaxKey},
		{"nonce", e.Nonce, 0, MaxData},
		{"user_data", e.UserData, 0, MaxData},
		{"report", e.Report, 0, MaxReport + 1}, // the verifier names a wrong size exactly
		{"vcek", e.VCEK, 0, MaxCert},
		{"vlek", e.VLEK, 0, MaxCert},
		{"ask", e.ASK, 0, MaxCert},
		{"ark", e.ARK, 0, MaxCert},
		{"quote", e.Quote, 0, quoteMax(e.Format)},
		{"signature", e.Signature, 0, MaxTPMBlob},
		{"ak_public", e.AKPublic, 0, MaxTPMBlob},
		{"ak_cert", e.AKCert, 0, MaxCert},
	}
	present := map[string]bool{"pcrs": e.PCRs != nil, "ak_chain": e.AKChain != nil, "collateral": e.Collateral != nil}
	for _, f := range fields {
		if f.v == nil {
			if f.min > 0 {
				return fmt.Errorf("no %s", f.name)
			}
			continue
		}
		present[f.name] = true
		// A present field is never empty: absent and empty must not mean
		// two things to two readers.
		if len(f.v) == 0 || len(f.v) > f.max {
			return fmt.Errorf("%s is %d bytes; want 1 to %d", f.name, len(f.v), f.max)
		}
	}
	for name, ok := range present {
		if ok && !contains(allowed, name) && !contains([]string{"public_key", "nonce", "user_data"}, name) {
			return fmt.Errorf("%s is not a field of %s evidence", name, e.Format)
		}
	}
	switch e.Format {
	case attest.FormatSEVSNP:
		if e.Report == nil {
			return fmt.Errorf("sev-snp evidence without a report")
		}
		if (e.VCEK == nil) == (e.VLEK == nil) {
			return fmt.Errorf("sev-snp evidence needs exactly one of vcek and vlek")
		}
	case attest.FormatTDX:
		if e.Quote == nil {
			return fmt.Errorf("tdx evidence without a quote")
		}
		if c := e.Collateral; c != nil {
			for _, f := range []field{
				{"collateral tcb_info", c.TCBInfo, 1, MaxCollateralJSON},
				{"collateral qe_identity", c.QEIdentity, 1, MaxCollateralJSON},
				{"collateral tcb_signing_cert", c.TCBSigningCert, 1, MaxCert},
				{"collateral pck_crl", c.PCKCRL, 0, MaxCRL},
				{"collateral root_crl", c.RootCRL, 0, MaxCRL},
			} {
				if f.v == nil && f.min == 0 {
					continue
				}
				if len(f.v) == 0 || len(f.v) > f.max {
					return fmt.Errorf("%s is %d bytes; want 1 to %d", f.name, len(f.v), f.max)
				}
			}
		}
	case attest.FormatTPM2:
		switch {
		case e.Quote == nil || e.Signature == nil:
			return fmt.Errorf("tpm2 evidence needs quote and signature")
		case len(e.PCRs) == 0:
			return fmt.Errorf("tpm2 evidence without pcrs")
		case len(e.PCRs) > MaxPCRs:
			return fmt.Errorf("%d pcrs; at most %d", len(e.PCRs), MaxPCRs)
		case e.AKPublic == nil && e.AKCert == nil:
			return fmt.Errorf("tpm2 evidence needs ak_public or ak_cert")
		case e.AKChain != nil && e.AKCert == nil:
			return fmt.Errorf("ak_chain without ak_cert")
		case e.AKChain != nil && (len(e.AKChain) == 0 || len(e.AKChain) > MaxChain):
			return fmt.Errorf("ak_chain has %d certificates; want 1 to %d", len(e.AKChain), MaxChain)
		}
		for i, d := range e.PCRs {
			if i < 0 || i >= MaxPCRs {
				return fmt.Errorf("pcr index %d; want 0 to %d", i, MaxPCRs-1)
			}
			if len(d) == 0 || len(d) > MaxDigest {
				return fmt.Errorf("pcr %d is %d bytes; want 1 to %d", i, len(d), MaxDigest)
			}
		}
		for i, c := range e.AKChain {
			if len(c) == 0 || len(c) > MaxCert {
				return fmt.Errorf("ak_chain[%d] is %d bytes; want 1 to %d", i, len(c), MaxCert)
			}
		}
	}
	return nil
}

// quoteMax is the bound of a quote of format f: a TDX quote carries its
// certificate chain, a TPM quote does not.
func quoteMax(f attest.Format) int {
	if f == attest.FormatTDX {
		return MaxTDXQuote
	}
	return MaxTPMBlob
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Binding is what the report or quote must carry to bind this envelope's
// key, nonce and user data: h (SHA-512 for sev-snp's REPORT_DATA, SHA-256
// for tpm2's extraData) of public_key, followed, for each of nonce and
// user_data that is present, by a tag byte (1 nonce, 2 user_data), its
// length as two big-endian bytes and its bytes. Without nonce and user_data
// that is h(public_key). The encoding is unambiguous because public_key is
// one DER value, whose own header says where it ends (Decode's caller
// refuses trailing bytes after the key), and every later part is tagged and
// length-prefixed. The lengths fit two bytes only in an envelope that passed
// Check (nonce and user_data are at most MaxData): call Binding on no other.
func (e *Envelope) Binding(h crypto.Hash) []byte {
	w := h.New()
	w.Write(e.PublicKey)
	for _, part := range []struct {
		tag byte
		v   []byte
	}{{1, e.Nonce}, {2, e.UserData}} {
		if part.v == nil {
			continue
		}
		var hdr [3]byte
		hdr[0] = part.tag
		binary.BigEndian.PutUint16(hdr[1:], uint16(len(part.v)))
		w.Write(hdr[:])
		w.Write(part.v)
	}
	return w.Sum(nil)
}
