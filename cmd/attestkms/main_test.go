package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"init", "--help"}, {"credential", "--help"}, {"credential", "create", "--help"}} {
		code, out, _ := runCmd(args...)
		if code != 0 || !strings.Contains(out, "Usage") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
	if code, _, errs := runCmd("frobnicate"); code != 2 || !strings.Contains(errs, "attestkms: error: unknown command") {
		t.Errorf("unknown command: exit %d, %q", code, errs)
	}
	if code, _, _ := runCmd(); code != 2 {
		t.Errorf("no command: exit %d", code)
	}
	if code, _, errs := runCmd("init"); code != 2 || !strings.Contains(errs, "--data-dir is required") {
		t.Errorf("init without --data-dir: exit %d, %q", code, errs)
	}
	if code, _, _ := runCmd("serve", "--tls-cert", "x"); code != 2 {
		t.Errorf("--tls-cert without --tls-key: exit %d", code)
	}
	if code, _, errs := runCmd("serve", "--max-keys", "0"); code != 2 || !strings.Contains(errs, "--max-keys") {
		t.Errorf("--max-keys 0: exit %d, %q", code, errs)
	}
}

func TestInitAndCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, errs := runCmd("init", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, errs)
	}
	var cred credentialJSON
	if err := json.Unmarshal([]byte(out), &cred); err != nil || cred.AccessKeyID == "" || cred.SecretAccessKey == "" || len(cred.AccountID) != 12 || cred.ProjectID == "" {
		t.Fatalf("init printed %q (%v)", out, err)
	}
	for _, f := range []string{"kms.db", "root.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	code, out, errs = runCmd("init", "--data-dir", dir)
	if code != 1 || out != "" || !strings.Contains(errs, "already initialised") || !strings.Contains(errs, "hint:") {
		t.Fatalf("second init: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	code, out, errs = runCmd("credential", "create", "--data-dir", dir, "--name", "ci")
	var ci credentialJSON
	if code != 0 || json.Unmarshal([]byte(out), &ci) != nil || ci.AccessKeyID == cred.AccessKeyID || ci.AccountID != cred.AccountID {
		t.Fatalf("credential create: exit %d %q %q", code, out, errs)
	}
	code, out, _ = runCmd("credential", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, ci.AccessKeyID) || !strings.Contains(out, cred.AccessKeyID) || strings.Contains(out, ci.SecretAccessKey) {
		t.Fatalf("credential list: exit %d %q", code, out)
	}
	// Flags after the positional argument work too.
	if code, _, errs := runCmd("credential", "delete", ci.AccessKeyID, "--data-dir", dir); code != 0 {
		t.Fatalf("credential delete: exit %d %s", code, errs)
	}
	if code, _, errs := runCmd("credential", "delete", "--data-dir", dir, cred.AccessKeyID); code != 1 || !strings.Contains(errs, "last admin credential") {
		t.Fatalf("deleting the last admin credential: exit %d %q", code, errs)
	}
	if code, _, _ := runCmd("credential", "frob", "--data-dir", dir); code != 2 {
		t.Fatal("unknown credential subcommand accepted")
	}
}

// startServe runs serve in-process on a loopback port.
func startServe(t *testing.T, cfg serveConfig) (addr string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	if cfg.listen == "" {
		cfg.listen = "127.0.0.1:0"
	}
	if cfg.maintainEvery == 0 {
		cfg.maintainEvery = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	stderr = &syncBuffer{}
	go func() { done <- serve(ctx, cfg, stderr, ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v\n%s", err, stderr)
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	return addr, stderr, stop
}

func TestServeInitialisesOnFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "attestkms-data")
	addr, stderr, stop := startServe(t, serveConfig{dataDir: dir})
	credPath := filepath.Join(dir, "admin-credential.json")
	if !strings.Contains(stderr.String(), credPath) {
		t.Fatalf("serve did not say where the credential is: %s", stderr)
	}
	fi, err := os.Stat(credPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v %v", fi, err)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	var cred credentialJSON
	b, _ := os.ReadFile(credPath)
	json.Unmarshal(b, &cred)
	c := awskms.New(awskms.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, ""),
		BaseEndpoint: aws.String("http://" + addr),
	})
	k, err := c.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	// A restart serves the same store and the same credential.
	addr, _, _ = startServe(t, serveConfig{dataDir: dir})
	c = awskms.New(awskms.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, ""),
		BaseEndpoint: aws.String("http://" + addr),
	})
	if _, err := c.DescribeKey(context.Background(), &awskms.DescribeKeyInput{KeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	addr, _, _ := startServe(t, serveConfig{dataDir: filepath.Join(dir, "data"), tlsCert: certFile, tlsKey: keyFile})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("TLS healthz: %v %v", resp, err)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get("https://" + addr + "/healthz"); err == nil {
		t.Fatal("a TLS 1.1 client was served")
	}
	// Plain HTTP on the TLS port is answered 400 by net/http, never served.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Fatal("plain HTTP was served on the TLS port")
	}
}

func selfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "attestkms test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(k)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServeRefusesSecondServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	startServe(t, serveConfig{dataDir: dir})
	err := serve(context.Background(), serveConfig{dataDir: dir, listen: "127.0.0.1:0", maintainEvery: time.Minute}, &syncBuffer{}, nil)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second server on the same store: %v", err)
	}
}

// awsClient signs for region with the credential in credPath.
func awsClient(t *testing.T, addr, region string, cred credentialJSON) *awskms.Client {
	t.Helper()
	return awskms.New(awskms.Options{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, ""),
		BaseEndpoint:     aws.String("http://" + addr),
		RetryMaxAttempts: 1,
	})
}

