package nitro

import (
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/fxamacker/cbor/v2"
)

// The payload's schema (AWS's CDDL in "Verifying the root of trust", and
// Huawei's in "QingTian Enclave attestation document"):
//
//	{
//	  "module_id":   text,              ; the issuing module: instance and enclave id
//	  "digest":      text,              ; "SHA384" (QingTian also "SHA256", "SHA512")
//	  "timestamp":   uint,              ; milliseconds since the Unix epoch, UTC
//	  "pcrs":        {+ uint => bytes}, ; index 0..31 => measurement, the digest's size
//	  "certificate": bytes,             ; DER, the leaf that signed the document
//	  "cabundle":    [+ bytes],         ; DER, root first, then intermediates down to the leaf's issuer
//	  "public_key":  bytes / null,      ; the enclave's key (QingTian: "pubkey" or "public_key")
//	  "user_data":   bytes / null,
//	  "nonce":       bytes / null,
//	}
//
// Current NSM documents encode this map with indefinite length, older ones
// (such as the two real ones in testvectors/nitro) with definite length;
// both are accepted, as are indefinite-length pcrs and cabundle. Byte and text strings must be definite-length. Any other
// key, any repeated key, any other type, any tag and anything after the map
// is refused.

// Bounds common to both formats, each with its reason.
const (
	// maxModuleID: real Nitro module ids are 39 bytes
	// ("i-0e4fe5de7ee5abe78-enc018d3cadd7d66279"); Huawei's QTSM library
	// keeps them under 128 (QTSM_MODULE_ID_MAX_SIZE).
	maxModuleID = 128
	// maxPCRs: the NSM and the QTSM both have 32 PCRs, indices 0 to 31
	// (QTSM_MAX_PCR_COUNT); real Nitro documents carry 16.
	maxPCRs     = 32
	maxPCRIndex = maxPCRs - 1
	// maxNesting: the schema's deepest item, a PCR or a certificate, is at
	// depth 3 (payload map, pcrs map or cabundle array, byte string); 4 is
	// the CBOR decoder's smallest setting.
	maxNesting = 4
	// maxArrayElements bounds cabundle while decoding, before its
	// format's own bound applies; 16 is the decoder's smallest setting.
	maxArrayElements = 16
	// maxMapPairs bounds pcrs (and the payload map, 9 keys) while decoding.
	maxMapPairs = maxPCRs
	// maxDigestName: the digest names we know are 6 bytes ("SHA384").
	maxDigestName = 16
)

// Nitro's bounds.
const (
	// nitroMaxCABundle: real ones carry 4 (root, regional, zonal,
	// instance); twice that leaves room for a longer real chain and still
	// bounds the chain building.
	nitroMaxCABundle = 8
	// nitroMaxCert: AWS's schema says 1..1024 bytes; real certificates are
	// 533 to 793 bytes. Twice the schema's bound, so that a slightly longer
	// real certificate is not refused, and an attacker's stays small.
	nitroMaxCert = 2048
	// nitroMaxData: the NSM API bounds user_data and nonce (and
	// public_key, which enclaveKey judges by its bits) to 1024 bytes each;
	// real documents with 1024 of each exist.
	nitroMaxData = 1024
)

// profile is one format's rules: what it may contain and how big.
type profile struct {
	format      attest.Format
	suites      []*suite // the signing suites it may use
	maxCABundle int
	maxCert     int
	maxUserData int
	maxNonce    int
	// certSigAlgs, when not nil, are the only certificate signature
	// algorithms its PKI uses: anything else in a chain is refused before
	// the chain is built.
	certSigAlgs []x509.SignatureAlgorithm
	// checkKeyFields enforces the names the enclave key may have.
	checkKeyFields func(*document) error
	// nitroTPM: AWS NitroTPM documents (nitrotpm.go) are admitted too;
	// tpmOnly: nothing else is.
	nitroTPM, tpmOnly bool
}

var nitroProfile = profile{
	format:         attest.FormatNitro,
	suites:         []*suite{es384},
	maxCABundle:    nitroMaxCABundle,
	maxCert:        nitroMaxCert,
	maxUserData:    nitroMaxData,
	maxNonce:       nitroMaxData,
	certSigAlgs:    []x509.SignatureAlgorithm{x509.ECDSAWithSHA384}, // AWS's PKI is P-384 throughout
	checkKeyFields: nitroKeyFields,
	nitroTPM:       true, // same PKI, same root: AWS KMS accepts both
}

