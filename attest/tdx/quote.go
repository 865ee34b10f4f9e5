package tdx

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/internal/validity"
	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"
)

// quote is a parsed, unverified TDX quote.
type quote struct {
	proto    *pb.QuoteV4
	signed   []byte // header || TD quote body: what the attestation key signs
	qeReport []byte // the QE report's 384 bytes: what the PCK signs
	chainPEM []byte // the PCK chain as the quote carries it
}

// quoteVersion is the only version go-tdx-guest verifies here.
const quoteVersion = 4

// parseQuote parses raw strictly: version 4, TEE type TDX, go-tdx-guest's
// own size checks, and bytes that re-encode to themselves (so nothing
// trails the certification data but the PEM chain's optional NUL). Every
// go-tdx-guest call in it runs under guard: a panic on hostile bytes is a
// malformed quote, in verify-evidence as in the server.
func parseQuote(raw []byte) (q *quote, err error) {
	defer func() {
		if r := recover(); r != nil {
			q, err = nil, fmt.Errorf("%w: quote: go-tdx-guest failed: %v", attest.ErrMalformed, r)
		}
	}()
	return parseQuoteUnguarded(raw)
}

func parseQuoteUnguarded(raw []byte) (*quote, error) {
	if len(raw) < 2 {
		return nil, fmt.Errorf("%w: quote is %d bytes", attest.ErrMalformed, len(raw))
	}
	if len(raw) > envelope.MaxTDXQuote {
		return nil, fmt.Errorf("%w: quote is %d bytes, more than %d", attest.ErrMalformed, len(raw), envelope.MaxTDXQuote)
	}
	if ver := binary.LittleEndian.Uint16(raw); ver != quoteVersion {
		return nil, fmt.Errorf("%w: quote version %d; only version %d is verified", attest.ErrMalformed, ver, quoteVersion)
	}
	if err := checkLayout(raw); err != nil {
		return nil, fmt.Errorf("%w: quote: %v", attest.ErrMalformed, err)
	}
	any, err := quoteToProto(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: quote: %v", attest.ErrMalformed, err)
	}
	p, ok := any.(*pb.QuoteV4)
	if !ok {
		return nil, fmt.Errorf("%w: quote is not version 4", attest.ErrMalformed)
	}
	if err := abi.CheckQuoteV4(p); err != nil {
		return nil, fmt.Errorf("%w: quote: %v", attest.ErrMalformed, err)
	}
	if p.GetHeader().GetTeeType() != abi.TeeTDX {
		return nil, fmt.Errorf("%w: quote TEE type 0x%x is not TDX", attest.ErrMalformed, p.GetHeader().GetTeeType())
	}
	if len(p.GetExtraBytes()) > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the quote's signed data", attest.ErrMalformed, len(p.GetExtraBytes()))
	}
	again, err := abi.QuoteToAbiBytes(p)
	if err != nil || !bytes.Equal(again, raw) {
		return nil, fmt.Errorf("%w: quote does not re-encode to its own bytes (trailing or inconsistent data)", attest.ErrMalformed)
	}
	header, err := abi.HeaderToAbiBytes(p.GetHeader())
	if err != nil {
		return nil, fmt.Errorf("%w: quote header: %v", attest.ErrMalformed, err)
	}
	body, err := abi.TdQuoteBodyToAbiBytes(p.GetTdQuoteBody())
	if err != nil {
		return nil, fmt.Errorf("%w: TD quote body: %v", attest.ErrMalformed, err)
	}
	qer := p.GetSignedData().GetCertificationData().GetQeReportCertificationData()
	report, err := abi.EnclaveReportToAbiBytes(qer.GetQeReport())
	if err != nil {
		return nil, fmt.Errorf("%w: QE report: %v", attest.ErrMalformed, err)
	}
	chainPEM := qer.GetPckCertificateChainData().GetPckCertChain()
	if !canonicalPEM(chainPEM) {
		return nil, fmt.Errorf("%w: the PCK certificate chain is not three PEM certificates in canonical encoding", attest.ErrMalformed)
	}
	return &quote{
		proto: p, signed: append(header, body...), qeReport: report,
		chainPEM: chainPEM,
	}, nil
}

// canonicalPEM reports whether b is exactly three PEM CERTIFICATE blocks as
// encoding/pem writes them, optionally followed by one NUL (as the QE
// writes it): PEM's free text and line breaks are not signed, so any other
// spelling is refused rather than accepted as the same chain.
func canonicalPEM(b []byte) bool {
	b = bytes.TrimSuffix(b, []byte{0})
	var again []byte
	rest := b
	for range 3 {
		blk, r := pem.Decode(rest)
		if blk == nil || blk.Type != "CERTIFICATE" || len(blk.Headers) != 0 {
			return false
		}
		again = append(again, pem.EncodeToMemory(blk)...)
		rest = r
	}
	return len(rest) == 0 && bytes.Equal(again, b)
}