// TestInitRegion: init --region records the store's region: serve refuses
// the store under the default region and serves it under its own.
func TestInitRegion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	code, out, errs := runCmd("init", "--data-dir", dir, "--region", "ap-south-2")
	if code != 0 {
		t.Fatalf("init --region: exit %d: %s", code, errs)
	}
	var cred credentialJSON
	json.Unmarshal([]byte(out), &cred)
	code, _, errs = runCmd("serve", "--data-dir", dir, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errs, "attestkms: error: the store in "+dir+" is for region ap-south-2, not us-east-1\n") ||
		!strings.Contains(errs, "attestkms: hint: serve with --region ap-south-2, or add --rename-region") {
		t.Fatalf("serve of an ap-south-2 store without --region: exit %d, %q", code, errs)
	}
	// Credentials have no region: credential commands need no --region.
	if code, out, errs := runCmd("credential", "create", "--data-dir", dir, "--name", "ci"); code != 0 || !strings.Contains(out, cred.AccountID) {
		t.Fatalf("credential create on an ap-south-2 store: exit %d %q %q", code, out, errs)
	}
	addr, stderr, _ := startServe(t, serveConfig{dataDir: dir, region: "ap-south-2"})
	if !strings.Contains(stderr.String(), "region ap-south-2)") {
		t.Fatalf("the banner does not name the region: %s", stderr)
	}
	k, err := awsClient(t, addr, "ap-south-2", cred).CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil || !strings.HasPrefix(*k.KeyMetadata.Arn, "arn:aws:kms:ap-south-2:"+cred.AccountID+":key/") {
		t.Fatalf("CreateKey in ap-south-2: %v", err)
	}
	if code, _, _ := runCmd("init", "--data-dir", filepath.Join(t.TempDir(), "x"), "--region", "AP-SOUTH-2"); code != 2 {
		t.Fatalf("init with an invalid --region: exit %d", code)
	}
	if code, _, _ := runCmd("serve", "--data-dir", dir, "--region", "ap_south_2"); code != 2 {
		t.Fatalf("serve with an invalid --region: exit %d", code)
	}
}

// TestServeRegionMismatchAndRename: serve refuses a store under another
// --region, changing nothing, and --rename-region moves it, key policies
// and all.
func TestServeRegionMismatchAndRename(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "attestkms-data")
	addr, _, stop := startServe(t, serveConfig{dataDir: dir})
	var cred credentialJSON
	b, _ := os.ReadFile(filepath.Join(dir, "admin-credential.json"))
	json.Unmarshal(b, &cred)
	ctx := context.Background()
	c := awsClient(t, addr, "us-east-1", cred)
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id, oldARN := *k.KeyMetadata.KeyId, *k.KeyMetadata.Arn
	deny := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + cred.AccountID + `:root"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::` + cred.AccountID + `:root"},"Action":"kms:GenerateDataKey","Resource":"` + oldARN + `"}]}`
	if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: &id, Policy: &deny}); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	before, _ := os.ReadFile(filepath.Join(dir, "kms.db"))
	code, _, errs := runCmd("serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--region", "eu-west-1")
	if code != 1 || !strings.Contains(errs, "attestkms: error: the store in "+dir+" is for region us-east-1, not eu-west-1\n") ||
		!strings.Contains(errs, "attestkms: hint: serve with --region us-east-1, or add --rename-region to move it to eu-west-1") {
		t.Fatalf("serve --region eu-west-1 of a us-east-1 store: exit %d, %q", code, errs)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "kms.db")); !bytes.Equal(before, after) {
		t.Fatal("a refused serve changed the store")
	}

	// --rename-region moves the store as serve opens it, before it listens:
	// a port already taken fails serve after the move.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	code, _, errs = runCmd("serve", "--data-dir", dir, "--listen", busy.Addr().String(), "--region", "eu-west-1", "--rename-region")
	if code != 1 || !strings.Contains(errs, "address already in use") {
		t.Fatalf("serve --rename-region on a busy port: exit %d, %q", code, errs)
	}
	addr, _, _ = startServe(t, serveConfig{dataDir: dir, region: "eu-west-1"})
	c = awsClient(t, addr, "eu-west-1", cred)
	newARN := "arn:aws:kms:eu-west-1:" + cred.AccountID + ":key/" + id
	p, err := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: &id})
	if err != nil || strings.Contains(*p.Policy, oldARN) || !strings.Contains(*p.Policy, newARN) {
		t.Fatalf("policy after --rename-region: %v %v", p, err)
	}
	_, err = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: &id, NumberOfBytes: aws.Int32(32)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("GenerateDataKey after the move: %v; want the Deny", err)
	}
	d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &id})
	if err != nil || *d.KeyMetadata.Arn != newARN {
		t.Fatalf("DescribeKey after the move: %v", err)
	}
}

// TestServeFirstStartRegion: the store serve makes on its first start is
// for its --region.
func TestServeFirstStartRegion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "attestkms-data")
	_, stderr, stop := startServe(t, serveConfig{dataDir: dir, region: "eu-north-1"})
	if !strings.Contains(stderr.String(), "region eu-north-1)") {
		t.Fatalf("banner: %s", stderr)
	}
	stop()
	err := serve(context.Background(), serveConfig{dataDir: dir, listen: "127.0.0.1:0", region: "us-east-1", maintainEvery: time.Minute}, &syncBuffer{}, nil)
	if err == nil || !strings.Contains(err.Error(), "is for region eu-north-1, not us-east-1") {
		t.Fatalf("serve of an eu-north-1 store for us-east-1: %v", err)
	}
}
