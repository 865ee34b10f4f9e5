package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	sdkerr "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	hwmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/kms"
)

// random asks each dialect for random bytes: a keyless request any
// credential may make.
func (c clients) awsRandom() error {
	_, err := c.aws.GenerateRandom(context.Background(), &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(16)})
	return err
}

func (c clients) huaweiRandom() error {
	_, err := c.huawei.CreateRandom(&hwmodel.CreateRandomRequest{Body: &hwmodel.GenRandomRequestBody{RandomDataLength: "256"}})
	return err
}

func (c clients) tencentRandom() error {
	r := tckms.NewGenerateRandomRequest()
	n := uint64(16)
	r.NumberOfBytes = &n
	_, err := c.tencent.GenerateRandom(r)
	return err
}

// Each dialect's throttling error, as its SDK reports it.
func awsThrottled(err error) bool {
	var ae smithy.APIError
	var re *awshttp.ResponseError
	return errors.As(err, &ae) && ae.ErrorCode() == "ThrottlingException" && errors.As(err, &re) && re.HTTPStatusCode() == http.StatusBadRequest
}

func huaweiThrottled(err error) bool {
	var se *sdkerr.ServiceResponseError
	return errors.As(err, &se) && se.ErrorCode == "APIG.0308" && se.StatusCode == http.StatusTooManyRequests
}

func tencentThrottled(err error) bool {
	var te *tcerr.TencentCloudSDKError
	return errors.As(err, &te) && te.Code == "RequestLimitExceeded"
}

// TestThrottledThroughEachSDK: an access key over its budget gets its
// dialect's throttling error through the official SDK — AWS
// ThrottlingException (400), Huawei APIG.0308 (429), Tencent
// RequestLimitExceeded — while another access key is served. The budget is
// the key's, whatever dialect it speaks.
func TestThrottledThroughEachSDK(t *testing.T) { testserver.Stores(t, testThrottledThroughEachSDK) }

func testThrottledThroughEachSDK(t *testing.T, store string) {
	srv := testserver.Start(t, testserver.Options{Store: store, RateLimit: 0.01}) // a bucket of one, refilled in 100 s
	ctx := context.Background()
	key := func(name string) clients {
		cred, err := srv.Service.Admin().CreateCredential(ctx, &kms.CreateCredentialRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return threeSDKsAs(t, srv, cred.AccessKeyID, string(cred.SecretAccessKey))
	}
	dialects := []struct {
		name      string
		call      func(clients) error
		throttled func(error) bool
	}{
		{"aws", clients.awsRandom, awsThrottled},
		{"huawei", clients.huaweiRandom, huaweiThrottled},
		{"tencent", clients.tencentRandom, tencentThrottled},
	}
	for i, d := range dialects {
		busy, other := key("busy-"+d.name), key("other-"+d.name)
		if err := d.call(busy); err != nil {
			t.Fatalf("%s: the first request: %v", d.name, err)
		}
		if err := d.call(busy); !d.throttled(err) {
			t.Fatalf("%s: over the budget: %v; want the dialect's throttling error", d.name, err)
		}
		next := dialects[(i+1)%len(dialects)]
		if err := next.call(busy); !next.throttled(err) {
			t.Fatalf("%s: the same key through %s: %v; want its throttling error", d.name, next.name, err)
		}
		if err := d.call(other); err != nil {
			t.Fatalf("%s: another access key: %v", d.name, err)
		}
	}
	// The throttled requests of a known key are audited, one summary line
	// per key and interval with the codes they got: never a line each.
	if err := srv.Service.AuditLog().Flush(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	summaries := 0
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var r struct {
			Count   int
			Reasons map[string]int
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(line, []byte(`"operation":"ThrottledRequests"`)) {
			summaries++
			if r.Count != 2 || len(r.Reasons) != 2 {
				t.Errorf("the summary %s: want the key's two throttled requests, through two dialects", line)
			}
		}
	}
	if summaries != len(dialects) {
		t.Errorf("%d summaries of throttled requests; want one per throttled key (%d)", summaries, len(dialects))
	}
}

// from is an HTTP client whose connections leave from ip (a loopback
// address): another source, as the server sees it.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestUnauthenticatedFlood: once an address has spent its budget of failed
// authentications, its requests that name no access key the server knows
// are refused with the dialect's throttling error before their signatures
// are checked, and are not audited; those that name a known key are
// checked: answered with the same throttling error if they fail (counted
// in the address's one summary), served if they verify (the address may be
// a NAT's). Another address is served, its bad signatures still answered
// as such.
func TestUnauthenticatedFlood(t *testing.T) { testserver.Stores(t, testUnauthenticatedFlood) }

func testUnauthenticatedFlood(t *testing.T, store string) {
	srv := testserver.Start(t, testserver.Options{Store: store, AuthFailureLimit: 0.1}) // a bucket of one, refilled in 10 s
	ctx := context.Background()
	auditLines := func() int {
		b, _ := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
		return bytes.Count(b, []byte("\n"))
	}
	clientAs := func(ip, ak, secret string) *awskms.Client {
		return awskms.New(awskms.Options{Region: srv.Region, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1, HTTPClient: from(ip),
			Credentials: credentials.NewStaticCredentialsProvider(ak, secret, "")})
	}
	client := func(ip, secret string) *awskms.Client { return clientAs(ip, srv.AccessKey, secret) }
	badSignature := func(err error) bool {
		var ae smithy.APIError
		return errors.As(err, &ae) && ae.ErrorCode() == "InvalidSignatureException"
	}

	flooder := client("127.0.0.1", "not-the-secret")
	before := auditLines()
	if _, err := flooder.ListKeys(ctx, &awskms.ListKeysInput{}); !badSignature(err) {
		t.Fatalf("the first bad signature: %v", err)
	}
	for i := range 50 {
		if _, err := flooder.ListKeys(ctx, &awskms.ListKeysInput{}); !awsThrottled(err) {
			t.Fatalf("bad signature %d of the flood: %v; want ThrottlingException", i+2, err)
		}
	}
	if err := srv.Service.AuditLog().Flush(); err != nil {
		t.Fatal(err)
	}
	if n := auditLines() - before; n != 1 {
		t.Fatalf("the flood wrote %d audit lines; want one summary", n)
	}
	// Until its budget refills, the address's requests that name an
	// unknown key are refused unchecked; a correct signature is served, in
	// any dialect.
	if _, err := clientAs("127.0.0.1", "AKIAUNKNOWNUNKNOWN12", srv.Secret).ListKeys(ctx, &awskms.ListKeysInput{}); !awsThrottled(err) {
		t.Fatalf("an unknown key from the throttled address: %v", err)
	}
	if _, err := client("127.0.0.1", srv.Secret).ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatalf("a good signature from the throttled address: %v", err)
	}
	if err := threeSDKs(t, srv).tencentRandom(); err != nil {
		t.Fatalf("Tencent from the throttled address: %v", err)
	}

	// Another address is served.
	if _, err := client("127.0.0.2", "not-the-secret").ListKeys(ctx, &awskms.ListKeysInput{}); !badSignature(err) {
		t.Fatalf("a bad signature from another address: %v", err)
	}
	if _, err := client("127.0.0.3", srv.Secret).ListKeys(ctx, &awskms.ListKeysInput{}); err != nil {
		t.Fatalf("a good signature from another address: %v", err)
	}
}
