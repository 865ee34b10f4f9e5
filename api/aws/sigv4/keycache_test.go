package sigv4_test

import (
	"testing"

	"github.com/attestkms/attestkms/api/aws/sigv4"
	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/httpsig"
)

// TestCachedSigningKey: with a KeyCache, what the SDK signs verifies, again
// from the cache; a wrong signature and an unknown key are still refused;
// after the secret changes, the old secret's signatures are refused though
// its key was cached, and the new secret's verify.
func TestCachedSigningKey(t *testing.T) {
	secret := testSecret
	lookup := func(id string) ([]byte, bool) { return []byte(secret), id == testAKID }
	keys := hmacauth.NewKeyCache(0)
	v := &sigv4.Verifier{Service: "kms", Lookup: lookup, Keys: keys}
	for range 2 {
		r, body := sdkSigned(t, nil)
		if res, err := v.Verify(r, body, testTime); err != nil || res.AccessKeyID != testAKID {
			t.Fatalf("%v, %v", res, err)
		}
		if keys.Len() != 1 {
			t.Fatalf("%d keys cached", keys.Len())
		}
	}
	r, body := sdkSigned(t, nil)
	r.Header.Set("X-Amz-Target", "TrentService.Decrypt") // signed: the signature no longer matches
	res, err := v.Verify(r, body, testTime)
	checkErr(t, res, err, httpsig.ErrSignature)
	for _, c := range []struct{ id, secret string }{{"AKIAUNKNOWNUNKNOWN00", testSecret}, {testAKID, testSecret + "x"}} {
		req := kmsRequest(t, testURL, "Encrypt", testBody)
		sdkSign(t, req, testBody, c.id, c.secret, "us-east-1", testTime)
		r, body := receive(t, req)
		res, err := v.Verify(r, body, testTime)
		checkErr(t, res, err, httpsig.ErrSignature)
	}

	secret = "a-new-secret-after-rotation-0123456789ab"
	r, body = sdkSigned(t, nil) // still the old secret's
	res, err = v.Verify(r, body, testTime)
	checkErr(t, res, err, httpsig.ErrSignature)
	for range 2 {
		req := kmsRequest(t, testURL, "Encrypt", testBody)
		sdkSign(t, req, testBody, testAKID, secret, "us-east-1", testTime)
		r, body := receive(t, req)
		if _, err := v.Verify(r, body, testTime); err != nil {
			t.Fatalf("new secret: %v", err)
		}
	}
	r, body = sdkSigned(t, nil)
	res, err = v.Verify(r, body, testTime)
	checkErr(t, res, err, httpsig.ErrSignature)
	if keys.Len() != 1 {
		t.Fatalf("%d keys cached", keys.Len())
	}
}