// nitroKeyFields: Nitro documents call the key public_key, nothing else.
func nitroKeyFields(d *document) error {
	if d.hasPubkey {
		return fmt.Errorf("%w: unknown field \"pubkey\" (Nitro documents name the key \"public_key\")", attest.ErrMalformed)
	}
	return nil
}

// check applies the format's own rules to a document whose syntax and
// bounds parseDocument has checked.
func (p *profile) check(d *document) error {
	switch {
	case d.nitroTPM && !p.nitroTPM:
		return fmt.Errorf("%w: a NitroTPM document (nitrotpm_pcrs), which %s verifiers do not take", attest.ErrMalformed, p.format)
	case !d.nitroTPM && p.tpmOnly:
		return fmt.Errorf("%w: nitrotpm_pcrs is missing: not a NitroTPM document", attest.ErrMalformed)
	}
	if !slices.Contains(p.suites, d.suite) {
		return fmt.Errorf("%w: %s documents are not signed with %s (digest %s)", attest.ErrMalformed, p.format, d.suite.name, d.suite.digest)
	}
	return p.checkKeyFields(d)
}

// document is an attestation document's payload, parsed and bounded but NOT
// verified: nothing in it may be believed before the chain and the
// signature are checked.
type document struct {
	suite       *suite // named by "digest"
	moduleID    string
	time        time.Time // "timestamp"
	pcrs        map[int][]byte
	certificate []byte
	cabundle    [][]byte

	publicKey []byte // nil when absent or null
	userData  []byte // nil when absent or null
	nonce     []byte // nil when absent or null

	hasPublicKey bool // the key "public_key" is present (maybe null)
	hasPubkey    bool // the key "pubkey" is present (maybe null)

	// A NitroTPM document (nitrotpm.go): pcrs is nil, tpmPCRs its 24
	// registers.
	nitroTPM bool
	tpmPCRs  map[int][]byte
}

// payloadKeys are the keys a payload may have. "pubkey" is QingTian's name
// for public_key, as Huawei documents it; the format decides (profile.check).
var payloadKeys = []string{"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle", "public_key", "pubkey", "user_data", "nonce", "nitrotpm_pcrs"}

var payloadDecoder = mustDecMode(cbor.DecOptions{
	DupMapKey:          cbor.DupMapKeyEnforcedAPF,
	MaxNestedLevels:    maxNesting,
	MaxArrayElements:   maxArrayElements,
	MaxMapPairs:        maxMapPairs,
	IndefLength:        cbor.IndefLengthAllowed, // the NSM's payload map; strings are checked below
	TagsMd:             cbor.TagsForbidden,
	UTF8:               cbor.UTF8RejectInvalid,
	ByteStringToString: cbor.ByteStringToStringForbidden,
	IntDec:             cbor.IntDecConvertNone,
})

func mustDecMode(o cbor.DecOptions) cbor.DecMode {
	dm, err := o.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}

// rawItem is one CBOR item of the payload as the decoder found it, well
// formed and within the decoder's bounds: a sub-slice of the payload, where
// cbor.RawMessage would be a copy.
//
// The document borrows every byte string from the payload in the same way
// (byteContents), so a document, and the claims made of it, share the
// payload's memory instead of holding a copy of each field (the payload was
// copied three times over). That is sound because the payload is the
// verifier's own copy of the evidence's (cose.go), written by nothing after
// it is decoded; each borrowed slice is capped at its own end, so that an
// append to one reallocates instead of writing over the next field.
type rawItem []byte

// UnmarshalCBOR keeps data, the decoder's sub-slice of its input, capped.
func (r *rawItem) UnmarshalCBOR(data []byte) error {
	*r = data[:len(data):len(data)]
	return nil
}