// Offsets of a version 4 quote (Intel TDX DCAP Quoting Library API,
// appendix A.3): the 48-byte header and the 584-byte TD quote body, then
// the signed data's size (4 bytes) and the signed data: the quote's
// signature (64) and attestation key (64), then certification data of type
// 6 (type 2 bytes, size 4): the QE report (384), its signature (64), the
// QE authentication data (size 2, data), then certification data of type 5
// (type 2, size 4): the PEM PCK chain.
const (
	offSignedDataSize = 0x278
	offSignedData     = 0x27c
	qeReportLen       = 384
)

// checkLayout checks every length field of a version 4 quote against the
// bytes there are, exactly (nothing left over at any level), before
// go-tdx-guest parses it: its parser trusts these fields, and a hostile
// QE authentication data size makes it slice out of range (a panic found
// by FuzzVerify).
func checkLayout(raw []byte) error {
	u16 := func(off int) int { return int(binary.LittleEndian.Uint16(raw[off:])) }
	u32 := func(off int) int { return int(binary.LittleEndian.Uint32(raw[off:])) }
	if len(raw) < offSignedData {
		return fmt.Errorf("%d bytes, shorter than a header and TD quote body", len(raw))
	}
	if n := u32(offSignedDataSize); n != len(raw)-offSignedData {
		return fmt.Errorf("signed data size %d, but %d bytes follow", n, len(raw)-offSignedData)
	}
	cert := offSignedData + 128 // after the signature and the attestation key
	if len(raw) < cert+6 {
		return fmt.Errorf("signed data too short for its certification data")
	}
	if t := u16(cert); t != 6 {
		return fmt.Errorf("certification data type %d; want 6 (QE report certification data)", t)
	}
	if n := u32(cert + 2); n != len(raw)-(cert+6) {
		return fmt.Errorf("certification data size %d, but %d bytes follow", n, len(raw)-(cert+6))
	}
	auth := cert + 6 + qeReportLen + 64
	if len(raw) < auth+2 {
		return fmt.Errorf("certification data too short for the QE report and its signature")
	}
	chain := auth + 2 + u16(auth)
	if len(raw) < chain+6 {
		return fmt.Errorf("QE authentication data of %d bytes overruns the quote", u16(auth))
	}
	if t := u16(chain); t != 5 {
		return fmt.Errorf("PCK certification data type %d; want 5 (PEM PCK chain)", t)
	}
	if n := u32(chain + 2); n != len(raw)-(chain+6) {
		return fmt.Errorf("PCK chain size %d, but %d bytes follow", n, len(raw)-(chain+6))
	}
	return nil
}

// quoteToProto is go-tdx-guest's parser, with any panic it would still
// raise on hostile bytes turned into an error rather than a crash.
func quoteToProto(raw []byte) (q any, err error) {
	err = guard(func() (err error) { q, err = abi.QuoteToProto(raw); return err })
	return q, err
}

// guard runs f, a go-tdx-guest call on bytes an attacker chose, turning a
// panic into an error: that library was not written for hostile input
// (its parser trusted length fields until checkLayout), and a panic here
// must not take the server down.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("go-tdx-guest failed: %v", r)
		}
	}()
	return f()
}

// pckChain is a PCK chain verified to the roots (cached), with what its
// leaf's SGX extensions say.
type pckChain struct {
	pck, ca, root *x509.Certificate
	fmspc         []byte
	pceID         string
	ext           *pcs.PckExtensions
}

