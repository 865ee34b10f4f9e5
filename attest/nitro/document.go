package nitro

import (
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

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
//
// parseDocument reads the payload by hand and keeps the decisions of the
// fxamacker/cbor decoding it replaced, its leniencies included, so that no
// document read before is refused now: heads need not be minimal (one key
// encoded two ways is still repeated), a key may be an indefinite-length
// text string of definite chunks, and a PCR's index may be a simple value
// (its number) or null or undefined (0, as the decoder left the integer).
// Only the signer's documents verify; these are no way around a check.

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
	case !d.nitroTPM && !hasPCR0(d.pcrs):
		// Every enclave's document carries PCR0, its image's measurement
		// (all zero in debug mode). One without it measures nothing, and a
		// key policy's …IfExists on the image (beside Format) would hold
		// for it: refused in every mode, --allow-debug-enclaves too.
		return fmt.Errorf("%w: the attestation document has no PCR0, the enclave image's measurement, which every %s document carries", attest.ErrMalformed, p.format)
	}
	if !slices.Contains(p.suites, d.suite) {
		return fmt.Errorf("%w: %s documents are not signed with %s (digest %s)", attest.ErrMalformed, p.format, d.suite.name, d.suite.digest)
	}
	return p.checkKeyFields(d)
}

func hasPCR0(pcrs map[int][]byte) bool {
	_, ok := pcrs[0]
	return ok
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

// The keys a payload may have, each with its place in fields. "pubkey" is
// QingTian's name for public_key, as Huawei documents it; the format
// decides (profile.check).
const (
	keyModuleID = iota
	keyDigest
	keyTimestamp
	keyPCRs
	keyCertificate
	keyCABundle
	keyPublicKey
	keyPubkey
	keyUserData
	keyNonce
	keyNitroTPMPCRs
	numKeys
)

var payloadKeys = [numKeys]string{"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle", "public_key", "pubkey", "user_data", "nonce", "nitrotpm_pcrs"}

// payloadDecoder's options are the payload's CBOR rules. parseDocument
// uses its Wellformed only, which is the whole check its Unmarshal makes
// before decoding: nesting, element and pair counts, indefinite lengths
// (allowed: the NSM's payload map), tags, reserved heads and simple values,
// nothing after the map. What Unmarshal checked while decoding (UTF-8, each
// key's type, duplicate keys) the readers below check themselves. The
// Unmarshal-based reference (document_reflect_test.go) decodes with a copy
// of these options, so that a change to them is a difference it finds.
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

// rawItem is one CBOR item of the payload, well formed and within
// payloadDecoder's bounds: a sub-slice of the payload, capped at the item's
// end; nil for a key that is absent.
//
// The document borrows every byte string from the payload in the same way
// (byteContents), so a document, and the claims made of it, share the
// payload's memory instead of holding a copy of each field (the payload was
// copied three times over). That is sound because the payload is the
// verifier's own copy of the evidence's (cose.go), written by nothing after
// it is decoded; each borrowed slice is capped at its own end, so that an
// append to one reallocates instead of writing over the next field.
type rawItem []byte

// fields are a payload's values by key (payloadKeys).
type fields [numKeys]rawItem

// parseDocument decodes a payload strictly and applies the bounds of p.
// The document's byte strings are sub-slices of payload (see rawItem).
//
// It reads the payload by hand, after one well-formedness check, and
// decides as fxamacker/cbor's Unmarshal into map[string]rawItem, then into
// each field's type, did (FuzzParseDocumentFast holds it to that version,
// kept in document_reflect_test.go): the same documents, the same refusals.
// The payload is anyone's bytes until the signature verifies: every read is
// bounds-checked, no declared length or count sizes an allocation, the
// recursion is bounded by maxNesting, and the work is linear in the
// payload's size: an item is read by Wellformed, once for each container
// above it and once by its own reader.
func parseDocument(payload []byte, p *profile) (*document, error) {
	if len(payload) == 0 || payload[0]>>5 != cborMap {
		return nil, fmt.Errorf("%w: payload is not a CBOR map", attest.ErrMalformed)
	}
	// From here on every item is complete and within the bounds: the
	// readers below still check each head they read, and never index past
	// what they checked, but cannot meet a truncated or over-deep item.
	if err := payloadDecoder.Wellformed(payload); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", attest.ErrMalformed, err)
	}
	// Each value stays encoded until its own reader below checks its type.
	var raw fields
	if err := decodeFields(payload, &raw); err != nil {
		return nil, err
	}
	d := &document{hasPublicKey: raw[keyPublicKey] != nil, hasPubkey: raw[keyPubkey] != nil}
	moduleID, err := text("module_id", raw[keyModuleID], maxModuleID)
	if err != nil {
		return nil, err
	}
	if len(moduleID) == 0 {
		return nil, fmt.Errorf("%w: module_id is empty", attest.ErrMalformed)
	}
	d.moduleID = string(moduleID)
	digest, err := text("digest", raw[keyDigest], maxDigestName)
	if err != nil {
		return nil, err
	}
	for _, s := range suites {
		if string(digest) == s.digest {
			d.suite = s
		}
	}
	if d.suite == nil {
		return nil, fmt.Errorf("%w: digest %q is not SHA256, SHA384 or SHA512", attest.ErrMalformed, digest)
	}
	if d.time, err = timestamp(raw[keyTimestamp]); err != nil {
		return nil, err
	}
	if raw[keyNitroTPMPCRs] != nil {
		// The field chooses the NitroTPM schema, nothing more: whether
		// this verifier takes NitroTPM documents profile.check says, after
		// the chain, so that another PKI's document is an untrusted chain.
		d.nitroTPM = true
		if err := parseNitroTPM(d, &raw); err != nil {
			return nil, err
		}
	} else if d.pcrs, err = pcrs(raw[keyPCRs], d.suite); err != nil {
		return nil, err
	}
	if d.certificate, err = certificate("certificate", raw[keyCertificate], p.maxCert); err != nil {
		return nil, err
	}
	if d.cabundle, err = cabundle(raw[keyCABundle], p); err != nil {
		return nil, err
	}
	// The key's size is judged with the key, after the signature: an
	// oversized key (RSA-8192, say) is an unacceptable key, see enclaveKey.
	if d.publicKey, err = optionalBytes("public_key", raw[keyPublicKey], attest.MaxEvidence); err != nil {
		return nil, err
	}
	if d.hasPubkey {
		pk, err := optionalBytes("pubkey", raw[keyPubkey], attest.MaxEvidence)
		if err != nil {
			return nil, err
		}
		if !d.hasPublicKey {
			d.publicKey = pk
		}
	}
	if d.userData, err = optionalBytes("user_data", raw[keyUserData], p.maxUserData); err != nil {
		return nil, err
	}
	if d.nonce, err = optionalBytes("nonce", raw[keyNonce], p.maxNonce); err != nil {
		return nil, err
	}
	return d, nil
}

