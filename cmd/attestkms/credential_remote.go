package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/attestkms/attestkms/internal/credfile"
	"github.com/attestkms/attestkms/internal/pemfile"
	"github.com/attestkms/attestkms/internal/sigv4"
	"github.com/attestkms/attestkms/kms"
)

// adminTarget prefixes X-Amz-Target on the admin API (api/admin).
const adminTarget = "AttestKMSAdmin."

// maxAdminAnswer bounds what the client reads of an answer: a list of a
// few thousand credentials with their identity policies.
const maxAdminAnswer = 16 << 20

// adminClient calls the running server's admin API, signing each request
// with SigV4 (service kms) as the server's KMS dialect expects.
type adminClient struct {
	endpoint string // without a final slash
	region   string
	cred     *credfile.Credential
	http     *http.Client
	// maxAnswer bounds what call reads of an answer; 0: maxAdminAnswer.
	maxAnswer int64
}

// remoteError is the admin API's refusal: AWS's {"__type","message"}.
type remoteError struct {
	Status  int
	Code    string
	Message string
}

func (e *remoteError) Error() string { return e.Code + ": " + e.Message }

func newAdminClient(f *credentialFlags) (*adminClient, error) {
	cred, err := credfile.Read(f.credential)
	if err != nil {
		return nil, readError(fmt.Errorf("--credential: %w", err))
	}
	hc, err := endpointClient(f.caBundle)
	if err != nil {
		return nil, err
	}
	return &adminClient{endpoint: strings.TrimSuffix(f.endpoint, "/"), region: f.region, cred: cred, http: hc}, nil
}

// endpointClient is the HTTP client of a command that talks to a running
// server: it trusts only the CAs of caBundle, a PEM file, if given (else
// the system's roots).
func endpointClient(caBundle string) (*http.Client, error) {
	hc := &http.Client{Timeout: 30 * time.Second}
	if caBundle != "" {
		certs, err := pemfile.Certificates(caBundle)
		if err != nil {
			return nil, readError(fmt.Errorf("--ca-bundle: %w", err))
		}
		pool := x509.NewCertPool()
		for _, c := range certs {
			pool.AddCert(c)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	return hc, nil
}

// call sends op with in as its JSON body and decodes the answer into out.
func (c *adminClient) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", adminTarget+op)
	// A signed value of its own, so that no two requests share a signature,
	// which the server would refuse as a replay.
	var id [16]byte
	rand.Read(id[:])
	req.Header.Set("Amz-Sdk-Invocation-Id", hex.EncodeToString(id[:]))
	secret := []byte(c.cred.SecretAccessKey)
	err = sigv4.Sign(req, body, c.cred.AccessKeyID, secret, c.region, "kms", time.Now())
	clear(secret)
	if err != nil {
		return withHint(fmt.Errorf("signing with --credential: %w", err), "--credential must be a file attestkms wrote (init, credential create)")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return withHint(fmt.Errorf("calling %s: %w", c.endpoint, err), "is attestkms serving there? (--ca-bundle pins an https server's CA)")
	}
	defer resp.Body.Close()
	limit := c.maxAnswer
	if limit == 0 {
		limit = maxAdminAnswer
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("reading the answer of %s: %w", c.endpoint, err)
	}
	defer clear(raw)
	if int64(len(raw)) > limit {
		return fmt.Errorf("%s answered %s with more than %d bytes", c.endpoint, op, limit)
	}
	if resp.StatusCode != http.StatusOK {
		e := &remoteError{Status: resp.StatusCode}
		var wire struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &wire) != nil || wire.Type == "" {
			return fmt.Errorf("%s answered %s with HTTP %d, not the admin API's error: is it attestkms?", c.endpoint, op, resp.StatusCode)
		}
		e.Code, e.Message = wire.Type, wire.Message
		return remoteHint(e, c)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s answered %s with what the admin API does not: %w", c.endpoint, op, err)
	}
	return nil
}

