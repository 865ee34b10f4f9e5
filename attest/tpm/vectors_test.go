package tpm_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/tpm"
)

// The derived files of testvectors/tpm (see its README): the real quotes as
// attestkms envelopes, and Google's roots in PEM. TestDerivedVectors makes
// them again and insists on the committed bytes; with
// ATTESTKMS_WRITE_VECTORS=1 it writes them instead.
func derivedVectors(t testing.TB) map[string][]byte {
	files := map[string][]byte{
		"google_tpm_ek_root_1.pem": pemCert(readVector(t, "tpm_ek_root_1.cer")),
		"google_ek_ak_ca_root.pem": pemCert(readVector(t, "gcp_ek_ak_ca_root.crt")),
	}
	for bank, name := range map[string]string{"SHA1": "sha1", "SHA256": "sha256", "SHA384": "sha384"} {
		files["gce-cos-85-nonce9009."+name+".cbor"] = marshal(t, gceEnvelope(t, bank))
	}
	return files
}

func TestDerivedVectors(t *testing.T) {
	write := os.Getenv("ATTESTKMS_WRITE_VECTORS") == "1"
	for name, want := range derivedVectors(t) {
		path := filepath.Join(vectorDir, name)
		if write {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got := readVector(t, name); !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the real vector gives (ATTESTKMS_WRITE_VECTORS=1 rewrites it)", path)
		}
	}
}

// vector is a scenario file of testvectors/tpm (see its README).
type vector struct {
	Document    string `json:"document"`
	Format      string `json:"format"`
	Roots       string `json:"roots"`
	AllowSHA1   bool   `json:"allow_sha1"`
	At          string `json:"at"`
	Expect      string `json:"expect"`
	Description string `json:"description"`
}

var kindNames = map[string]error{
	"ok":           nil,
	"ErrMalformed": attest.ErrMalformed,
	"ErrSignature": attest.ErrSignature,
	"ErrChain":     attest.ErrChain,
	"ErrExpired":   attest.ErrExpired,
	"ErrKey":       attest.ErrKey,
	"ErrPolicy":    attest.ErrPolicy,
	"ErrBinding":   attest.ErrBinding,
}

// TestVectors runs every scenario of testvectors/tpm through a Verifier
// configured as it says, at its time, and through attest.Set as the server
// wires it.
func TestVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 7 {
		t.Fatalf("only %d scenarios", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var vec vector
			b := readVector(t, filepath.Base(path))
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&vec); err != nil {
				t.Fatal(err)
			}
			want, ok := kindNames[vec.Expect]
			if !ok || vec.Format != string(attest.FormatTPM2) || vec.Description == "" || vec.Roots == "" {
				t.Fatalf("scenario %+v", vec)
			}
			at, err := time.Parse(time.RFC3339, vec.At)
			if err != nil {
				t.Fatal(err)
			}
			v := newVerifier(t, tpm.Options{Roots: parseRoots(t, readVector(t, vec.Roots)), AllowSHA1: vec.AllowSHA1})
			doc := readVector(t, vec.Document)
			c, err := v.Verify(doc, at)
			checkResult(t, c, err, want)
			set := &attest.Set{Envelopes: map[attest.Format]attest.Verifier{attest.FormatTPM2: v}}
			c, err = set.Verify(doc, at)
			checkResult(t, c, err, want)
		})
	}
}
