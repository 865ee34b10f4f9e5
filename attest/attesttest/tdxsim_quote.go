package attesttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/fxamacker/cbor/v2"
)

// TDX quote version 4 layout (Intel TDX DCAP Quoting Library API, appendix
// "Quote Format"): a 48-byte header, the 584-byte TD quote body, the signed
// data's length (4 bytes), then the signed data: the ECDSA P-256 quote
// signature (r||s), the attestation public key (X||Y), and certification
// data of type 6 holding the QE report (384 bytes), its signature by the
// PCK key, the QE authentication data and certification data of type 5:
// the PCK certificate chain, PEM.
const (
	TDXHeaderSize    = 48
	TDXBodySize      = 584
	TDXQEReportSize  = 384
	TDXReportDataOff = TDXHeaderSize + 520 // REPORTDATA's offset in a quote
	// TDXAttributeDebug is TD_ATTRIBUTES' DEBUG bit (TUD.DEBUG, bit 0).
	TDXAttributeDebug uint64 = 1
	// TDXDefaultAttributes are the TD_ATTRIBUTES of quotes that name none:
	// SEPT_VE_DISABLE (bit 28) only, as cloud TDs have them.
	TDXDefaultAttributes uint64 = 1 << 28
	// TDXDefaultXFAM is the XFAM of quotes that name none (x87, SSE, AVX,
	// AVX-512, PKRU, AMX... as on a Sapphire Rapids TD).
	TDXDefaultXFAM uint64 = 0x061ae7
)

// tdxQEVendorID is Intel's QE vendor id (939a7233-f79c-4ca9-940a-0db3957f0607).
var tdxQEVendorID = []byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// Default measurements of quotes that name none.
var (
	DefaultTDXMRTD   = sha384Of("attestkms test td")
	DefaultTDXMRSeam = sha384Of("attestkms test tdx module")
)

func sha384Of(s string) []byte {
	h := sha512.Sum384([]byte(s))
	return h[:]
}

// TDXQuote is what a quote says, the envelope's nonce and user data, and
// knobs to break one thing at a time. The zero TDXQuote is a genuine quote
// of an UpToDate platform, not a debug TD, binding the key given to
// Evidence.
type TDXQuote struct {
	MRTD          []byte    // 48 bytes; nil: DefaultTDXMRTD
	RTMR          [4][]byte // 48 bytes each; nil: zero
	MRConfigID    []byte    // 48 bytes; nil: zero
	MROwner       []byte    // 48 bytes; nil: zero
	MROwnerConfig []byte    // 48 bytes; nil: zero
	MRSeam        []byte    // 48 bytes; nil: DefaultTDXMRSeam
	Attributes    uint64    // TD_ATTRIBUTES; 0: TDXDefaultAttributes
	Debug         bool      // set TD_ATTRIBUTES.DEBUG
	XFAM          uint64    // 0: TDXDefaultXFAM
	// TCBStatus selects the TEE_TCB_SVN that the CA's TCB Info gives this
	// status (TDXModuleSVN); "": "UpToDate".
	TCBStatus string
	TEETCBSVN []byte // 16 bytes, overriding TCBStatus's
	QESVN     uint16 // the QE report's ISVSVN; 0: TDXQESVN
	Nonce     []byte // the envelope's nonce, bound in REPORTDATA
	UserData  []byte // the envelope's user_data, bound in REPORTDATA

	// Knobs, each breaking one thing, for hostile tests.
	ReportData        []byte // REPORTDATA as is (64 bytes) instead of the binding
	QEReportOtherKey  bool   // the QE report binds another attestation key than the quote's
	QEReportNotByPCK  bool   // the QE report is signed by a key other than the PCK certificate's
	BadQuoteSignature bool   // the quote's signature is not over its header and body
	PCKChain          []byte // the certification data's PCK chain as is (PEM) instead of the CA's
	QEMRSigner        []byte // the QE report's MRSIGNER (32 bytes) instead of Intel's TDXQEMRSigner
}

func (q *TDXQuote) teeTCBSVN() ([]byte, error) {
	if q.TEETCBSVN != nil {
		if len(q.TEETCBSVN) != 16 {
			return nil, fmt.Errorf("attesttest: TEE_TCB_SVN is %d bytes, want 16", len(q.TEETCBSVN))
		}
		return q.TEETCBSVN, nil
	}
	status := q.TCBStatus
	if status == "" {
		status = "UpToDate"
	}
	svn, ok := TDXModuleSVN(status)
	if !ok {
		return nil, fmt.Errorf("attesttest: TCB status %q is none of %v", status, TDXTCBStatuses)
	}
	t := make([]byte, 16)
	t[0], t[2] = svn, TDXLateMicrocodeSVN
	return t, nil
}