// parseDocument decodes a payload strictly and applies the bounds of p.
// The document's byte strings are sub-slices of payload (see rawItem).
func parseDocument(payload []byte, p *profile) (*document, error) {
	if len(payload) == 0 || payload[0]>>5 != cborMap {
		return nil, fmt.Errorf("%w: payload is not a CBOR map", attest.ErrMalformed)
	}
	// Each value stays encoded until its own decoder below checks its type.
	var raw map[string]rawItem
	if err := payloadDecoder.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", attest.ErrMalformed, err)
	}
	for k := range raw {
		if !slices.Contains(payloadKeys, k) {
			return nil, fmt.Errorf("%w: payload has an unknown field %.40q", attest.ErrMalformed, k)
		}
	}
	d := &document{hasPublicKey: raw["public_key"] != nil, hasPubkey: raw["pubkey"] != nil}
	var err error
	if d.moduleID, err = text("module_id", raw["module_id"], maxModuleID); err != nil {
		return nil, err
	}
	if d.moduleID == "" {
		return nil, fmt.Errorf("%w: module_id is empty", attest.ErrMalformed)
	}
	digest, err := text("digest", raw["digest"], maxDigestName)
	if err != nil {
		return nil, err
	}
	for _, s := range suites {
		if digest == s.digest {
			d.suite = s
		}
	}
	if d.suite == nil {
		return nil, fmt.Errorf("%w: digest %q is not SHA256, SHA384 or SHA512", attest.ErrMalformed, digest)
	}
	if d.time, err = timestamp(raw["timestamp"]); err != nil {
		return nil, err
	}
	if raw["nitrotpm_pcrs"] != nil {
		// The field chooses the NitroTPM schema, nothing more: whether
		// this verifier takes NitroTPM documents profile.check says, after
		// the chain, so that another PKI's document is an untrusted chain.
		d.nitroTPM = true
		if err := parseNitroTPM(d, raw); err != nil {
			return nil, err
		}
	} else if d.pcrs, err = pcrs(raw["pcrs"], d.suite); err != nil {
		return nil, err
	}
	if d.certificate, err = certificate("certificate", raw["certificate"], p.maxCert); err != nil {
		return nil, err
	}
	if d.cabundle, err = cabundle(raw["cabundle"], p); err != nil {
		return nil, err
	}
	// The key's size is judged with the key, after the signature: an
	// oversized key (RSA-8192, say) is an unacceptable key, see enclaveKey.
	if d.publicKey, err = optionalBytes("public_key", raw["public_key"], attest.MaxEvidence); err != nil {
		return nil, err
	}
	if d.hasPubkey {
		pk, err := optionalBytes("pubkey", raw["pubkey"], attest.MaxEvidence)
		if err != nil {
			return nil, err
		}
		if !d.hasPublicKey {
			d.publicKey = pk
		}
	}
	if d.userData, err = optionalBytes("user_data", raw["user_data"], p.maxUserData); err != nil {
		return nil, err
	}
	if d.nonce, err = optionalBytes("nonce", raw["nonce"], p.maxNonce); err != nil {
		return nil, err
	}
	return d, nil
}

// CBOR major types.
const (
	cborUint  = 0
	cborBytes = 2
	cborText  = 3
	cborArray = 4
	cborMap   = 5
	cborNull  = 0xf6
	cborIndef = 31 // additional information of an indefinite-length item
)

// kind checks the major type of a present value, and that a string is not
// indefinite-length.
func kind(name string, raw []byte, major byte, what string) error {
	if raw == nil {
		return fmt.Errorf("%w: %s is missing", attest.ErrMalformed, name)
	}
	if raw[0]>>5 != major {
		return fmt.Errorf("%w: %s is not %s", attest.ErrMalformed, name, what)
	}
	if (major == cborBytes || major == cborText) && raw[0]&0x1f == cborIndef {
		return fmt.Errorf("%w: %s is an indefinite-length string", attest.ErrMalformed, name)
	}
	return nil
}

func text(name string, raw rawItem, max int) (string, error) {
	if err := kind(name, raw, cborText, "a text string"); err != nil {
		return "", err
	}
	var s string
	if err := payloadDecoder.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s: %v", attest.ErrMalformed, name, err)
	}
	if len(s) > max {
		return "", fmt.Errorf("%w: %s is %d bytes, more than %d", attest.ErrMalformed, name, len(s), max)
	}
	return s, nil
}

func bytesOf(name string, raw rawItem, max int) ([]byte, error) {
	if err := kind(name, raw, cborBytes, "a byte string"); err != nil {
		return nil, err
	}
	b, ok := byteContents(raw)
	if !ok { // unreachable: the decoder read raw as one item, kind its type
		return nil, fmt.Errorf("%w: %s: malformed byte string", attest.ErrMalformed, name)
	}
	if len(b) > max {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", attest.ErrMalformed, name, len(b), max)
	}
	return b, nil
}

// byteContents returns the contents of raw, one definite-length byte
// string, well formed as the decoder read it: what follows its head, whose
// length must be exactly what is left (false otherwise). It copies nothing.
func byteContents(raw []byte) ([]byte, bool) {
	n, head, ok := byteStringHead(raw)
	if !ok || uint64(len(raw)-head) != n {
		return nil, false
	}
	return raw[head:], true
}

