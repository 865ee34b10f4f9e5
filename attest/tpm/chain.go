package tpm

import (
	"bytes"
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
// the Verifier's root certificates at now, or finds it verified before in
// the cache. Validity windows of the certificates used are checked first,
// so that an expired one is reported as such (ErrExpired), not as an
// untrusted chain.
//
// Only the certificates of ak_chain on the issuer path from ak_cert to a
// root (akPath) are used, and the cache key covers ak_cert and those alone:
// ak_chain is covered by no signature, so certificates beside the path
// (padding, duplicates, another order) would otherwise make one genuine
// chain a new cache key each time, and each would spend the budget for new
// chains (Options.ColdChain) and push genuine chains out of the cache.
func (v *Verifier) verifyChain(leaf *x509.Certificate, chain [][]byte, now time.Time) error {
	if now.IsZero() {
		// x509 would read the clock instead.
		return fmt.Errorf("%w: no verification time given", attest.ErrExpired)
	}
	if len(v.roots.certs) == 0 {
		return fmt.Errorf("%w: ak_cert given, but no AK CA certificate is trusted (only pinned keys): send ak_public alone", attest.ErrChain)
	}
	carried := make([]*x509.Certificate, 0, len(chain))
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%w: ak_chain[%d]: %v", attest.ErrChain, i, err)
		}
		carried = append(carried, c)
	}
	path, names, err := v.akPath(leaf, carried)
	if err != nil {
		return err
	}
	raws := make([][]byte, len(path))
	for i, c := range path {
		raws[i] = c.Raw
	}
	ck := keyOf(leaf.Raw, raws)
	if c, ok := v.cache.Get(ck); ok && c.validAt(now) {
		return nil
	}
	chains, err := v.verifyPath(leaf, path, names, now)
	if err != nil {
		return err
	}
	// What the cache must check again at a later time: the validity of
	// every certificate of ak_chain used (as verifyPath checks each) and
	// of the path x509 found, its root included.
	vc := &verifiedChain{leaf: leaf}
	for _, c := range append(path, chains[0]...) {
		vc.windows = append(vc.windows, validity.Of(c.Subject.CommonName, c))
	}
	v.cache.Put(ck, vc)
	return nil
}

// akPath returns the certificates of carried (ak_chain) on the issuer path
// from leaf towards a trusted root, in order, and their names in ak_chain:
// from leaf, the one certificate whose subject is the current one's issuer,
// until a trusted root is that issuer (a copy of the root in ak_chain is
// then left out: the roots have it). Certificates off the path are left out;
// crypto/x509 finds parents by name only, so it could not have used them.
// Where two different certificates of ak_chain both name the issuer sought
// (no device sends that) it refuses (ErrChain), rather than choose. Where
// no certificate names it, or the names loop, the path ends there, and
// firstLink refuses it.
func (v *Verifier) akPath(leaf *x509.Certificate, carried []*x509.Certificate) ([]*x509.Certificate, []string, error) {
	var path []*x509.Certificate
	var names []string
	cur := leaf
	for range len(carried) + 1 {
		for _, root := range v.roots.certs {
			if bytes.Equal(cur.RawIssuer, root.RawSubject) || bytes.Equal(cur.Raw, root.Raw) {
				return path, names, nil
			}
		}
		var next *x509.Certificate
		var nextName string
		for i, c := range carried {
			if !bytes.Equal(cur.RawIssuer, c.RawSubject) || bytes.Equal(c.Raw, cur.Raw) {
				continue
			}
			if next == nil {
				next, nextName = c, fmt.Sprintf("ak_chain[%d]", i)
			} else if !bytes.Equal(next.Raw, c.Raw) {
				return nil, nil, fmt.Errorf("%w: ak_chain holds two different certificates named %.64q, the issuer of %.64q", attest.ErrChain, c.Subject.CommonName, cur.Subject.CommonName)
			}
		}
		if next == nil || slices.ContainsFunc(path, func(p *x509.Certificate) bool { return bytes.Equal(p.Raw, next.Raw) }) {
			return path, names, nil
		}
		path, names = append(path, next), append(names, nextName)
		cur = next
	}
	return path, names, nil
}

// verifyPath is verifyChain's checks of leaf through path (akPath's) to a
// root; it returns x509's verified paths. After the checks that cost no
// signature, and before the whole chain, it verifies the chain's first
// link not known to be genuine (firstLink) and only then asks
// Options.ColdChain.
func (v *Verifier) verifyPath(leaf *x509.Certificate, path []*x509.Certificate, names []string, now time.Time) (paths [][]*x509.Certificate, err error) {
	if ku := leaf.KeyUsage; ku != 0 && ku&x509.KeyUsageDigitalSignature == 0 {
		return nil, fmt.Errorf("%w: ak_cert may not sign (no digitalSignature key usage)", attest.ErrChain)
	}
	if leaf.IsCA {
		return nil, fmt.Errorf("%w: ak_cert is a CA certificate", attest.ErrChain)
	}
	if err := acceptTPMSAN(leaf); err != nil {
		return nil, err
	}
	if err := validity.Of("ak_cert", leaf).Check(now); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for i, c := range path {
		if err := validity.Of(names[i], c).Check(now); err != nil {
			return nil, err
		}
		pool.AddCert(c)
	}
	// Only now, the one link that shows the chain is not a forgery
	// (firstlink.go), then the budget, then the whole chain.
	if err := v.firstLink(leaf, path, names); err != nil {
		return nil, err
	}
	if v.coldChain != nil && !v.coldChain() {
		return nil, attest.ColdChainRefused("AK certificate chain")
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
			return nil, fmt.Errorf("%w: %v", attest.ErrExpired, err)
		}
		return nil, fmt.Errorf("%w: ak_cert does not chain to a trusted AK CA: %v", attest.ErrChain, err)
	}
	v.known.LearnPath(chains[0])
	return chains, nil
}