// Quote signs a raw TDX quote, version 4, whose REPORTDATA is reportData
// (64 bytes) unless q.ReportData overrides it.
func (ca *TDXCA) Quote(reportData []byte, q TDXQuote) ([]byte, error) {
	if q.ReportData != nil {
		reportData = q.ReportData
	}
	if len(reportData) != 64 {
		return nil, fmt.Errorf("attesttest: REPORTDATA is %d bytes, want 64", len(reportData))
	}
	tee, err := q.teeTCBSVN()
	if err != nil {
		return nil, err
	}
	fields := []struct {
		name string
		v    []byte
		def  []byte
	}{
		{"MRSEAM", q.MRSeam, DefaultTDXMRSeam}, {"MRTD", q.MRTD, DefaultTDXMRTD},
		{"MRCONFIGID", q.MRConfigID, nil}, {"MROWNER", q.MROwner, nil}, {"MROWNERCONFIG", q.MROwnerConfig, nil},
		{"RTMR0", q.RTMR[0], nil}, {"RTMR1", q.RTMR[1], nil}, {"RTMR2", q.RTMR[2], nil}, {"RTMR3", q.RTMR[3], nil},
	}
	m := map[string][]byte{}
	for _, f := range fields {
		v := f.v
		if v == nil {
			v = f.def
		}
		if v == nil {
			v = make([]byte, 48)
		}
		if len(v) != 48 {
			return nil, fmt.Errorf("attesttest: %s is %d bytes, want 48", f.name, len(v))
		}
		m[f.name] = v
	}
	attrs := q.Attributes
	if attrs == 0 {
		attrs = TDXDefaultAttributes
	}
	if q.Debug {
		attrs |= TDXAttributeDebug
	}
	xfam := q.XFAM
	if xfam == 0 {
		xfam = TDXDefaultXFAM
	}

	// Header.
	hb := make([]byte, 0, TDXHeaderSize+TDXBodySize)
	hb = binary.LittleEndian.AppendUint16(hb, 4)    // version
	hb = binary.LittleEndian.AppendUint16(hb, 2)    // attestation key type: ECDSA-256-with-P-256
	hb = binary.LittleEndian.AppendUint32(hb, 0x81) // TEE type: TDX
	hb = append(hb, 0, 0, 0, 0)                     // reserved
	hb = append(hb, tdxQEVendorID...)
	userData := make([]byte, 20) // the QE's user data: its own identifier, then zero
	if _, err := rand.Read(userData[:16]); err != nil {
		return nil, fmt.Errorf("attesttest: %w", err)
	}
	hb = append(hb, userData...)

	// TD quote body (TDREPORT's TDINFO and TEE_TCB_INFO parts).
	hb = append(hb, tee...)
	hb = append(hb, m["MRSEAM"]...)
	hb = append(hb, make([]byte, 48)...) // MRSIGNERSEAM: Intel's module
	hb = append(hb, make([]byte, 8)...)  // SEAMATTRIBUTES
	hb = binary.LittleEndian.AppendUint64(hb, attrs)
	hb = binary.LittleEndian.AppendUint64(hb, xfam)
	for _, n := range []string{"MRTD", "MRCONFIGID", "MROWNER", "MROWNERCONFIG", "RTMR0", "RTMR1", "RTMR2", "RTMR3"} {
		hb = append(hb, m[n]...)
	}
	hb = append(hb, reportData...)
	if len(hb) != TDXHeaderSize+TDXBodySize {
		panic("attesttest: TDX quote layout")
	}

	// The attestation key, and the QE report binding it.
	ak, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("attesttest: %w", err)
	}
	signed := hb
	if q.BadQuoteSignature {
		signed = append([]byte{1}, hb...)
	}
	sig, err := tdxSignRaw(ak, signed)
	if err != nil {
		return nil, err
	}
	akRaw := tdxRawKey(&ak.PublicKey)
	qeAuth := make([]byte, 32)
	for i := range qeAuth {
		qeAuth[i] = byte(i)
	}
	boundKey := akRaw
	if q.QEReportOtherKey {
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("attesttest: %w", err)
		}
		boundKey = tdxRawKey(&other.PublicKey)
	}
	qeSVN := q.QESVN
	if qeSVN == 0 {
		qeSVN = TDXQESVN
	}
	qeMRSigner := TDXQEMRSigner
	if q.QEMRSigner != nil {
		if len(q.QEMRSigner) != 32 {
			return nil, fmt.Errorf("attesttest: QE MRSIGNER is %d bytes, want 32", len(q.QEMRSigner))
		}
		qeMRSigner = q.QEMRSigner
	}
	qeReport := tdxQEReport(boundKey, qeAuth, qeSVN, qeMRSigner)
	pckKey := ca.pckKey
	if q.QEReportNotByPCK {
		if pckKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, fmt.Errorf("attesttest: %w", err)
		}
	}
	qeSig, err := tdxSignRaw(pckKey, qeReport)
	if err != nil {
		return nil, err
	}
	chain := q.PCKChain
	if chain == nil {
		chain = ca.PCKChainPEM()
	}

	// Certification data type 5 (PCK chain) inside type 6 (QE report).
	cd5 := binary.LittleEndian.AppendUint16(nil, 5)
	cd5 = binary.LittleEndian.AppendUint32(cd5, uint32(len(chain)))
	cd5 = append(cd5, chain...)
	cd6body := append(append(append([]byte{}, qeReport...), qeSig...), binary.LittleEndian.AppendUint16(nil, uint16(len(qeAuth)))...)
	cd6body = append(append(cd6body, qeAuth...), cd5...)
	sd := append(append([]byte{}, sig...), akRaw...)
	sd = binary.LittleEndian.AppendUint16(sd, 6)
	sd = binary.LittleEndian.AppendUint32(sd, uint32(len(cd6body)))
	sd = append(sd, cd6body...)

	out := append([]byte{}, hb...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(sd)))
	return append(out, sd...), nil
}