// verifyQuote verifies q's signatures and its PCK chain at now: the chain
// it returns is Intel's word that q came from a genuine platform, not yet
// judged by collateral.
func (v *Verifier) verifyQuote(q *quote, now time.Time) (*pckChain, error) {
	// A chain verified before is found by its exact bytes, before parsing
	// them again; its certificates' validity is checked at every call.
	key := sha256.Sum256(q.chainPEM)
	c, hit := v.chains.Get(key)
	if !hit {
		parsed, err := verify.ExtractChainFromQuote(q.proto)
		if err != nil {
			return nil, fmt.Errorf("%w: PCK certificate chain: %v", attest.ErrMalformed, err)
		}
		c = &pckChain{pck: parsed.PCKCertificate, ca: parsed.IntermediateCertificate, root: parsed.RootCertificate}
	}
	for _, cert := range []struct {
		name string
		cert *x509.Certificate
	}{{"PCK certificate", c.pck}, {"PCK CA certificate", c.ca}, {"root certificate", c.root}} {
		if err := validity.Of(cert.name, cert.cert).Check(now); err != nil {
			return nil, err
		}
	}
	if err := checkSignatures(q, c.pck); err != nil {
		return nil, err
	}
	if hit {
		return c, nil
	}
	// Only now, the one link that shows the chain is not a forgery
	// (firstlink.go), then the budget, then the whole chain.
	if err := v.pckFirstLink(c); err != nil {
		return nil, err
	}
	if v.coldChain != nil && !v.coldChain() {
		return nil, attest.ColdChainRefused("PCK certificate chain")
	}
	// go-tdx-guest checks the chain's shape (names, algorithms, P-256),
	// each signature, the path to the roots at now, and again the quote's
	// and QE report's signatures. Collateral fetching and its CRL fetching
	// are off; Getter refuses, were it ever asked.
	opts := &verify.Options{
		GetCollateral: false, CheckRevocations: false, Getter: offline{}, TrustedRoots: v.pool,
		Now: &verify.TimeSet{PckCertChain: now, TcbInfo: now, QeIdentity: now, PckCrl: now, RootCaCrl: now},
	}
	if err := guard(func() error { return verify.TdxQuote(q.proto, opts) }); err != nil {
		return nil, fmt.Errorf("%w: PCK chain: %v", attest.ErrChain, err)
	}
	var ext *pcs.PckExtensions
	err := guard(func() (err error) { ext, err = pcs.PckCertificateExtensions(c.pck); return err })
	if err != nil {
		return nil, fmt.Errorf("%w: PCK certificate's SGX extensions: %v", attest.ErrChain, err)
	}
	fmspc, err := hexDecode(ext.FMSPC)
	if err != nil || len(fmspc) != 6 {
		return nil, fmt.Errorf("%w: PCK certificate's FMSPC %q", attest.ErrChain, ext.FMSPC)
	}
	c.fmspc, c.pceID, c.ext = fmspc, ext.PCEID, ext
	v.knownCAs.Learn(c.ca, c.pck)
	v.chains.Put(key, c)
	return c, nil
}

// checkSignatures checks, with the (not yet verified) PCK certificate, the
// three signatures of a quote: the QE report by the PCK key, the QE report
// binding the attestation key (REPORTDATA = SHA-256(key || QE auth data),
// zero-padded), and header || TD quote body by the attestation key.
func checkSignatures(q *quote, pck *x509.Certificate) error {
	sd := q.proto.GetSignedData()
	qer := sd.GetCertificationData().GetQeReportCertificationData()
	pub, ok := pck.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: PCK certificate's key is not ECDSA P-256", attest.ErrChain)
	}
	d := sha256.Sum256(q.qeReport)
	if !verifyRS(pub, d[:], qer.GetQeReportSignature()) {
		return fmt.Errorf("%w: QE report's signature does not verify with the PCK certificate", attest.ErrSignature)
	}
	ak := sd.GetEcdsaAttestationKey()
	h := sha256.New()
	h.Write(ak)
	h.Write(qer.GetQeAuthData().GetData())
	want := make([]byte, 64)
	copy(want, h.Sum(nil))
	if !bytes.Equal(want, qer.GetQeReport().GetReportData()) {
		return fmt.Errorf("%w: the QE report does not bind the quote's attestation key", attest.ErrSignature)
	}
	akPub, err := rawP256(ak)
	if err != nil {
		return fmt.Errorf("%w: attestation key: %v", attest.ErrMalformed, err)
	}
	d = sha256.Sum256(q.signed)
	if !verifyRS(akPub, d[:], sd.GetSignature()) {
		return fmt.Errorf("%w: quote's signature does not verify with its attestation key", attest.ErrSignature)
	}
	return nil
}

// verifyRS verifies a 64-byte r || s ECDSA signature of digest.
func verifyRS(pub *ecdsa.PublicKey, digest, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, digest, r, s)
}

// rawP256 parses a 64-byte x || y P-256 point.
func rawP256(b []byte) (*ecdsa.PublicKey, error) {
	if len(b) != 64 {
		return nil, fmt.Errorf("%d bytes, want 64", len(b))
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, b...))
	if err != nil {
		return nil, errors.New("not a P-256 point")
	}
	return pub, nil
}

// offline is the Getter given to go-tdx-guest. With GetCollateral and
// CheckRevocations off it is never called; were it ever, it refuses rather
// than reach Intel's servers.
type offline struct{}

func (offline) Get(url string) (map[string][]string, []byte, error) {
	return nil, nil, fmt.Errorf("tdx: verification is offline: not fetching %s", url)
}
