package policy

import "testing"

// TestDenyWithWildcardExcusesNoImage: the safety check excuses an
// unconditioned Allow when a Deny "surely denies" every request that does
// not prove one of the images it lists (deniesOtherImages: a negated String
// condition on an image key that holds when the key is absent). It must look
// at the values: StringNotLike "*" lists every image, and "ab*" every image
// whose hash starts with ab (found by trying images, the reason pins()
// refuses a wildcard in an Allow). Each such policy is refused; should one
// pass, the test reports whether the evaluator itself allows kms:Decrypt to
// genuine evidence of an image the policy does not name.
func TestDenyWithWildcardExcusesNoImage(t *testing.T) {
	foreign := map[string][]string{
		"kms:RecipientAttestation:Format":      {"nitro"},
		"kms:RecipientAttestation:ImageSha384": {"abf0"},
		"kms:RecipientAttestation:PCR0":        {"abf0"},
		"kms:RecipientAttestation:PCR8":        {"abf0"},
	}
	for _, val := range []string{`"*"`, `"ab*"`, `["ab","*"]`, `"?*"`} {
		for _, key := range []string{"kms:RecipientAttestation:ImageSha384", "kms:RecipientAttestation:PCR8"} {
			cond := `{"StringNotLike":{"` + key + `":` + val + `}}`
			p := mustParse(t, doc(allowStmt(account, `"kms:*"`, ""), denyStmt(`"*"`, `"kms:*"`, cond)))
			if fs := p.CheckAttestationSafety("111122223333", keyARN); len(fs) > 0 {
				continue // refused: fixed
			}
			allowed := p.Evaluate(&Request{Principal: "arn:aws:iam::111122223333:root", Account: "111122223333",
				Action: "kms:Decrypt", Resource: keyARN, Context: foreign}) == Allow
			t.Errorf("Allow kms:* + Deny %s passes the safety check (evaluator allows kms:Decrypt to an enclave of image abf0…: %v)", cond, allowed)
		}
	}
}
