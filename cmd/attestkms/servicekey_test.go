package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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

// auditLineWith is the audit log's last line in dir that holds every one
// of parts, or "".
func auditLineWith(t *testing.T, dir string, parts ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(lines[i], p)
		}
		if all {
			return lines[i]
		}
	}
	return ""
}

// TestServiceKeyRotateCommand: service-key rotate makes a new key, prints
// it as service-key prints keys and says on stderr which key retires
// when; service-key then publishes both; the rotation is audited. It is
// refused while a server holds the store (changing nothing), and for a
// grace out of bounds or flags that do not go together (usage).
func TestServiceKeyRotateCommand(t *testing.T) {
	dir := t.TempDir()
	code, cred, errs := runCmd("init", "--data-dir", dir)
	var out string
	if code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	credFile := writeTemp(t, t.TempDir(), "admin.json", cred)
	_, before, _ := runCmd("service-key", "--data-dir", dir)
	oldKeys, err := answer.ParsePEM([]byte(before))
	if err != nil || len(oldKeys) != 1 {
		t.Fatalf("service-key before: %v %q", err, before)
	}
	old := answer.Fingerprint(oldKeys[0])

	start := time.Now()
	code, out, errs = runCmd("service-key", "rotate", "--data-dir", dir, "--grace-days", "7")
	if code != 0 {
		t.Fatalf("service-key rotate: exit %d, %s", code, errs)
	}
	newKeys, err := answer.ParsePEM([]byte(out))
	if err != nil || len(newKeys) != 1 {
		t.Fatalf("rotate's output does not parse as one key (%v): %q", err, out)
	}
	fresh := answer.Fingerprint(newKeys[0])
	if fresh == old || !strings.HasPrefix(out, "# attestkms service key (Ed25519) SHA256:"+fresh+" created ") {
		t.Fatalf("rotate printed %q (the old key is %s)", out, old)
	}
	retires := regexp.MustCompile(`SHA256:` + old + ` retires (\S+):`).FindStringSubmatch(errs)
	if retires == nil {
		t.Fatalf("rotate's stderr does not say when the old key retires: %q", errs)
	}
	at, err := time.Parse(time.RFC3339, retires[1])
	if err != nil || at.Before(start.Add(7*24*time.Hour).Truncate(time.Second)) || at.After(time.Now().Add(7*24*time.Hour)) {
		t.Fatalf("the old key retires %s (%v); want in 7 days", retires[1], err)
	}
	_, after, _ := runCmd("service-key", "--data-dir", dir)
	published, err := answer.ParsePEM([]byte(after))
	if err != nil || len(published) != 2 || answer.Fingerprint(published[0]) != old || answer.Fingerprint(published[1]) != fresh ||
		!strings.Contains(after, "SHA256:"+old+" created ") || !strings.Contains(after, " retires "+retires[1]+"\n") {
		t.Fatalf("service-key after the rotation: %v %q", err, after)
	}
	if line := auditLineWith(t, dir, `"operation":"RotateServiceKey"`, `"request_id":"offline"`, `"outcome":"ok"`, fresh); line == "" {
		t.Fatal("no audit record of the rotation")
	}

	// While a server holds the store: refused, nothing changed; through
	// the server (--endpoint), rotated, with the same output.
	addr, _, stop := startServe(t, serveConfig{dataDir: dir})
	code, out, errs = runCmd("service-key", "rotate", "--data-dir", dir)
	if code != 1 || out != "" || !strings.Contains(errs, "in use") || !strings.Contains(errs, "attestkms: hint: while the server runs, rotate through it: --endpoint URL") {
		t.Fatalf("rotate while serving: exit %d, %q, %q", code, out, errs)
	}
	if _, now, _ := runCmd("service-key", "--endpoint", "http://"+addr); now != after {
		t.Fatalf("a refused rotation changed the keys:\n%s\nwas\n%s", now, after)
	}
	code, out, errs = runCmd("service-key", "rotate", "--endpoint", "http://"+addr, "--credential", credFile, "--grace-days", "3")
	if code != 0 {
		t.Fatalf("rotate --endpoint: exit %d, %s", code, errs)
	}
	remoteKeys, err := answer.ParsePEM([]byte(out))
	if err != nil || len(remoteKeys) != 1 || !strings.HasPrefix(out, "# attestkms service key (Ed25519) SHA256:"+answer.Fingerprint(remoteKeys[0])+" created ") ||
		!strings.Contains(errs, "SHA256:"+old+" retires ") || !strings.Contains(errs, "SHA256:"+fresh+" retires ") {
		t.Fatalf("rotate --endpoint printed %q, %q", out, errs)
	}
	stop()
	_, after, _ = runCmd("service-key", "--data-dir", dir)
	if published, err := answer.ParsePEM([]byte(after)); err != nil || len(published) != 3 || answer.Fingerprint(published[2]) != answer.Fingerprint(remoteKeys[0]) {
		t.Fatalf("service-key after the rotation through the server: %v %q", err, after)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--grace-days", "0"}, "--grace-days must be between 1 and 365"},
		{[]string{"--grace-days", "366"}, "--grace-days must be between 1 and 365"},
		{[]string{"--grace-days", "-1"}, "--grace-days must be between 1 and 365"},
		{[]string{"--grace-days", "4294967327"}, "--grace-days must be between 1 and 365"},
		{[]string{"--grace-days", "a week"}, "invalid value"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--endpoint", "http://127.0.0.1:1"}, "--data-dir and --endpoint exclude each other"},
		{[]string{"--credential", "admin.json"}, "--credential goes with --endpoint"},
		{[]string{"--store", "postgres://u@h:5432/db?sslmode=disable", "--root-key-file", "k"}, "needs --data-dir NODE_DIR"},
		{[]string{"--store", "postgres://u@h:5432/db?sslmode=disable"}, "needs --data-dir NODE_DIR"},
		{[]string{"--store", "mysql://x"}, "--store must be bolt:PATH"},
		{[]string{"--store-password-file", "p"}, "--store-password-file goes with --store postgres://"},
		{[]string{"--root-key", "a/root.key"}, "want file:PATH"},
	} {
		args := append([]string{"service-key", "rotate", "--data-dir", dir}, tc.args...)
		if tc.want == "needs --data-dir NODE_DIR" {
			args = append([]string{"service-key", "rotate"}, tc.args...)
		}
		// (A flag that does not parse prints the usage on stdout.)
		if code, _, errs := runCmd(args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 saying %q", args, code, errs, tc.want)
		}
	}
	if code, _, errs := runCmd("service-key", "rotate", "--store", "postgres://u@h:5432/db?sslmode=disable", "--data-dir", dir); code != 2 || !strings.Contains(errs, "needs --root-key SPEC") {
		t.Errorf("--store without --root-key: exit %d, %q", code, errs)
	}
	// A key to pin is not taken over plain HTTP from another host (it
	// could be replaced on the way); loopback and https are.
	if code, _, errs := runCmd("service-key", "rotate", "--endpoint", "http://kms.example:8080", "--credential", "admin.json"); code != 2 || !strings.Contains(errs, "plain HTTP to another host") {
		t.Errorf("--endpoint http:// to another host: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd("service-key", "rotate", "--endpoint", "http://127.0.0.1:1"); code != 2 || !strings.Contains(errs, "--endpoint needs --credential") {
		t.Errorf("--endpoint without --credential: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd("service-key", "rotate", "--endpoint", "http://127.0.0.1:1", "--credential", filepath.Join(dir, "none.json")); code != 3 {
		t.Errorf("--endpoint with an unreadable --credential: exit %d, %q; want 3", code, errs)
	}
	if _, now, _ := runCmd("service-key", "--data-dir", dir); now != after {
		t.Fatal("a refused rotation changed the keys")
	}
	if code, out, _ := runCmd("service-key", "rotate", "--help"); code != 0 || !strings.Contains(out, "Usage: attestkms service-key rotate") || !strings.Contains(out, "--grace-days") {
		t.Fatalf("service-key rotate --help: %d %q", code, out)
	}
	if code, out, _ := runCmd("service-key", "--help"); code != 0 || !strings.Contains(out, "service-key rotate") {
		t.Fatalf("service-key --help does not name rotate: %d %q", code, out)
	}
	// No store there: refused, and none made.
	none := filepath.Join(t.TempDir(), "none")
	if code, _, errs := runCmd("service-key", "rotate", "--data-dir", none); code != 1 || !strings.Contains(errs, "not initialised") {
		t.Fatalf("rotate of no store: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(none); !os.IsNotExist(err) {
		t.Fatalf("rotate of no store made %s: %v", none, err)
	}
	// An unreadable PIN file: exit 3.
	if code, _, errs := runCmd("service-key", "rotate", "--data-dir", dir, "--root-key", "pkcs11:token=x;object=y?module-path=/nonexistent.so", "--pkcs11-pin-file", filepath.Join(none, "pin")); code != 3 {
		t.Fatalf("rotate with an unreadable PIN file: exit %d, %q", code, errs)
	}
}

// TestServiceKeyEndpointPinnable: service-key --endpoint prints what
// enclave images pin, so, as rotate, it refuses plain HTTP to another host.
func TestServiceKeyEndpointPinnable(t *testing.T) {
	if code, _, errs := runCmd("service-key", "--endpoint", "http://kms.example:8080"); code != 2 || !strings.Contains(errs, "plain HTTP to another host") {
		t.Errorf("--endpoint http:// to another host: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd("service-key", "--ca-bundle", "ca.pem"); code != 2 || !strings.Contains(errs, "--ca-bundle goes with --endpoint") {
		t.Errorf("--ca-bundle without --endpoint: exit %d, %q", code, errs)
	}
}

// TestServiceKeyRevokeCommand: --revoke drops every current key at once,
// offline and through the running server: service-key then lists the new
// key alone, stderr names each revoked key, and --revoke takes no
// --grace-days.
func TestServiceKeyRevokeCommand(t *testing.T) {
	dir := t.TempDir()
	code, cred, errs := runCmd("init", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	credFile := writeTemp(t, t.TempDir(), "admin.json", cred)
	if code, _, errs := runCmd("service-key", "rotate", "--data-dir", dir, "--grace-days", "7"); code != 0 {
		t.Fatalf("rotate: %d %s", code, errs)
	}
	published := func(list string) []string {
		t.Helper()
		keys, err := answer.ParsePEM([]byte(list))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range keys {
			ids = append(ids, answer.Fingerprint(k))
		}
		return ids
	}
	_, list, _ := runCmd("service-key", "--data-dir", dir)
	before := published(list)
	if len(before) != 2 {
		t.Fatalf("%d keys published before, want 2", len(before))
	}
	if code, _, errs := runCmd("service-key", "rotate", "--data-dir", dir, "--revoke", "--grace-days", "3"); code != 2 || !strings.Contains(errs, "--revoke drops the current keys at once: it takes no --grace-days") {
		t.Fatalf("--revoke --grace-days: exit %d, %q", code, errs)
	}
	check := func(how string, code int, out, errs string, revoked []string) string {
		t.Helper()
		if code != 0 {
			t.Fatalf("%s: exit %d, %s", how, code, errs)
		}
		fresh := published(out)
		if len(fresh) != 1 {
			t.Fatalf("%s printed %q", how, out)
		}
		for _, id := range revoked {
			if !strings.Contains(errs, "SHA256:"+id+" revoked") {
				t.Fatalf("%s: stderr does not name revoked key %s: %q", how, id, errs)
			}
		}
		if !strings.Contains(errs, "new service key SHA256:"+fresh[0]+": published and signing now") {
			t.Fatalf("%s: stderr does not say the new key signs now: %q", how, errs)
		}
		return fresh[0]
	}
	code, out, errs := runCmd("service-key", "rotate", "--data-dir", dir, "--revoke")
	fresh := check("rotate --revoke", code, out, errs, before)
	if _, list, _ := runCmd("service-key", "--data-dir", dir); !slices.Equal(published(list), []string{fresh}) {
		t.Fatalf("published after the revocation: %v, want %s alone", published(list), fresh)
	}
	if line := auditLineWith(t, dir, `"operation":"RotateServiceKey"`, `"outcome":"ok"`, "revoked "+before[0]); line == "" {
		t.Fatal("no audit record of the revocation")
	}

	addr, _, stop := startServe(t, serveConfig{dataDir: dir})
	defer stop()
	code, out, errs = runCmd("service-key", "rotate", "--endpoint", "http://"+addr, "--credential", credFile, "--revoke")
	second := check("rotate --revoke --endpoint", code, out, errs, []string{fresh})
	if _, list, _ := runCmd("service-key", "--endpoint", "http://"+addr); !slices.Equal(published(list), []string{second}) {
		t.Fatalf("published by the server after the revocation: %v, want %s alone", published(list), second)
	}
}