// decodeFields reads the payload map's pairs into f, deciding as Unmarshal
// into map[string]rawItem did: each key is decoded into a Go string (a text
// string, definite or in definite chunks, each chunk valid UTF-8; null and
// undefined leave the string empty; any other type is refused), one key
// decoded twice is a duplicate however each is encoded, and then any key
// but payloadKeys is refused. Unmarshal stopped at the first duplicate, and
// named it whatever key it had refused before: so does decodeFields, an
// unknown key's included. No map, no copy: a known key's value is its
// sub-slice of payload.
func decodeFields(payload []byte, f *fields) error {
	m, ok := openSeq(payload, 0)
	if !ok {
		return errNotWellFormed("payload")
	}
	var keyErr error
	unknown := -1 // the offset of the first unknown key
	for m.next() {
		keyAt := m.off
		k, ok1 := m.item()
		v, ok2 := m.item()
		if !ok1 || !ok2 {
			return errNotWellFormed("payload")
		}
		i, err := keyIndex(k)
		switch {
		case err != nil:
			if keyErr == nil {
				keyErr = err
			}
		case i < 0:
			if unknown < 0 {
				unknown = keyAt
			}
		case f[i] != nil:
			if unknown >= 0 {
				// An unknown key may have been repeated before this one.
				if err := repeatedKey(payload, m.off); err != nil {
					return err
				}
			}
			return fmt.Errorf("%w: payload: duplicate key %q", attest.ErrMalformed, payloadKeys[i])
		default:
			f[i] = v
		}
	}
	if unknown >= 0 {
		if err := repeatedKey(payload, len(payload)); err != nil {
			return err
		}
	}
	if keyErr != nil {
		return keyErr
	}
	if unknown >= 0 {
		end, _ := skip(payload, unknown, maxNesting)
		return fmt.Errorf("%w: payload has an unknown field %.40q", attest.ErrMalformed, keyString(payload[unknown:end]))
	}
	return nil
}

