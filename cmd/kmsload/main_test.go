package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/internal/testserver"
)

func TestLoad(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	cred := filepath.Join(t.TempDir(), "cred.json")
	b, _ := json.Marshal(map[string]string{"access_key_id": srv.AccessKey, "secret_access_key": srv.Secret})
	os.WriteFile(cred, b, 0o600)
	for _, op := range []string{"GenerateDataKey", "Encrypt", "Decrypt", "DeriveSharedSecret", "GenerateRandom"} {
		var out, errb bytes.Buffer
		err := run([]string{"--endpoint", srv.URL, "--credential", cred, "--op", op, "--concurrency", "4", "--requests", "40", "--duration", "20s"}, &out, &errb)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		var r report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Requests != 40 || r.Errors != 0 || r.P50Ms <= 0 || r.PerSecond <= 0 {
			t.Fatalf("%s: %+v", op, r)
		}
	}
}

func TestRefusesRemoteAndUnbounded(t *testing.T) {
	for _, args := range [][]string{
		{"--endpoint", "http://10.0.0.1:8080"},
		{"--endpoint", "http://example.com"},
		{"--duration", "1h"},
		{"--concurrency", "0"},
		{"--op", "CreateKey", "--endpoint", "http://127.0.0.1:1"},
	} {
		var out, errb bytes.Buffer
		if err := run(args, &out, &errb); err == nil {
			t.Errorf("%v accepted", args)
		} else if strings.Contains(args[1], "10.0.0.1") && !strings.Contains(err.Error(), "loopback") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
