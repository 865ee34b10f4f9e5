package tpm_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// san builds a subjectAltName extension from GeneralNames' contents.
func san(critical bool, names func(*cryptobyte.Builder)) pkix.Extension {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, names)
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: critical, Value: b.BytesOrPanic()}
}

// dirName adds a directoryName of attributes, one RDN each unless multi.
func dirName(multi bool, attrs ...any) func(*cryptobyte.Builder) {
	atv := func(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, v string) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(v)) })
		})
	}
	return func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				if multi {
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
						for i := 0; i < len(attrs); i += 2 {
							atv(b, attrs[i].(asn1.ObjectIdentifier), attrs[i+1].(string))
						}
					})
					return
				}
				for i := 0; i < len(attrs); i += 2 {
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { atv(b, attrs[i].(asn1.ObjectIdentifier), attrs[i+1].(string)) })
				}
			})
		})
	}
}

var (
	oidManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	oidCN           = asn1.ObjectIdentifier{2, 5, 4, 3}
	tpmAttrs        = []any{oidManufacturer, "id:41544B53", oidModel, "m", oidVersion, "id:00000001"}
)

func withSAN(ext ...pkix.Extension) func(*x509.Certificate) {
	return func(c *x509.Certificate) { c.ExtraExtensions = ext }
}

