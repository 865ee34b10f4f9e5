package enclave

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/attestkms/attestkms/internal/sigv4"
)

// Client calls attestkms's AWS KMS dialect.
type Client struct {
	// Endpoint is attestkms's URL, e.g. https://kms.internal:8443.
	Endpoint string
	// Region is the region to sign for; "" is us-east-1. It must be the
	// server's region (attestkms serve --region): the server refuses a
	// request signed for another.
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	// HTTPClient sends the requests; nil is a client with a 30-second timeout.
	// Pin the server's CA in its transport for TLS.
	HTTPClient *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	seq atomic.Uint64
}

// APIError is an error answer of attestkms, in AWS's shape.
type APIError struct {
	Status  int
	Type    string
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("%s: %s", e.Type, e.Message) }

// maxAnswer bounds what Call reads of an answer: attestkms's largest (a data
// key pair's public key, blob and CMS) is a few KiB.
const maxAnswer = 1 << 20

// Call sends one operation (e.g. "GenerateDataKey") with in as its JSON body
// and decodes the answer into out.
func (c *Client) Call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.Send(ctx, op, body, out)
}

// Send sends one operation with body, JSON, as its request body, byte for
// byte, and decodes the answer into out. An answer's signature binds the
// body's SHA-256 (docs/answers.md): the caller keeps body to verify it.
func (c *Client) Send(ctx context.Context, op string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, "POST", c.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	// A per-request value keeps two identical requests in one second from
	// sharing a signature, which the server would refuse as a replay.
	req.Header.Set("Amz-Sdk-Invocation-Id", strconv.FormatInt(time.Now().UnixNano(), 36)+"-"+strconv.FormatUint(c.seq.Add(1), 36))
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	if err := sigv4.Sign(req, body, c.AccessKeyID, []byte(c.SecretAccessKey), region, "kms", now()); err != nil {
		return err
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return err
	}
	if len(raw) > maxAnswer {
		return fmt.Errorf("attestkms answered %s with more than %d bytes", op, maxAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		json.Unmarshal(raw, &e)
		if e.Type == "" {
			e.Type = http.StatusText(resp.StatusCode)
		}
		return &APIError{Status: resp.StatusCode, Type: e.Type, Message: e.Message}
	}
	return json.Unmarshal(raw, out)
}
