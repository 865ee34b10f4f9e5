package sdkhmac

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// CanonicalRequestForTest is the canonical request Verify computes for r,
// with the headers that r's Authorization signs.
func CanonicalRequestForTest(r *http.Request, body []byte) string {
	a, err := ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return "unparseable: " + err.Error()
	}
	values, err := signedValues(r, a.SignedHeaders)
	if err != nil {
		return err.Error()
	}
	uri, _ := verifyURI(r)
	query, _ := canonicalQuery(r.URL.RawQuery)
	sum := sha256.Sum256(body)
	cr := canonicalRequest{method: r.Method, uri: uri, query: query, headers: a.SignedHeaders, values: values, payloadHash: []byte(hex.EncodeToString(sum[:]))}
	return strings.Clone(cr.String())
}