// TestHostileQuotes makes one broken quote per check and asserts the kind
// of its refusal (nil: it verifies).
func TestHostileQuotes(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	other := newCA(t, tpmtest.CAOptions{})
	rsaCA := testCA(t, tpmtest.AKRSA2048)
	roots := parseRoots(t, ca.RootsPEM())
	pinned := parseRoots(t, ca.AKPublicKeyPEM())
	both := parseRoots(t, ca.RootsPEM(), ca.AKPublicKeyPEM())
	intermediate := parseRoots(t, pemCert(ca.Intermediate.Raw))
	nullScheme := newCA(t, tpmtest.CAOptions{AK: tpmtest.AKECDSAP384, EditAKPublic: func(p *tpm2.TPMTPublic) {
		parms, _ := p.Parameters.ECCDetail()
		parms.Scheme = tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull}
		p.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, parms)
	}})
	smallAK, _ := tpmtest.AKTemplate(tpmtest.AKRSA2048, fakeRSA(1024, 65537))
	editAK := func(f func(*tpm2.TPMTPublic)) func(*envelope.Envelope) {
		return func(e *envelope.Envelope) {
			p, err := tpm2.Unmarshal[tpm2.TPMTPublic](e.AKPublic)
			if err != nil {
				t.Fatal(err)
			}
			f(p)
			e.AKPublic = tpm2.Marshal(p)
		}
	}
	editQuoteInfo := func(f func(*tpm2.TPMSQuoteInfo)) func(*tpm2.TPMSAttest) {
		return func(a *tpm2.TPMSAttest) {
			qi, err := a.Attested.Quote()
			if err != nil {
				t.Fatal(err)
			}
			f(qi)
			a.Attested = tpm2.NewTPMUAttest(tpm2.TPMSTAttestQuote, qi)
		}
	}

	type tc struct {
		name  string
		ca    *tpmtest.CA // nil: ca
		roots *tpm.Roots  // nil: roots
		sha1  bool
		q     tpmtest.Quote
		at    time.Time // zero: testTime
		noAt  bool      // verify at the zero time
		want  error
	}
	cases := []tc{
		{name: "genuine", want: nil},
		{name: "nonce and user data", q: tpmtest.Quote{Nonce: []byte("n"), UserData: bytes.Repeat([]byte{1}, 1024)}, want: nil},
		{name: "rsassa AK", ca: rsaCA, roots: parseRoots(t, rsaCA.RootsPEM()), want: nil},
		{name: "sha384 bank", q: tpmtest.Quote{Bank: crypto.SHA384}, want: nil},
		{name: "sha512 bank", q: tpmtest.Quote{Bank: crypto.SHA512}, want: nil},
		{name: "sha1 bank allowed", sha1: true, q: tpmtest.Quote{Bank: crypto.SHA1}, want: nil},
		{name: "one pcr", q: tpmtest.Quote{PCRs: map[int][]byte{23: make([]byte, 32)}}, want: nil},
		{name: "24 pcrs", q: tpmtest.Quote{PCRs: pcrMap(24, 32)}, want: nil},
		{name: "ak_cert alone", q: tpmtest.Quote{OmitAKPublic: true}, want: nil},
		{name: "ak_public alone, pinned", roots: pinned, q: tpmtest.Quote{OmitAKCert: true}, want: nil},
		{name: "ak_public alone, pinned beside a root", roots: both, q: tpmtest.Quote{OmitAKCert: true}, want: nil},
		{name: "intermediate trusted, no ak_chain", roots: intermediate, q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKChain = nil }}, want: nil},
		{name: "null-scheme AK signs ECDSA-SHA256", ca: nullScheme, roots: parseRoots(t, nullScheme.RootsPEM()), q: tpmtest.Quote{SigHash: crypto.SHA256}, want: nil},
		{name: "null-scheme AK signs ECDSA-SHA512", ca: nullScheme, roots: parseRoots(t, nullScheme.RootsPEM()), q: tpmtest.Quote{SigHash: crypto.SHA512}, want: nil},
		{name: "at the AK certificate's last second", at: tpmtest.AKNotAfter, want: nil},

		// The binding.
		{name: "wrong extraData", q: tpmtest.Quote{ExtraData: make([]byte, 32)}, want: attest.ErrBinding},
		{name: "empty extraData", q: tpmtest.Quote{ExtraData: []byte{}}, want: attest.ErrBinding},
		{name: "extraData of another key", q: tpmtest.Quote{ExtraData: (&envelope.Envelope{PublicKey: spki(t, fakeRSA(3072, 65537))}).Binding(crypto.SHA256)}, want: attest.ErrBinding},
		{name: "nonce changed after quoting", q: tpmtest.Quote{Nonce: []byte("a"), EditEnvelope: func(e *envelope.Envelope) { e.Nonce = []byte("b") }}, want: attest.ErrBinding},
		{name: "nonce added after quoting", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.Nonce = []byte("n") }}, want: attest.ErrBinding},
		{name: "user data dropped after quoting", q: tpmtest.Quote{UserData: []byte("u"), EditEnvelope: func(e *envelope.Envelope) { e.UserData = nil }}, want: attest.ErrBinding},
		{name: "public key changed after quoting", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.PublicKey = spki(t, fakeRSA(4096, 65537)) }}, want: attest.ErrBinding},
		{name: "binding as sha-512", q: tpmtest.Quote{EditAttest: func(a *tpm2.TPMSAttest) {
			a.ExtraData.Buffer = (&envelope.Envelope{PublicKey: enclaveKey(t)}).Binding(crypto.SHA512)[:32]
		}}, want: attest.ErrBinding},

		// PCRs.
		{name: "pcr value not quoted", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.PCRs[3] = make([]byte, 32) }}, want: attest.ErrSignature},
		{name: "pcrDigest changed", q: tpmtest.Quote{EditAttest: editQuoteInfo(func(qi *tpm2.TPMSQuoteInfo) { qi.PCRDigest.Buffer[0] ^= 1 })}, want: attest.ErrSignature},
		{name: "pcrDigest made with the bank's hash", q: tpmtest.Quote{Bank: crypto.SHA384, EditAttest: editQuoteInfo(func(qi *tpm2.TPMSQuoteInfo) {
			h := crypto.SHA384.New()
			for i := range 8 {
				h.Write(tpmtest.DefaultPCRs(crypto.SHA384)[i])
			}
			qi.PCRDigest.Buffer = h.Sum(nil)
		})}, want: attest.ErrSignature},
		{name: "pcr extra index", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.PCRs[8] = make([]byte, 32) }}, want: attest.ErrMalformed},
		{name: "pcr missing index", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { delete(e.PCRs, 7) }}, want: attest.ErrMalformed},
		{name: "pcr of another bank's size", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.PCRs[0] = make([]byte, 48) }}, want: attest.ErrMalformed},
		{name: "sha1 bank", q: tpmtest.Quote{Bank: crypto.SHA1}, want: attest.ErrPolicy},
		{name: "two banks", q: tpmtest.Quote{EditAttest: editQuoteInfo(func(qi *tpm2.TPMSQuoteInfo) {
			qi.PCRSelect.PCRSelections = append(qi.PCRSelect.PCRSelections, tpm2.TPMSPCRSelection{Hash: tpm2.TPMAlgSHA1, PCRSelect: []byte{1, 0, 0}})
		})}, want: attest.ErrMalformed},
		{name: "no bank", q: tpmtest.Quote{EditAttest: editQuoteInfo(func(qi *tpm2.TPMSQuoteInfo) { qi.PCRSelect.PCRSelections = nil })}, want: attest.ErrMalformed},
		{name: "sm3 bank", q: tpmtest.Quote{EditAttest: editQuoteInfo(func(qi *tpm2.TPMSQuoteInfo) { qi.PCRSelect.PCRSelections[0].Hash = tpm2.TPMAlgSM3256 })}, want: attest.ErrMalformed},
		{name: "no pcr selected", q: tpmtest.Quote{EditAttest: editQuoteInfo(func(qi *tpm2.TPMSQuoteInfo) { qi.PCRSelect.PCRSelections[0].PCRSelect = []byte{0, 0, 0} })}, want: attest.ErrMalformed},
		{name: "pcr 24 selected", q: tpmtest.Quote{EditAttest: editQuoteInfo(func(qi *tpm2.TPMSQuoteInfo) { qi.PCRSelect.PCRSelections[0].PCRSelect = []byte{0xff, 0, 0, 1} })}, want: attest.ErrMalformed},

		// The AK and its trust.
		{name: "ak cert from another CA", roots: parseRoots(t, other.RootsPEM()), want: attest.ErrChain},
		{name: "quote signed by another CA's AK", ca: other, roots: roots, q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) {
			e.AKCert, e.AKPublic, e.AKChain = ca.AKCert.Raw, ca.AKPublic, [][]byte{ca.Intermediate.Raw}
		}}, want: attest.ErrSignature},
		{name: "ak_public not pinned", q: tpmtest.Quote{OmitAKCert: true}, want: attest.ErrChain},
		{name: "ak_public pinned, ak_cert without CA roots", roots: pinned, want: attest.ErrChain},
		{name: "ak_public of another key than ak_cert", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKPublic = other.AKPublic }}, want: attest.ErrChain},
		{name: "ak_public rsa, ak_cert ecdsa", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKPublic = rsaCA.AKPublic }}, want: attest.ErrChain},
		{name: "no ak_chain", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKChain = nil }}, want: attest.ErrChain},
		{name: "ak_chain from another CA", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKChain = [][]byte{other.Intermediate.Raw} }}, want: attest.ErrChain},
		{name: "ak_cert not DER", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKCert = []byte("not a certificate") }}, want: attest.ErrChain},
		{name: "ak_chain entry not DER", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKChain = [][]byte{{0x30, 0}} }}, want: attest.ErrChain},
		{name: "ak rsa-1024 pinned", roots: parseRoots(t, ca.RootsPEM()), q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: func(e *envelope.Envelope) { e.AKPublic = tpm2.Marshal(&smallAK) }}, want: attest.ErrChain},
		{name: "ak not restricted", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: editAK(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.Restricted = false })}, want: attest.ErrChain},
		{name: "ak not a signing key", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: editAK(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.SignEncrypt = false })}, want: attest.ErrChain},
		{name: "ak decrypts", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: editAK(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.Decrypt = true })}, want: attest.ErrChain},
		{name: "ak not fixedTPM", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: editAK(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.FixedTPM = false })}, want: attest.ErrChain},
		{name: "ak imported", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: editAK(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.SensitiveDataOrigin = false })}, want: attest.ErrChain},
		{name: "ak not restricted, with its certificate", q: tpmtest.Quote{EditEnvelope: editAK(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.Restricted = false })}, want: attest.ErrChain},
		{name: "ak with noDA and stClear", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: editAK(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.NoDA, p.ObjectAttributes.STClear = true, true })}, want: nil},
		{name: "ak reserved attribute bit", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: editAK(func(p *tpm2.TPMTPublic) { p.ObjectAttributes.SetReservedBit(31, true) })}, want: attest.ErrMalformed},
		{name: "ak nameAlg null", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: editAK(func(p *tpm2.TPMTPublic) { p.NameAlg = tpm2.TPMAlgNull })}, want: attest.ErrMalformed},
		{name: "ak authPolicy of 5 bytes", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: editAK(func(p *tpm2.TPMTPublic) { p.AuthPolicy.Buffer = make([]byte, 5) })}, want: attest.ErrMalformed},
		{name: "ak with a symmetric algorithm", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: editAK(func(p *tpm2.TPMTPublic) {
			parms, _ := p.Parameters.ECCDetail()
			parms.Symmetric = tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgAES, KeyBits: tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(128)), Mode: tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB)}
			p.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, parms)
		})}, want: attest.ErrMalformed},
		{name: "ak_public keyedhash", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: func(e *envelope.Envelope) {
			e.AKPublic = tpm2.Marshal(&tpm2.TPMTPublic{
				Type: tpm2.TPMAlgKeyedHash, NameAlg: tpm2.TPMAlgSHA256,
				ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, Restricted: true, SignEncrypt: true},
				Parameters:       tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull}}),
				Unique:           tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{Buffer: make([]byte, 32)}),
			})
		}}, want: attest.ErrChain},
		{name: "ak_public trailing byte", roots: pinned, q: tpmtest.Quote{OmitAKCert: true, EditEnvelope: func(e *envelope.Envelope) { e.AKPublic = append(e.AKPublic, 0) }}, want: attest.ErrMalformed},
		{name: "ak_public garbage", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKPublic = []byte{0, 1, 2} }}, want: attest.ErrMalformed},

		// The AK certificate.
		{name: "critical san: cn directoryName", ca: newCA(t, tpmtest.CAOptions{EditAKCert: withSAN(san(true, dirName(false, oidCN, "tpm")))}), want: attest.ErrChain},
		{name: "critical san: tpm attributes and a cn", ca: newCA(t, tpmtest.CAOptions{EditAKCert: withSAN(san(true, dirName(false, append(tpmAttrs, oidCN, "x")...)))}), want: attest.ErrChain},
		{name: "critical san: no version", ca: newCA(t, tpmtest.CAOptions{EditAKCert: withSAN(san(true, dirName(false, tpmAttrs[:4]...)))}), want: attest.ErrChain},
		{name: "critical san: model twice", ca: newCA(t, tpmtest.CAOptions{EditAKCert: withSAN(san(true, dirName(false, append(tpmAttrs, oidModel, "m2")...)))}), want: attest.ErrChain},
		{name: "critical san: two directoryNames", ca: newCA(t, tpmtest.CAOptions{EditAKCert: withSAN(san(true, func(b *cryptobyte.Builder) {
			dirName(false, tpmAttrs...)(b)
			dirName(false, tpmAttrs...)(b)
		}))}), want: attest.ErrChain},
		{name: "critical san: registeredID", ca: newCA(t, tpmtest.CAOptions{EditAKCert: withSAN(san(true, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(8).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte{0x2a, 0x03}) })
		}))}), want: attest.ErrChain},
		{name: "critical san: tpm attributes, one multi-valued RDN", ca: newCA(t, tpmtest.CAOptions{EditAKCert: withSAN(san(true, dirName(true, tpmAttrs...)))}), want: nil},
		{name: "non-critical san: cn directoryName", ca: newCA(t, tpmtest.CAOptions{EditAKCert: withSAN(san(false, dirName(false, oidCN, "x")))}), want: nil},
		{name: "no san", ca: newCA(t, tpmtest.CAOptions{EditAKCert: withSAN()}), want: nil},
		{name: "another critical extension", ca: newCA(t, tpmtest.CAOptions{EditAKCert: func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}})
		}}), want: attest.ErrChain},
		{name: "ak cert may not sign", ca: newCA(t, tpmtest.CAOptions{EditAKCert: func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment }}), want: attest.ErrChain},
		{name: "ak cert is a CA", ca: newCA(t, tpmtest.CAOptions{EditAKCert: func(c *x509.Certificate) {
			c.IsCA, c.KeyUsage = true, x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign
		}}), want: attest.ErrChain},
		{name: "ak cert expired", at: tpmtest.AKNotAfter.Add(time.Second), want: attest.ErrExpired},
		{name: "ak cert not yet valid", at: tpmtest.AKNotBefore.Add(-time.Second), want: attest.ErrExpired},
		{name: "intermediate expired", at: tpmtest.CANotAfter.Add(time.Second), ca: newCA(t, tpmtest.CAOptions{EditAKCert: func(c *x509.Certificate) { c.NotAfter = tpmtest.CANotAfter.Add(time.Hour) }}), want: attest.ErrExpired},
		{name: "no time", noAt: true, want: attest.ErrExpired},

		// The quote's shape.
		{name: "wrong magic", q: tpmtest.Quote{EditAttest: func(a *tpm2.TPMSAttest) { a.Magic = 0xff544348 }}, want: attest.ErrMalformed},
		{name: "certify, not quote", q: tpmtest.Quote{EditAttest: func(a *tpm2.TPMSAttest) {
			a.Type = tpm2.TPMSTAttestCertify
			a.Attested = tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{Name: tpm2.TPM2BName{Buffer: []byte{0, 4, 1}}, QualifiedName: tpm2.TPM2BName{Buffer: []byte{0, 4, 2}}})
		}}, want: attest.ErrMalformed},
		{name: "trailing bytes in quote, signed", q: tpmtest.Quote{QuoteSuffix: []byte{0}}, want: attest.ErrMalformed},
		{name: "trailing bytes in signature", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.Signature = append(e.Signature, 0, 0) }}, want: attest.ErrMalformed},
		{name: "quote truncated", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.Quote = e.Quote[:len(e.Quote)-1] }}, want: attest.ErrMalformed},

		// The signature.
		{name: "tampered signature", q: tpmtest.Quote{EditSignature: func(s *tpm2.TPMTSignature) {
			d, _ := s.Signature.ECDSA()
			d.SignatureS.Buffer[5] ^= 1
		}}, want: attest.ErrSignature},
		{name: "tampered quote", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.Quote[50] ^= 1 }}, want: attest.ErrSignature},
		{name: "signature says sha384, the AK signs sha256", q: tpmtest.Quote{EditSignature: func(s *tpm2.TPMTSignature) {
			d, _ := s.Signature.ECDSA()
			d.Hash = tpm2.TPMAlgSHA384
		}}, want: attest.ErrSignature},
		{name: "null-scheme AK: signature says sha384, made with sha256", ca: nullScheme, roots: parseRoots(t, nullScheme.RootsPEM()), q: tpmtest.Quote{SigHash: crypto.SHA256, EditSignature: func(s *tpm2.TPMTSignature) {
			d, _ := s.Signature.ECDSA()
			d.Hash = tpm2.TPMAlgSHA384
		}}, want: attest.ErrSignature},
		{name: "signed with sha384 by a sha256 AK", q: tpmtest.Quote{SigHash: crypto.SHA384}, want: attest.ErrSignature},
		{name: "signed with sha1", ca: nullScheme, roots: parseRoots(t, nullScheme.RootsPEM()), q: tpmtest.Quote{SigHash: crypto.SHA1}, want: attest.ErrSignature},
		{name: "hmac signature", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) {
			e.Signature = tpm2.Marshal(&tpm2.TPMTSignature{SigAlg: tpm2.TPMAlgHMAC, Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgHMAC, &tpm2.TPMTHA{HashAlg: tpm2.TPMAlgSHA256, Digest: make([]byte, 32)})})
		}}, want: attest.ErrSignature},
		{name: "null signature", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.Signature = []byte{0, 0x10} }}, want: attest.ErrSignature},
		{name: "rsassa signature from an ecdsa AK", ca: rsaCA, roots: roots, q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) {
			e.AKCert, e.AKPublic, e.AKChain = ca.AKCert.Raw, ca.AKPublic, [][]byte{ca.Intermediate.Raw}
		}}, want: attest.ErrSignature},
		{name: "ecdsa signature from an rsa AK", roots: parseRoots(t, rsaCA.RootsPEM()), q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) {
			e.AKCert, e.AKPublic, e.AKChain = rsaCA.AKCert.Raw, rsaCA.AKPublic, [][]byte{rsaCA.Intermediate.Raw}
		}}, want: attest.ErrSignature},

		// The enclave key.
		{name: "enclave key rsa-1024", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.PublicKey = spki(t, fakeRSA(1024, 65537)) }}, want: attest.ErrKey},
		// An EC P-256 key is an HPKE key now (attest.ParseBoundKey): accepted
		// as a key, then refused because the quote binds another.
		{name: "enclave key ec", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.PublicKey = spki(t, &ecKey(t).PublicKey) }}, want: attest.ErrBinding},
		{name: "enclave key garbage", q: tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.PublicKey = []byte("garbage") }}, want: attest.ErrKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			qca := c.ca
			if qca == nil {
				qca = ca
			}
			r := c.roots
			if r == nil {
				r = parseRoots(t, qca.RootsPEM())
			}
			at := c.at
			if at.IsZero() && !c.noAt {
				at = testTime
			}
			v := newVerifier(t, tpm.Options{Roots: r, AllowSHA1: c.sha1})
			e, err := qca.Envelope(enclaveKey(t), c.q)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := tpm.VerifyEnvelope(v, e, at)
			checkResult(t, cl, err, c.want)
			if err != nil {
				t.Log(err)
			}
			// Through Verify too, where the envelope survives encoding.
			if b, merr := e.Marshal(); merr == nil {
				cl, err2 := v.Verify(b, at)
				checkResult(t, cl, err2, c.want)
			}
		})
	}
	if n := tpm.DecodePanics(); n != 0 {
		t.Fatalf("%d decoder panics", n)
	}
}

