package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// buildBinary builds attestkms once per test run.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "attestkms-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "attestkms")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = errors.New(string(out))
		}
	})
	if buildOnce.err != nil {
		t.Fatalf("go build: %v", buildOnce.err)
	}
	return buildOnce.path
}

var servingRE = regexp.MustCompile(`serving .* on http://(\S+) `)

// startChild runs "attestkms serve" as a child process, with flags extra,
// and waits until it serves.
func startChild(t *testing.T, bin, dataDir string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0"}, extra...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	addr := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a
	case <-time.After(20 * time.Second):
		t.Fatal("attestkms serve did not start")
	}
	return nil, ""
}

func client(t *testing.T, dataDir, addr string) *awskms.Client {
	t.Helper()
	var cred credentialJSON
	b, err := os.ReadFile(filepath.Join(dataDir, "admin-credential.json"))
	if err != nil || json.Unmarshal(b, &cred) != nil {
		t.Fatalf("admin credential: %v", err)
	}
	return awskms.New(awskms.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, ""),
		BaseEndpoint:     aws.String("http://" + addr),
		RetryMaxAttempts: 1,
	})
}

// TestCreateKeySurvivesKill creates keys from several goroutines, kills the
// server with SIGKILL mid-way, restarts it, and checks that every key whose
// CreateKey succeeded is there and usable. Three rounds.
func TestCreateKeySurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server")
	}
	bin := buildBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	var acked []string
	var mu sync.Mutex
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		cmd, addr := startChild(t, bin, dataDir)
		c := client(t, dataDir, addr)
		// Everything acknowledged in earlier rounds is there and usable.
		for _, id := range acked {
			if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")}); err != nil {
				t.Fatalf("round %d: acknowledged key %s lost: %v", round, id, err)
			}
		}
		var wg sync.WaitGroup
		var okCount int
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					out, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
					if err != nil {
						return // the server is gone
					}
					mu.Lock()
					acked = append(acked, *out.KeyMetadata.KeyId)
					okCount++
					mu.Unlock()
				}
			}()
		}
		// Kill mid-way: once some keys exist, while requests are in flight.
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			n := okCount
			mu.Unlock()
			if n >= 15 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		wg.Wait()
		if okCount == 0 {
			t.Fatalf("round %d: no CreateKey succeeded", round)
		}
	}
	cmd, addr := startChild(t, bin, dataDir)
	c := client(t, dataDir, addr)
	for _, id := range acked {
		if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")}); err != nil {
			t.Fatalf("acknowledged key %s lost: %v", id, err)
		}
	}
	t.Logf("%d acknowledged keys survived three SIGKILLs", len(acked))
	checkChangeRecords(t, c, dataDir, acked)

	// SIGTERM is a graceful shutdown with exit status 0.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
}