// byteStringHead reads the head of a definite-length byte string at the
// start of b: its length and the head's size (false for another type, a
// reserved or indefinite length, or a truncated head). The one reader of
// a byte string's head here (byteContents, cose.go's cutByteString).
func byteStringHead(b []byte) (n uint64, head int, ok bool) {
	if len(b) == 0 || b[0]>>5 != cborBytes {
		return 0, 0, false
	}
	switch ai := b[0] & 0x1f; {
	case ai < 24:
		return uint64(ai), 1, true
	case ai == 24 && len(b) >= 2:
		return uint64(b[1]), 2, true
	case ai == 25 && len(b) >= 3:
		return uint64(binary.BigEndian.Uint16(b[1:])), 3, true
	case ai == 26 && len(b) >= 5:
		return uint64(binary.BigEndian.Uint32(b[1:])), 5, true
	case ai == 27 && len(b) >= 9:
		return binary.BigEndian.Uint64(b[1:]), 9, true
	}
	return 0, 0, false // reserved, indefinite or truncated
}

// certificate decodes a DER certificate's byte string; x509 parses it
// later, and only if it is part of the chain.
func certificate(name string, raw rawItem, max int) ([]byte, error) {
	b, err := bytesOf(name, raw, max)
	if err == nil && len(b) == 0 {
		err = fmt.Errorf("%w: %s is empty", attest.ErrMalformed, name)
	}
	return b, err
}

// optionalBytes decodes a field that may be absent or null (then nil).
func optionalBytes(name string, raw rawItem, max int) ([]byte, error) {
	if raw == nil || (len(raw) == 1 && raw[0] == cborNull) {
		return nil, nil
	}
	if err := kind(name, raw, cborBytes, "a byte string or null"); err != nil {
		return nil, err
	}
	b, err := bytesOf(name, raw, max)
	if b == nil && err == nil {
		b = []byte{} // present but empty: not the same as null
	}
	return b, err
}

func timestamp(raw rawItem) (time.Time, error) {
	if err := kind("timestamp", raw, cborUint, "an unsigned integer"); err != nil {
		return time.Time{}, err
	}
	var ms uint64
	if err := payloadDecoder.Unmarshal(raw, &ms); err != nil {
		return time.Time{}, fmt.Errorf("%w: timestamp: %v", attest.ErrMalformed, err)
	}
	if ms == 0 || ms > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("%w: timestamp %d is out of range", attest.ErrMalformed, ms)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

func pcrs(raw rawItem, s *suite) (map[int][]byte, error) {
	if err := kind("pcrs", raw, cborMap, "a map"); err != nil {
		return nil, err
	}
	var m map[uint64]rawItem
	if err := payloadDecoder.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: pcrs: %v", attest.ErrMalformed, err)
	}
	switch {
	case len(m) == 0:
		return nil, fmt.Errorf("%w: pcrs is empty", attest.ErrMalformed)
	case len(m) > maxPCRs:
		return nil, fmt.Errorf("%w: %d pcrs, more than %d", attest.ErrMalformed, len(m), maxPCRs)
	}
	out := make(map[int][]byte, len(m))
	for i, v := range m {
		if i > maxPCRIndex {
			return nil, fmt.Errorf("%w: pcr index %d is more than %d", attest.ErrMalformed, i, maxPCRIndex)
		}
		name := pcrNames[i]
		b, err := bytesOf(name, v, s.pcrLen)
		if err != nil {
			return nil, err
		}
		if len(b) != s.pcrLen {
			return nil, fmt.Errorf("%w: %s is %d bytes; %s PCRs are %d", attest.ErrMalformed, name, len(b), s.digest, s.pcrLen)
		}
		out[int(i)] = b
	}
	return out, nil
}

func cabundle(raw rawItem, p *profile) ([][]byte, error) {
	if err := kind("cabundle", raw, cborArray, "an array"); err != nil {
		return nil, err
	}
	var a []rawItem
	if err := payloadDecoder.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("%w: cabundle: %v", attest.ErrMalformed, err)
	}
	switch {
	case len(a) == 0:
		return nil, fmt.Errorf("%w: cabundle is empty", attest.ErrMalformed)
	case len(a) > p.maxCABundle:
		return nil, fmt.Errorf("%w: cabundle has %d certificates, more than %d", attest.ErrMalformed, len(a), p.maxCABundle)
	}
	out := make([][]byte, len(a))
	for i, v := range a {
		b, err := certificate(cabundleNames[i], v, p.maxCert)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// The names of the elements of pcrs, cabundle and nitrotpm_pcrs, for
// messages, made once: each index is below its bound when it is named.
var (
	pcrNames      = elementNames("pcrs", maxPCRs)
	cabundleNames = elementNames("cabundle", max(nitroMaxCABundle, qingtianMaxCABundle))
	tpmPCRNames   = elementNames("nitrotpm_pcrs", nitroTPMPCRs)
)

func elementNames(field string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s[%d]", field, i)
	}
	return names
}
