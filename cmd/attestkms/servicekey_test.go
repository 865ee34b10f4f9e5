package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/answer"
)

// TestServiceKeyCommand: service-key prints the store's answer-signing key
// as PEM after its fingerprint; the text reads back as the key whose
// fingerprint it names.
func TestServiceKeyCommand(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCmd("init", "--data-dir", dir); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	code, out, errs := runCmd("service-key", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("service-key: exit %d, %s", code, errs)
	}
	keys, err := answer.ParsePEM([]byte(out))
	if err != nil || len(keys) != 1 {
		t.Fatalf("output does not parse (%v): %q", err, out)
	}
	if !strings.Contains(out, "SHA256:"+answer.Fingerprint(keys[0])) {
		t.Fatalf("output does not name the key's fingerprint: %q", out)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/service-key" {
			w.Write([]byte(out))
			return
		}
		w.Write([]byte("not a key"))
	}))
	defer srv.Close()
	if code, got, errs := runCmd("service-key", "--endpoint", srv.URL); code != 0 || got != out {
		t.Fatalf("service-key --endpoint: exit %d %q %s", code, got, errs)
	}
	if code, _, errs := runCmd("service-key", "--endpoint", srv.URL+"/x"); code == 0 || !strings.Contains(errs, "no PUBLIC KEY") {
		t.Fatalf("service-key --endpoint of no key: exit %d %s", code, errs)
	}
	if code, out, _ := runCmd("service-key", "--help"); code != 0 || !strings.Contains(out, "enclavetool --service-key") {
		t.Fatalf("service-key --help: %d %q", code, out)
	}
	if code, _, _ := runCmd("service-key", "--data-dir", t.TempDir()+"/none"); code == 0 {
		t.Fatal("service-key of no store succeeded")
	}
}