// keyIndex is k's place in payloadKeys, -1 for another key, or why k is
// not a key Unmarshal would decode into a string. It allocates for
// nothing but an error.
func keyIndex(k rawItem) (int, error) {
	major, ai, n, next, _ := cborHead(k, 0)
	var buf [16]byte // longer than any known key
	var s []byte
	switch {
	case major == cborText && ai != cborIndef:
		s = k[next:]
	case major == cborText: // in definite chunks, as Wellformed checked
		c, _ := openSeq(k, 0)
		long := false
		for c.next() {
			chunk, ok := c.item()
			if !ok {
				return 0, errNotWellFormed("payload")
			}
			_, _, _, h, _ := cborHead(chunk, 0)
			if !utf8.Valid(chunk[h:]) { // each chunk, as the decoder checks them
				return 0, fmt.Errorf("%w: payload: a key is not valid UTF-8", attest.ErrMalformed)
			}
			if long = long || len(s)+len(chunk)-h > len(buf); !long {
				s = append(buf[:len(s):len(buf)], chunk[h:]...)
			}
		}
		if long {
			return -1, nil
		}
	case k[0] == cborNull || k[0] == cborUndefined: // the decoder sets no string: ""
		return -1, nil
	default:
		return 0, fmt.Errorf("%w: payload: a key is %s, not a text string", attest.ErrMalformed, typeName(major, ai, n))
	}
	for i, name := range payloadKeys {
		if string(s) == name {
			return i, nil
		}
	}
	if !utf8.Valid(s) {
		return 0, fmt.Errorf("%w: payload: a key is not valid UTF-8", attest.ErrMalformed)
	}
	return -1, nil
}

// repeatedKey refuses the first key of payload, among those before offset
// end, that repeats an earlier key; nil if none does. Keys compare as the
// strings keyString decodes them to; a key keyIndex refuses is none (the
// decoder put no such key in its map). Only for refusals: it allocates.
func repeatedKey(payload []byte, end int) error {
	m, _ := openSeq(payload, 0)
	var keys []string
	for m.off < end && m.next() {
		k, ok1 := m.item()
		_, ok2 := m.item()
		if !ok1 || !ok2 {
			return errNotWellFormed("payload")
		}
		if _, err := keyIndex(k); err != nil {
			continue
		}
		s := keyString(k)
		if slices.Contains(keys, s) {
			return fmt.Errorf("%w: payload: duplicate key %.40q", attest.ErrMalformed, s)
		}
		keys = append(keys, s)
	}
	return nil
}

// keyString is the string a key (keyIndex took it) decodes to.
func keyString(k rawItem) string {
	_, ai, _, next, _ := cborHead(k, 0)
	switch {
	case k[0]>>5 != cborText:
		return "" // null or undefined
	case ai != cborIndef:
		return string(k[next:])
	}
	var s []byte
	c, _ := openSeq(k, 0)
	for c.next() {
		chunk, _ := c.item()
		_, _, _, h, _ := cborHead(chunk, 0)
		s = append(s, chunk[h:]...)
	}
	return string(s)
}

// errNotWellFormed: the readers met what payloadDecoder.Wellformed refuses.
// Unreachable; there for safety.
func errNotWellFormed(name string) error {
	return fmt.Errorf("%w: %s is not well-formed CBOR", attest.ErrMalformed, name)
}

// CBOR major types and simple values.
const (
	cborUint      = 0
	cborNegative  = 1
	cborBytes     = 2
	cborText      = 3
	cborArray     = 4
	cborMap       = 5
	cborTag       = 6
	cborSimple    = 7
	cborNull      = 0xf6
	cborUndefined = 0xf7
	cborBreak     = 0xff
	cborIndef     = 31 // additional information of an indefinite-length item
)

// cborHead reads the head of the item at b[off:]: its major type, its
// additional information, its argument (the length of a definite string,
// array or map, the value of an integer or simple value, a float's bits)
// and the offset after the head. ok is false for a truncated head or a
// reserved one (additional information 28 to 30). The one reader of heads
// here: every other function reads items through it.
func cborHead(b []byte, off int) (major, ai byte, arg uint64, next int, ok bool) {
	if off >= len(b) {
		return 0, 0, 0, 0, false
	}
	major, ai = b[off]>>5, b[off]&0x1f
	rest := b[off+1:]
	switch {
	case ai < 24 || ai == cborIndef:
		return major, ai, uint64(ai), off + 1, true
	case ai == 24 && len(rest) >= 1:
		return major, ai, uint64(rest[0]), off + 2, true
	case ai == 25 && len(rest) >= 2:
		return major, ai, uint64(binary.BigEndian.Uint16(rest)), off + 3, true
	case ai == 26 && len(rest) >= 4:
		return major, ai, uint64(binary.BigEndian.Uint32(rest)), off + 5, true
	case ai == 27 && len(rest) >= 8:
		return major, ai, binary.BigEndian.Uint64(rest), off + 9, true
	}
	return 0, 0, 0, 0, false // reserved or truncated
}

