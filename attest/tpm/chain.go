package tpm

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/internal/validity"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// The TCG's TPM attributes (TCG EK Credential Profile, 3.1.2 and
	// tcg-at-tpmManufacturer etc. in its ASN.1 module): a TPM's AK and EK
	// certificates name the TPM by them, in a subjectAltName directoryName.
	oidTPMManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
)

// maxTPMAttribute bounds each TPM attribute's value: real ones are a few
// bytes ("id:474F4F47", "vTPM", "id:20160511").
const maxTPMAttribute = 128

// acceptTPMSAN lets an AK certificate through crypto/x509 when its only
// unhandled critical extension is the subjectAltName TPM certificates carry.
//
// The TCG EK Credential Profile has AK and EK certificates name their TPM in
// a critical subjectAltName holding one directoryName of TPM manufacturer,
// model and version attributes (Google Cloud's vTPM AK certificates do so).
// crypto/x509 handles only DNS, e-mail, IP and URI names, so it records such
// an extension as unhandled and Verify refuses the certificate. Refusing is
// right for a critical extension we do not understand; this one we do: it
// constrains nothing and is only the TPM's name. So a critical
// subjectAltName that is exactly one directoryName holding exactly the
// three TPM attributes, each once, each a UTF8String or PrintableString, is
// removed from c.UnhandledCriticalExtensions (c is our own parse of
// ak_cert); anything else in a critical subjectAltName (another name form,
// another attribute, a second name, trailing bytes) is left there for Verify
// to refuse, and so is every other unhandled critical extension. A
// non-critical subjectAltName was never unhandled.
func acceptTPMSAN(c *x509.Certificate) error {
	i := slices.IndexFunc(c.UnhandledCriticalExtensions, oidSubjectAltName.Equal)
	if i < 0 {
		return nil
	}
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		if err := checkTPMDirectoryName(ext.Value); err != nil {
			return fmt.Errorf("%w: ak_cert has a critical subjectAltName that is not a TPM's name: %v", attest.ErrChain, err)
		}
		c.UnhandledCriticalExtensions = slices.Delete(slices.Clone(c.UnhandledCriticalExtensions), i, i+1)
		return nil
	}
	return fmt.Errorf("%w: ak_cert: unhandled subjectAltName without the extension", attest.ErrChain) // x509 never does this
}

// checkTPMDirectoryName checks a subjectAltName's value (DER GeneralNames)
// is one directoryName whose RDNs (one attribute each, as Google's, or one
// multi-valued RDN, as some TPM vendors') hold exactly the TPM manufacturer,
// model and version.
func checkTPMDirectoryName(der []byte) error {
	in := cryptobyte.String(der)
	var names, name, rdns cryptobyte.String
	if !in.ReadASN1(&names, cbasn1.SEQUENCE) || !in.Empty() {
		return errors.New("not one GeneralNames")
	}
	// directoryName [4] EXPLICIT Name (Name is a CHOICE, so explicit).
	if !names.ReadASN1(&name, cbasn1.Tag(4).ContextSpecific().Constructed()) {
		return errors.New("its first name is not a directoryName")
	}
	if !names.Empty() {
		return errors.New("more than one name")
	}
	if !name.ReadASN1(&rdns, cbasn1.SEQUENCE) || !name.Empty() {
		return errors.New("the directoryName is not one RDNSequence")
	}
	seen := map[string]bool{}
	for !rdns.Empty() {
		var rdn cryptobyte.String
		if !rdns.ReadASN1(&rdn, cbasn1.SET) || rdn.Empty() {
			return errors.New("an RDN is not a non-empty SET")
		}
		for !rdn.Empty() {
			var atv cryptobyte.String
			var oid asn1.ObjectIdentifier
			var tag cbasn1.Tag
			var value cryptobyte.String
			if !rdn.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&oid) ||
				!atv.ReadAnyASN1(&value, &tag) || !atv.Empty() {
				return errors.New("an attribute is not a type and a value")
			}
			if !oid.Equal(oidTPMManufacturer) && !oid.Equal(oidTPMModel) && !oid.Equal(oidTPMVersion) {
				return fmt.Errorf("attribute %s is not a TPM attribute", oid)
			}
			if seen[oid.String()] {
				return fmt.Errorf("attribute %s twice", oid)
			}
			seen[oid.String()] = true
			if tag != cbasn1.UTF8String && tag != cbasn1.PrintableString {
				return fmt.Errorf("attribute %s is not a string", oid)
			}
			if len(value) == 0 || len(value) > maxTPMAttribute {
				return fmt.Errorf("attribute %s is %d bytes; want 1 to %d", oid, len(value), maxTPMAttribute)
			}
		}
	}
	if len(seen) != 3 {
		return fmt.Errorf("%d of the 3 TPM attributes (manufacturer, model, version)", len(seen))
	}
	return nil
}

