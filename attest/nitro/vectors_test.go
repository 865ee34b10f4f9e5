package nitro_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
)

// vector is a scenario file of testvectors/nitro (see its README).
type vector struct {
	Document    string `json:"document"`
	Format      string `json:"format"`
	Roots       string `json:"roots"`
	At          string `json:"at"`
	Expect      string `json:"expect"`
	Description string `json:"description"`
	Claims      *struct {
		ModuleID         string `json:"module_id"`
		Digest           string `json:"digest"`
		Time             string `json:"time"`
		Debug            bool   `json:"debug"`
		PCRCount         int    `json:"pcr_count"`
		PCR0             string `json:"pcr0"`
		NitroTPMPCRCount int    `json:"nitrotpm_pcr_count"`
		NitroTPMPCR4     string `json:"nitrotpm_pcr4"`
		KeyUsable        *bool  `json:"key_usable"`
		PublicKeySHA256  string `json:"public_key_sha256"`
		UserData         string `json:"user_data_hex"`
		Nonce            string `json:"nonce_hex"`
	} `json:"claims"`
}

var kindNames = map[string]error{
	"ok":           nil,
	"ErrMalformed": attest.ErrMalformed,
	"ErrSignature": attest.ErrSignature,
	"ErrChain":     attest.ErrChain,
	"ErrExpired":   attest.ErrExpired,
	"ErrKey":       attest.ErrKey,
}

// TestVectors runs every vector of testvectors/nitro, real and generated,
// through a Verifier configured as the vector says, at its time.
func TestVectors(t *testing.T) {
	var files []string
	for _, dir := range []string{vectorDir, filepath.Join(vectorDir, "generated")} {
		m, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 40 {
		t.Fatalf("only %d vectors", len(files))
	}
	seen := map[string]bool{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var vec vector
			if err := json.Unmarshal(b, &vec); err != nil {
				t.Fatal(err)
			}
			want, ok := kindNames[vec.Expect]
			if !ok {
				t.Fatalf("expect %q is not ok or an attest kind", vec.Expect)
			}
			seen[vec.Expect] = true
			at, err := time.Parse(time.RFC3339Nano, vec.At)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Dir(file)
			opts := nitro.Options{Format: attest.Format(vec.Format)}
			if vec.Roots != "" {
				opts.Roots = readRoots(t, filepath.Join(dir, vec.Roots))
			}
			doc, err := os.ReadFile(filepath.Join(dir, vec.Document))
			if err != nil {
				t.Fatal(err)
			}
			c, err := newVerifier(t, opts).Verify(doc, at)
			if want == nil && vec.Claims != nil && vec.Claims.Debug {
				// A genuine document of an enclave in debug mode: the
				// default refuses it, after every other check; AllowDebug
				// (verify-evidence, --allow-debug-enclaves) admits it.
				checkResult(t, c, err, attest.ErrPolicy)
				opts.AllowDebug = true
				c, err = newVerifier(t, opts).Verify(doc, at)
			}
			checkResult(t, c, err, want)
			if err != nil {
				t.Log(err)
			}
			if want != nil {
				return
			}
			w := vec.Claims
			if w == nil {
				t.Fatal("an ok vector without claims")
			}
			sum := sha256.Sum256(c.PublicKeyDER)
			got := [...]string{c.ModuleID, c.Digest, c.Time.Format(time.RFC3339Nano), hex.EncodeToString(c.PCRs[0]), hex.EncodeToString(sum[:]), hex.EncodeToString(c.UserData), hex.EncodeToString(c.Nonce)}
			exp := [...]string{w.ModuleID, w.Digest, w.Time, w.PCR0, w.PublicKeySHA256, w.UserData, w.Nonce}
			if got != exp || c.Debug != w.Debug || len(c.PCRs) != w.PCRCount || string(c.Format) != vec.Format {
				t.Errorf("claims %q, debug %v, %d pcrs, format %s; want %q, %v, %d, %s", got, c.Debug, len(c.PCRs), c.Format, exp, w.Debug, w.PCRCount, vec.Format)
			}
			if len(c.NitroTPMPCRs) != w.NitroTPMPCRCount || hex.EncodeToString(c.NitroTPMPCRs[4]) != w.NitroTPMPCR4 {
				t.Errorf("%d NitroTPM registers, register 4 %x; want %d, %s", len(c.NitroTPMPCRs), c.NitroTPMPCRs[4], w.NitroTPMPCRCount, w.NitroTPMPCR4)
			}
			if w.KeyUsable != nil && (c.KeyUnusable == nil) != *w.KeyUsable {
				t.Errorf("key usable %v (%v); want %v", c.KeyUnusable == nil, c.KeyUnusable, *w.KeyUsable)
			}
		})
	}
	for kind := range kindNames {
		if !seen[kind] {
			t.Errorf("no vector expects %s", kind)
		}
	}
}

func readRoots(t testing.TB, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var roots []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, c)
	}
	if len(roots) == 0 {
		t.Fatalf("no roots in %s", path)
	}
	return roots
}