// skip returns the offset after the item at b[off:], which may nest
// containers levels deep at most (false if it is not well formed, deeper,
// or a tag, which the payload may not hold). Wellformed has checked the
// payload: this bounds the recursion and the reads all the same.
func skip(b []byte, off, levels int) (int, bool) {
	major, ai, n, next, ok := cborHead(b, off)
	if !ok {
		return 0, false
	}
	switch major {
	case cborUint, cborNegative:
		return next, ai != cborIndef
	case cborSimple:
		return next, ai != cborIndef // a break is not an item
	case cborBytes, cborText:
		if ai != cborIndef {
			if n > uint64(len(b)-next) {
				return 0, false
			}
			return next + int(n), true
		}
		s, _ := openSeq(b, off) // chunks: definite strings of its type
		for s.next() {
			chunk, chunkAI, _, _, ok := cborHead(b, s.off)
			if !ok || chunk != major || chunkAI == cborIndef {
				return 0, false
			}
			if s.off, ok = skip(b, s.off, 0); !ok {
				return 0, false
			}
		}
		return s.off, true
	case cborArray, cborMap:
		if levels <= 0 {
			return 0, false
		}
		s, _ := openSeq(b, off)
		for s.next() {
			for range s.width {
				if s.off, ok = skip(b, s.off, levels-1); !ok {
					return 0, false
				}
			}
		}
		return s.off, true
	}
	return 0, false // tags
}

// seq walks the elements of an array, the pairs of a map or the chunks of
// an indefinite-length string, definite or indefinite.
type seq struct {
	b     []byte
	off   int    // of the next item
	n     uint64 // elements or pairs left, when definite
	indef bool
	width int // items per element: 2 for a map's pairs
}

// openSeq reads the head of the array, map or string at b[off:].
func openSeq(b []byte, off int) (seq, bool) {
	major, ai, n, next, ok := cborHead(b, off)
	s := seq{b: b, off: next, n: n, indef: ai == cborIndef, width: 1}
	if major == cborMap {
		s.width = 2
	}
	return s, ok && major >= cborBytes && major <= cborMap
}

// next says whether another element follows, consuming the break of an
// indefinite-length one. Past the end of b it says yes: item then fails.
func (s *seq) next() bool {
	if s.indef {
		if s.off < len(s.b) && s.b[s.off] == cborBreak {
			s.off++
			return false
		}
		return true
	}
	if s.n == 0 {
		return false
	}
	s.n--
	return true
}

// item returns the next item, a capped sub-slice of b.
func (s *seq) item() (rawItem, bool) {
	end, ok := skip(s.b, s.off, maxNesting)
	if !ok {
		return nil, false
	}
	r := rawItem(s.b[s.off:end:end])
	s.off = end
	return r, true
}

// typeName names an item's type in a message, from its head.
func typeName(major, ai byte, arg uint64) string {
	switch major {
	case cborUint:
		return "an unsigned integer"
	case cborNegative:
		return "a negative integer"
	case cborBytes:
		return "a byte string"
	case cborText:
		return "a text string"
	case cborArray:
		return "an array"
	case cborMap:
		return "a map"
	case cborTag:
		return "a tag"
	}
	switch {
	case ai == 20 || ai == 21:
		return "a boolean"
	case ai == 22:
		return "null"
	case ai == 23:
		return "undefined"
	case ai >= 25 && ai <= 27:
		return "a float"
	}
	return fmt.Sprintf("simple value %d", arg)
}

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