func pcrMap(n, size int) map[int][]byte {
	m := make(map[int][]byte, n)
	for i := range n {
		m[i] = bytes.Repeat([]byte{byte(i + 1)}, size)
	}
	return m
}

// TestHostileEnvelopes feeds Verify and VerifyEnvelope what is not a tpm2
// envelope.
func TestHostileEnvelopes(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	v := verifierFor(t, ca)
	good := evidence(t, ca, tpmtest.Quote{})

	var fields map[string]cbor.RawMessage
	if err := cbor.Unmarshal(good, &fields); err != nil {
		t.Fatal(err)
	}
	withField := func(k string, val any) []byte {
		m := map[string]cbor.RawMessage{}
		for fk, fv := range fields {
			m[fk] = fv
		}
		raw, _ := cbor.Marshal(val)
		m[k] = raw
		b, err := cbor.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	snp := withField("format", "sev-snp")
	for name, ev := range map[string][]byte{
		"nil":             nil,
		"garbage":         []byte("garbage"),
		"trailing byte":   append(bytes.Clone(good), 0),
		"truncated":       good[:len(good)-1],
		"unknown field":   withField("ak_name", []byte{1}),
		"sev-snp field":   withField("report", []byte{1}),
		"sev-snp format":  snp,
		"nitro format":    withField("format", "nitro"),
		"pcrs as text":    withField("pcrs", "0"),
		"pcr index 24":    withField("pcrs", map[int][]byte{24: make([]byte, 32)}),
		"ak_chain of 5":   withField("ak_chain", [][]byte{{1}, {1}, {1}, {1}, {1}}),
		"huge":            make([]byte, attest.MaxEvidence+1),
		"cose":            {0x84, 0x40, 0xa0, 0x40, 0x40},
		"indefinite map":  append([]byte{0xbf}, append(bytes.Clone(good[1:]), 0xff)...),
		"empty map":       {0xa0},
		"ak_public empty": withField("ak_public", []byte{}),
		"signature absent": func() []byte {
			f := fields["signature"]
			delete(fields, "signature")
			b, _ := cbor.Marshal(fields)
			fields["signature"] = f
			return b
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := v.Verify(ev, testTime)
			checkResult(t, c, err, attest.ErrMalformed)
			if len(err.Error()) > 400 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
		})
	}

	// VerifyEnvelope on envelopes envelope.Decode never returns.
	e, err := ca.Envelope(enclaveKey(t), tpmtest.Quote{})
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*envelope.Envelope){
		"sev-snp":         func(e *envelope.Envelope) { e.Format = attest.FormatSEVSNP },
		"no quote":        func(e *envelope.Envelope) { e.Quote = nil },
		"no signature":    func(e *envelope.Envelope) { e.Signature = nil },
		"no pcrs":         func(e *envelope.Envelope) { e.PCRs = nil },
		"no ak":           func(e *envelope.Envelope) { e.AKCert, e.AKPublic = nil, nil },
		"ak_chain of 100": func(e *envelope.Envelope) { e.AKChain = make([][]byte, 100) },
		"pcr index -1":    func(e *envelope.Envelope) { e.PCRs[-1] = make([]byte, 32) },
	} {
		t.Run("envelope "+name, func(t *testing.T) {
			c := *e
			c.PCRs = clonePCRs(e.PCRs)
			edit(&c)
			cl, err := tpm.VerifyEnvelope(v, &c, testTime)
			checkResult(t, cl, err, attest.ErrMalformed)
		})
	}
	c, err := tpm.VerifyEnvelope(v, nil, testTime)
	checkResult(t, c, err, attest.ErrMalformed)
}