// verifyChain verifies ak_cert through the ak_chain intermediates to one of
// the Verifier's root certificates at now. Validity windows of the
// certificates the envelope carries are checked first, so that an expired
// one is reported as such (ErrExpired), not as an untrusted chain.
func (v *Verifier) verifyChain(leaf *x509.Certificate, chain [][]byte, now time.Time) (*verifiedChain, error) {
	chains, intermediates, err := v.verifyPath(leaf, chain, now)
	if err != nil {
		return nil, err
	}
	// What the cache must check again at a later time: the validity of
	// every certificate the envelope carries (as verifyPath checks each)
	// and of the path x509 found, its root included.
	vc := &verifiedChain{leaf: leaf}
	for _, c := range append(intermediates, chains[0]...) {
		vc.windows = append(vc.windows, validity.Of(c.Subject.CommonName, c))
	}
	return vc, nil
}

// verifyPath is verifyChain's checks; it returns x509's verified paths and
// the parsed ak_chain. After the checks that cost no signature, and before
// the whole chain, it verifies the chain's first link not known to be
// genuine (firstLink) and only then asks Options.ColdChain.
func (v *Verifier) verifyPath(leaf *x509.Certificate, chain [][]byte, now time.Time) (paths [][]*x509.Certificate, intermediates []*x509.Certificate, err error) {
	if now.IsZero() {
		// x509 would read the clock instead.
		return nil, nil, fmt.Errorf("%w: no verification time given", attest.ErrExpired)
	}
	if len(v.roots.certs) == 0 {
		return nil, nil, fmt.Errorf("%w: ak_cert given, but no AK CA certificate is trusted (only pinned keys): send ak_public alone", attest.ErrChain)
	}
	if ku := leaf.KeyUsage; ku != 0 && ku&x509.KeyUsageDigitalSignature == 0 {
		return nil, nil, fmt.Errorf("%w: ak_cert may not sign (no digitalSignature key usage)", attest.ErrChain)
	}
	if leaf.IsCA {
		return nil, nil, fmt.Errorf("%w: ak_cert is a CA certificate", attest.ErrChain)
	}
	if err := acceptTPMSAN(leaf); err != nil {
		return nil, nil, err
	}
	if err := validity.Of("ak_cert", leaf).Check(now); err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	for i, der := range chain {
		c, perr := x509.ParseCertificate(der)
		if perr != nil {
			return nil, nil, fmt.Errorf("%w: ak_chain[%d]: %v", attest.ErrChain, i, perr)
		}
		if err := validity.Of(fmt.Sprintf("ak_chain[%d]", i), c).Check(now); err != nil {
			return nil, nil, err
		}
		pool.AddCert(c)
		intermediates = append(intermediates, c)
	}
	// Only now, the one link that shows the chain is not a forgery
	// (firstlink.go), then the budget, then the whole chain.
	if err := v.firstLink(leaf, intermediates); err != nil {
		return nil, nil, err
	}
	if v.coldChain != nil && !v.coldChain() {
		return nil, nil, attest.ColdChainRefused("AK certificate chain")
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         v.roots.pool,
		Intermediates: pool,
		CurrentTime:   now,
		// AK certificates carry a TCG purpose (Google's the EK
		// certificate's, 2.23.133.8.1; others the AK's, 2.23.133.8.3) or
		// none: what makes a key an AK here is the CA that certified it.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return nil, nil, fmt.Errorf("%w: %v", attest.ErrExpired, err)
		}
		return nil, nil, fmt.Errorf("%w: ak_cert does not chain to a trusted AK CA: %v", attest.ErrChain, err)
	}
	if path := chains[0]; len(path) > 2 {
		for _, ca := range path[1 : len(path)-1] {
			v.known.Learn(ca, leaf)
		}
	}
	return chains, intermediates, nil
}
