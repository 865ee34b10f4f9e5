package main

import (
	"encoding/json"
	"strings"
	"testing"
)

const generatedNitro = "../../testvectors/nitro/generated/"

// TestVerifyEvidenceNitroTPM: a NitroTPM document prints its 24 registers in
// lower-case hex and its recipient key; one binding an EC P-256 key is a
// Recipient for HPKE_P256_SHA256_AES256GCM (docs/hpke.md).
func TestVerifyEvidenceNitroTPM(t *testing.T) {
	for _, tc := range []struct {
		doc, typ, alg string
		usable        bool
	}{
		{"nitrotpm_ok.cose", "RSA-2048", "RSAES_OAEP_SHA_256", true},
		{"nitrotpm_ok_ec_p256.cose", "EC P-256", "HPKE_P256_SHA256_AES256GCM", true},
	} {
		code, out, errs := runCmd("verify-evidence", "--in", generatedNitro+tc.doc,
			"--nitro-roots", generatedNitro+"nitro_test_root.pem", "--at", "2026-01-01T00:00:01Z")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.doc, code, errs)
		}
		var c claimsJSON
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatalf("%s: %v\n%s", tc.doc, err, out)
		}
		if c.Format != "nitrotpm" || len(c.NitroTPMPCRs) != 24 || c.PCRs != nil || c.ImageSha384 != "" || c.Debug ||
			!strings.HasSuffix(c.ModuleID, "-tpm0123456789abcdef") || c.RecipientKey == nil {
			t.Fatalf("%s: claims %+v", tc.doc, c)
		}
		for i, v := range c.NitroTPMPCRs {
			if len(v) != 96 || strings.ToLower(v) != v {
				t.Fatalf("%s: register %s = %q", tc.doc, i, v)
			}
		}
		rk := c.RecipientKey
		if rk.Type != tc.typ || rk.Usable != tc.usable || (rk.Why == "") != tc.usable || len(rk.Algorithms) != 1 || rk.Algorithms[0] != tc.alg {
			t.Fatalf("%s: recipient_key %+v", tc.doc, rk)
		}
		if !tc.usable && (!strings.Contains(rk.Why, "ECDSA P-256") || !strings.Contains(errs, "cannot receive a secret")) {
			t.Fatalf("%s: why %q, stderr %q", tc.doc, rk.Why, errs)
		}
		if !strings.Contains(out, `"recipient_key": {`) || !strings.Contains(out, `"type": "`+tc.typ+`"`) {
			t.Fatalf("%s: output %s", tc.doc, out)
		}
	}
	// A broken one is refused, and says why.
	code, _, errs := runCmd("verify-evidence", "--in", generatedNitro+"nitrotpm_both_pcrs.cose",
		"--nitro-roots", generatedNitro+"nitro_test_root.pem", "--at", "2026-01-01T00:00:01Z")
	if code != 1 || !strings.Contains(errs, `both "pcrs" and "nitrotpm_pcrs"`) {
		t.Fatalf("exit %d, %q", code, errs)
	}
}

// TestVerifyEvidenceRealNitroTPM: the real NitroTPM document verifies with
// the embedded AWS root at its own time (exit 0), no key to wrap to.
func TestVerifyEvidenceRealNitroTPM(t *testing.T) {
	code, out, errs := runCmd("verify-evidence", "--in", "../../testvectors/nitro/nitrotpm_doc_2026-03-22_nokey.cose", "--at", "2026-03-22T02:56:01Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var c claimsJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if c.Format != "nitrotpm" || c.ModuleID != "i-016a52105bfeb18a2-tpm0000000000000000" || len(c.NitroTPMPCRs) != 24 || c.PublicKeySHA256 != "" ||
		c.RecipientKey == nil || c.RecipientKey.Usable || c.RecipientKey.Type != "none" || !strings.Contains(c.RecipientKey.Why, "no public_key") ||
		c.NitroTPMPCRs["4"] != "3382a70f46b33cde1f487166eb3e148d5ad1253879ccf9788e1a0349313b0a5659b5d214d50d72f6021ca9f8dbe28776" {
		t.Fatalf("claims %+v", c)
	}
}