// text decodes a definite-length text string of at most max bytes, valid
// UTF-8, as the decoder decoded it into a string; its bytes are raw's.
func text(name string, raw rawItem, max int) ([]byte, error) {
	if err := kind(name, raw, cborText, "a text string"); err != nil {
		return nil, err
	}
	_, _, n, head, ok := cborHead(raw, 0)
	if !ok || uint64(len(raw)-head) != n {
		return nil, errNotWellFormed(name)
	}
	s := raw[head:]
	if !utf8.Valid(s) {
		return nil, fmt.Errorf("%w: %s: not valid UTF-8", attest.ErrMalformed, name)
	}
	if len(s) > max {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", attest.ErrMalformed, name, len(s), max)
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
// reserved or indefinite length, or a truncated head).
func byteStringHead(b []byte) (n uint64, head int, ok bool) {
	major, ai, n, head, ok := cborHead(b, 0)
	if !ok || major != cborBytes || ai == cborIndef {
		return 0, 0, false
	}
	return n, head, true
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

// timestamp decodes an unsigned integer, in any of its encodings (the
// decoder took non-minimal ones too), as milliseconds since the epoch.
func timestamp(raw rawItem) (time.Time, error) {
	if err := kind("timestamp", raw, cborUint, "an unsigned integer"); err != nil {
		return time.Time{}, err
	}
	_, _, ms, _, ok := cborHead(raw, 0)
	if !ok {
		return time.Time{}, errNotWellFormed("timestamp")
	}
	if ms == 0 || ms > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("%w: timestamp %d is out of range", attest.ErrMalformed, ms)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

// register is one pair of a map of PCRs: its index and its value.
type register struct {
	index uint64
	value rawItem
}

// registers reads a map of PCRs (pcrs, nitrotpm_pcrs) into regs, deciding
// as Unmarshal into map[uint64]rawItem did: a key is an unsigned integer
// (in any encoding), or a simple value, which decodes to its number, or null
// or undefined, which decode to 0 (the decoder leaves the integer unset);
// anything else is refused, and so is an index decoded twice. It returns how
// many it read; Wellformed bounds them to maxMapPairs.
func registers(name string, raw rawItem, regs *[maxMapPairs]register) (int, error) {
	if err := kind(name, raw, cborMap, "a map"); err != nil {
		return 0, err
	}
	m, ok := openSeq(raw, 0)
	if !ok {
		return 0, errNotWellFormed(name)
	}
	var keyErr error
	n := 0
	for m.next() {
		k, ok1 := m.item()
		v, ok2 := m.item()
		if !ok1 || !ok2 || n == len(regs) {
			return 0, errNotWellFormed(name)
		}
		major, ai, i, _, _ := cborHead(k, 0)
		switch {
		case major == cborUint:
		case major == cborSimple && (ai < 20 || ai == 24):
		case k[0] == cborNull || k[0] == cborUndefined:
			i = 0
		default:
			if keyErr == nil {
				keyErr = fmt.Errorf("%w: %s: an index is %s, not an unsigned integer", attest.ErrMalformed, name, typeName(major, ai, i))
			}
			continue
		}
		for _, r := range regs[:n] {
			if r.index == i {
				return 0, fmt.Errorf("%w: %s: index %d is repeated", attest.ErrMalformed, name, i)
			}
		}
		regs[n] = register{i, v}
		n++
	}
	return n, keyErr
}

func pcrs(raw rawItem, s *suite) (map[int][]byte, error) {
	var regs [maxMapPairs]register
	n, err := registers("pcrs", raw, &regs)
	if err != nil {
		return nil, err
	}
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: pcrs is empty", attest.ErrMalformed)
	case n > maxPCRs:
		return nil, fmt.Errorf("%w: %d pcrs, more than %d", attest.ErrMalformed, n, maxPCRs)
	}
	out := make(map[int][]byte, n)
	for _, r := range regs[:n] {
		if r.index > maxPCRIndex {
			return nil, fmt.Errorf("%w: pcr index %d is more than %d", attest.ErrMalformed, r.index, maxPCRIndex)
		}
		name := pcrNames[r.index]
		b, err := bytesOf(name, r.value, s.pcrLen)
		if err != nil {
			return nil, err
		}
		if len(b) != s.pcrLen {
			return nil, fmt.Errorf("%w: %s is %d bytes; %s PCRs are %d", attest.ErrMalformed, name, len(b), s.digest, s.pcrLen)
		}
		out[int(r.index)] = b
	}
	return out, nil
}

func cabundle(raw rawItem, p *profile) ([][]byte, error) {
	if err := kind("cabundle", raw, cborArray, "an array"); err != nil {
		return nil, err
	}
	a, ok := openSeq(raw, 0)
	if !ok {
		return nil, errNotWellFormed("cabundle")
	}
	var certs [maxArrayElements]rawItem // Wellformed bounds them
	n := 0
	for a.next() {
		c, ok := a.item()
		if !ok || n == len(certs) {
			return nil, errNotWellFormed("cabundle")
		}
		certs[n] = c
		n++
	}
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: cabundle is empty", attest.ErrMalformed)
	case n > p.maxCABundle:
		return nil, fmt.Errorf("%w: cabundle has %d certificates, more than %d", attest.ErrMalformed, n, p.maxCABundle)
	}
	out := make([][]byte, n)
	for i, c := range certs[:n] {
		b, err := certificate(cabundleNames[i], c, p.maxCert)
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