// remoteHint adds what to do to the refusals a user can fix.
func remoteHint(e *remoteError, c *adminClient) error {
	switch {
	case e.Code == "InvalidSignatureException" && strings.Contains(e.Message, "region"):
		return withHint(e, "sign for the server's region: --region (see the server's log line \"serving … region …\")")
	case e.Code == "InvalidSignatureException" || e.Code == "IncompleteSignatureException":
		return withHint(e, "the server does not know the access key "+c.cred.AccessKeyID+" (deleted, rotated or expired), or --credential's secret is wrong")
	case e.Code == "AccessDeniedException":
		return withHint(e, "only a credential with the admin permission may call the admin API (credentials, backup): init's, or one made with credential create --admin")
	case e.Code == "UnknownOperationException":
		return withHint(e, "the server at --endpoint has no admin API: is it an older attestkms?")
	}
	return e
}

// credentialAnswer is what CreateCredential and RotateCredential answer.
type credentialAnswer struct {
	wireCredential
	SecretAccessKey string
	AccountID       string `json:"AccountId"`
	ProjectID       string `json:"ProjectId"`
}

// wireCredential is one credential as the admin API lists it.
type wireCredential struct {
	AccessKeyID    string `json:"AccessKeyId"`
	Name           string
	PrincipalARN   string `json:"PrincipalArn"`
	Admin          bool
	IdentityPolicy string
	CreationDate   int64
	ExpirationDate *int64
	Expired        bool
}

// info is w as credential list prints it, offline or not.
func (w *wireCredential) info() kms.CredentialInfo {
	ci := kms.CredentialInfo{
		AccessKeyID: w.AccessKeyID, Name: w.Name, PrincipalARN: w.PrincipalARN, Admin: w.Admin,
		IdentityPolicy: w.IdentityPolicy, CreatedAt: time.Unix(w.CreationDate, 0).UTC(), Expired: w.Expired,
	}
	if w.ExpirationDate != nil {
		t := time.Unix(*w.ExpirationDate, 0).UTC()
		ci.ExpiresAt = &t
	}
	return ci
}

// remoteCredential acts on the running server through its admin API.
func remoteCredential(ctx context.Context, f *credentialFlags, sub string, pos []string, req *kms.CreateCredentialRequest, stdout io.Writer) error {
	c, err := newAdminClient(f)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		var out credentialAnswer
		in := map[string]any{"Name": req.Name}
		if req.Admin {
			in["Admin"] = true
		}
		if req.IdentityPolicy != "" {
			in["IdentityPolicy"] = req.IdentityPolicy
		}
		if req.ExpiresIn != 0 {
			in["ExpiresInSeconds"] = int64(req.ExpiresIn / time.Second)
		}
		if err := c.call(ctx, "CreateCredential", in, &out); err != nil {
			return err
		}
		return printAnswerCredential(stdout, &out)
	case "rotate":
		var out credentialAnswer
		if err := c.call(ctx, "RotateCredential", map[string]string{"AccessKeyId": pos[0]}, &out); err != nil {
			return err
		}
		return printAnswerCredential(stdout, &out)
	case "list":
		var out struct{ Credentials []wireCredential }
		if err := c.call(ctx, "ListCredentials", struct{}{}, &out); err != nil {
			return err
		}
		list := make([]kms.CredentialInfo, len(out.Credentials))
		for i := range out.Credentials {
			list[i] = out.Credentials[i].info()
		}
		return printCredentials(stdout, list)
	}
	var out wireCredential
	return c.call(ctx, "DeleteCredential", map[string]string{"AccessKeyId": pos[0]}, &out)
}

// printAnswerCredential prints a new credential as init prints one.
func printAnswerCredential(w io.Writer, a *credentialAnswer) error {
	if a.AccessKeyID == "" || a.SecretAccessKey == "" || a.AccountID == "" {
		return errors.New("the server's answer holds no credential")
	}
	return printCredential(w, kms.Account{AccountID: a.AccountID, ProjectID: a.ProjectID}, a.AccessKeyID, []byte(a.SecretAccessKey))
}