func tdxRawKey(k *ecdsa.PublicKey) []byte {
	b, err := k.Bytes() // 04 || X || Y
	if err != nil {
		panic(err)
	}
	return b[1:]
}

// tdxQEReport is the TD Quoting Enclave's SGX REPORT body (384 bytes):
// Intel's QE identity (but MRSIGNER), REPORTDATA = SHA-256(attestation key || QE auth
// data) followed by 32 zero bytes.
func tdxQEReport(attestKey, qeAuth []byte, isvsvn uint16, mrSigner []byte) []byte {
	r := make([]byte, TDXQEReportSize)
	copy(r[0:16], TDXPCKSGXTCB[:]) // CPUSVN
	// MISCSELECT (16:20) zero, reserved (20:48).
	copy(r[48:64], []byte{0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0}) // ATTRIBUTES: INIT, MODE64BIT, PROVISIONKEY; XFRM
	mrEnclave := sha256.Sum256([]byte("attestkms test TD quoting enclave"))
	copy(r[64:96], mrEnclave[:])
	copy(r[128:160], mrSigner)
	binary.LittleEndian.PutUint16(r[256:258], TDXQEProdID)
	binary.LittleEndian.PutUint16(r[258:260], isvsvn)
	h := sha256.Sum256(append(append([]byte{}, attestKey...), qeAuth...))
	copy(r[320:352], h[:])
	return r
}

// TDXEnvelope is the attestkms evidence envelope of format "tdx"
// (docs/evidence.md): CBOR, text keys, deterministic encoding.
type TDXEnvelope struct {
	Format    string `cbor:"format"`
	PublicKey []byte `cbor:"public_key"`
	Nonce     []byte `cbor:"nonce,omitempty"`
	UserData  []byte `cbor:"user_data,omitempty"`
	Quote     []byte `cbor:"quote"`
}

// TDXBinding is the REPORTDATA that binds publicKeyDER, nonce and userData:
// SHA-512 of the same input as SEV-SNP's REPORT_DATA (envelope.Binding).
func TDXBinding(publicKeyDER, nonce, userData []byte) []byte {
	e := envelope.Envelope{PublicKey: publicKeyDER, Nonce: nonce, UserData: userData}
	return e.Binding(crypto.SHA512)
}

var tdxEncoder = func() cbor.EncMode {
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// Evidence signs a quote binding publicKeyDER (DER SubjectPublicKeyInfo)
// and q's nonce and user data, and wraps it in a "tdx" envelope.
func (ca *TDXCA) Evidence(publicKeyDER []byte, q TDXQuote) ([]byte, error) {
	if len(publicKeyDER) == 0 {
		return nil, errors.New("attesttest: no public key")
	}
	// Absent and empty are one thing in an envelope: never bind an empty one.
	if len(q.Nonce) == 0 {
		q.Nonce = nil
	}
	if len(q.UserData) == 0 {
		q.UserData = nil
	}
	raw, err := ca.Quote(TDXBinding(publicKeyDER, q.Nonce, q.UserData), q)
	if err != nil {
		return nil, err
	}
	return MarshalTDXEnvelope(&TDXEnvelope{PublicKey: publicKeyDER, Nonce: q.Nonce, UserData: q.UserData, Quote: raw})
}

// MarshalTDXEnvelope encodes e (format "tdx" whatever e.Format says).
func MarshalTDXEnvelope(e *TDXEnvelope) ([]byte, error) {
	c := *e
	c.Format = "tdx"
	return tdxEncoder.Marshal(&c)
}
