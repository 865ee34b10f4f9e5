package sdkhmac_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
)

// The known answer: huaweicloud-sdk-go-v3 v0.1.207's signer on a KMS
// create-datakey request, and the same value computed by hand (Python's
// hashlib and hmac over the canonical request below), so that the vector
// holds even if the SDK is not at hand.
const (
	katBody = `{"key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","datakey_length":"512"}` + "\n"
	katAuth = "SDK-HMAC-SHA256 Access=AKIAIOSFODNN7EXAMPLE, SignedHeaders=user-agent;x-project-id;x-sdk-date, " +
		"Signature=095979b1249799b03814c31241feac5ed7a02ccca1a6cab43445e4ff0b1d95bd"
	// katCanonical is the canonical request; its last line is the body's SHA-256.
	katCanonical = "POST\n/v1.0/d4e559b49b3b403da5279723299ed4a6/kms/create-datakey/\n\n" +
		"user-agent:huaweicloud-usdk-go/3.0\nx-project-id:d4e559b49b3b403da5279723299ed4a6\nx-sdk-date:20240314T150926Z\n\n" +
		"user-agent;x-project-id;x-sdk-date\n05c18463f1ddc87459919419f028648e6fffb9accd3b3358cc2e86f552509582"
)

func katRequest(t *testing.T) *http.Request {
	r, err := http.NewRequest("POST", "https://kms.cn-north-4.myhuaweicloud.com/v1.0/"+testProject+"/kms/create-datakey", strings.NewReader(katBody))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json;charset=UTF-8")
	r.Header.Set("User-Agent", "huaweicloud-usdk-go/3.0")
	r.Header.Set("X-Project-Id", testProject)
	return r
}

func TestKnownAnswer(t *testing.T) {
	r := katRequest(t)
	if err := sdkhmac.Sign(r, []byte(katBody), testAK, []byte(testSecret), testTime); err != nil {
		t.Fatal(err)
	}
	if got := r.Header.Get("Authorization"); got != katAuth {
		t.Fatalf("Sign:\n got %s\nwant %s", got, katAuth)
	}
	if got := sdkhmac.CanonicalRequestForTest(r, []byte(katBody)); got != katCanonical {
		t.Fatalf("canonical request:\n%q\nwant\n%q", got, katCanonical)
	}
	srv, body := overWire(t, r)
	if _, err := testVerifier().Verify(srv, body, testTime); err != nil {
		t.Fatal(err)
	}
}
