package snp_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/snp"
)

// vector is a scenario file of testvectors/snp (see its README).
type vector struct {
	Document    string `json:"document"`
	Format      string `json:"format"`
	Roots       string `json:"roots"`
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

// TestVectors runs every scenario of testvectors/snp through a Verifier
// configured as it says, at its time.
func TestVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("only %d vectors", len(files))
	}
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
			if !ok || vec.Expect == "ok" {
				t.Fatalf("expect %q is not an attest kind (no real report can bind our key)", vec.Expect)
			}
			if vec.Format != string(attest.FormatSEVSNP) || vec.Description == "" {
				t.Fatalf("format %q, description %q", vec.Format, vec.Description)
			}
			at, err := time.Parse(time.RFC3339Nano, vec.At)
			if err != nil {
				t.Fatal(err)
			}
			var opts snp.Options
			if vec.Roots != "" {
				opts.Roots = parseRoots(t, readVector(t, vec.Roots))
			}
			c, err := newVerifier(t, opts).Verify(readVector(t, vec.Document), at)
			checkResult(t, c, err, want)
			t.Log(err)
		})
	}
}
