package snp_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest/snp"
)

func TestParseRootsAMD(t *testing.T) {
	var all []byte
	for _, p := range []string{"Milan", "Genoa", "Turin"} {
		all = append(all, amdVCEKChains[p]...)
		all = append(all, amdVLEKChains[p]...)
	}
	r := parseRoots(t, all)
	want := []string{"Milan/VCEK", "Milan/VLEK", "Genoa/VCEK", "Genoa/VLEK", "Turin/VCEK", "Turin/VLEK"}
	if got := snp.Pairs(r); !slices.Equal(got, want) {
		t.Errorf("pairs %v; want %v", got, want)
	}
	// The test CA's roots: an ASK pair and an ASVK pair.
	if got := snp.Pairs(rootsOf(t, mainCA(t))); !slices.Equal(got, []string{"Milan/VCEK", "Milan/VLEK"}) {
		t.Errorf("test CA pairs %v", got)
	}
	// CRLF line ends and blank lines between blocks are white space.
	crlf := bytes.ReplaceAll(amdVCEKChains["Milan"], []byte("\n"), []byte("\r\n"))
	parseRoots(t, append(append([]byte("\n\n"), crlf...), "\n\n"...))
}

func TestParseRootsRefuses(t *testing.T) {
	milan, genoa := amdVCEKChains["Milan"], amdVCEKChains["Genoa"]
	ask, ark := pemBlocks(t, milan)[0], pemBlocks(t, milan)[1]
	genoaARK := pemBlocks(t, genoa)[1]
	test := pemBlocks(t, mainCA(t).RootsPEM())
	rome := selfSigned(t, "ARK-Rome")
	var many []byte
	for range 33 {
		many = append(many, milan...)
	}
	for name, tc := range map[string]struct {
		pem  []byte
		want string
	}{
		"empty":                  {nil, "no certificate"},
		"white space":            {[]byte(" \n\t"), "no certificate"},
		"one certificate":        {ask, "1 certificates"},
		"three certificates":     {cat(ask, ark, ask), "3 certificates"},
		"ark then ask":           {cat(ark, ask), "ARK-Milan, ARK-Genoa or ARK-Turin"},
		"ask with another's ark": {cat(ask, genoaARK), "SEV-Genoa"},
		"ask of another ark":     {cat(ask, test[1]), "not signed by ARK-Milan"},
		"a test ASK, AMD's ARK":  {cat(test[0], ark), "not signed by ARK-Milan"},
		"ark twice":              {cat(ark, ark), "first certificate's common name"},
		"unknown product":        {cat(rome, rome), "ARK-Rome"},
		"text before":            {cat([]byte("AMD roots\n"), milan), "text outside a PEM block"},
		"text between":           {cat(ask, []byte("# the ARK\n"), ark), "text outside a PEM block"},
		"text after":             {cat(milan, []byte("end")), "text outside a PEM block"},
		"private key block":      {cat(ask, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})), "PRIVATE KEY"},
		"headers":                {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"a": "b"}, Bytes: pemBlockDER(t, ask)}), "headers"},
		"not a certificate":      {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("x")}), "certificate 1"},
		"truncated":              {milan[:len(milan)-30], "not a valid PEM block"},
		"33 pairs":               {many, "more than 32 pairs"},
		"over 256 KiB":           {make([]byte, 256<<10+1), "more than"},
	} {
		_, err := snp.ParseRoots(tc.pem)
		if err == nil || !strings.HasPrefix(err.Error(), "snp: roots: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want one mentioning %q", name, err, tc.want)
		}
	}
}

// TestEmbeddedRoots: the default roots are go-sev-guest's Milan, Genoa and
// Turin ASK/ARK pairs, whose ARKs have the pinned fingerprints (and the
// Milan one is testvectors/snp's), and another ARK in their place is
// refused.
func TestEmbeddedRoots(t *testing.T) {
	r, err := snp.ParseAMDRoots(amdVCEKChains["Milan"], amdVCEKChains["Genoa"], amdVCEKChains["Turin"])
	if err != nil {
		t.Fatal(err)
	}
	if got := snp.Pairs(r); !slices.Equal(got, []string{"Milan/VCEK", "Genoa/VCEK", "Turin/VCEK"}) {
		t.Errorf("pairs %v", got)
	}
	if len(snp.ARKSHA256) != 3 {
		t.Fatalf("%d pinned ARKs", len(snp.ARKSHA256))
	}
	for product, chain := range amdVCEKChains {
		blocks := pemBlocks(t, chain)
		sum := sha256.Sum256(pemBlockDER(t, blocks[1]))
		if hex.EncodeToString(sum[:]) != snp.ARKSHA256[product] {
			t.Errorf("%s ARK %x is not the pinned %s", product, sum, snp.ARKSHA256[product])
		}
	}
	if !bytes.Equal(amdVCEKChains["Milan"], readVector(t, realASKARKFile)) {
		t.Error("go-sev-guest's Milan chain differs from testvectors/snp's")
	}
	for name, chains := range map[string][][]byte{
		"a test CA's ARK":      {mainCA(t).RootsPEM()[:pemLen(mainCA(t).RootsPEM(), 2)], amdVCEKChains["Genoa"], amdVCEKChains["Turin"]},
		"no Turin":             {amdVCEKChains["Milan"], amdVCEKChains["Genoa"]},
		"Milan twice":          {amdVCEKChains["Milan"], amdVCEKChains["Milan"], amdVCEKChains["Genoa"], amdVCEKChains["Turin"]},
		"a VLEK pair in place": {amdVLEKChains["Milan"], amdVCEKChains["Genoa"], amdVCEKChains["Turin"]},
	} {
		if _, err := snp.ParseAMDRoots(chains...); err == nil || !strings.HasPrefix(err.Error(), "snp: the embedded") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// pemBlocks splits b into its PEM blocks, each still PEM.
func pemBlocks(t testing.TB, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for {
		blk, rest := pem.Decode(b)
		if blk == nil {
			return out
		}
		out = append(out, pem.EncodeToMemory(blk))
		b = rest
	}
}

func pemBlockDER(t testing.TB, b []byte) []byte {
	t.Helper()
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block")
	}
	return blk.Bytes
}

// selfSigned is a self-signed CA certificate named cn, in PEM.
func selfSigned(t testing.TB, cn string) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, IsCA: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
