package credfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cred.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	c := &Credential{AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "s3cr3t/+=", AccountID: "123456789012", ProjectID: "0123abcd"}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"access_key_id\": \"AKIAEXAMPLE\",\n  \"secret_access_key\": \"s3cr3t/+=\",\n  \"account_id\": \"123456789012\",\n  \"project_id\": \"0123abcd\"\n}\n"
	if string(b) != want {
		t.Fatalf("Marshal:\n%s\nwant\n%s", b, want)
	}
	got, err := Read(write(t, string(b)))
	if err != nil || *got != *c {
		t.Fatalf("Read = %+v, %v", got, err)
	}
	// Only the pair is required; unknown fields are ignored.
	if got, err := Read(write(t, `{"access_key_id":"AK","secret_access_key":"SK","name":"x"}`)); err != nil || got.AccessKeyID != "AK" || got.SecretAccessKey != "SK" {
		t.Fatalf("minimal file: %+v, %v", got, err)
	}
}

func TestReadRefuses(t *testing.T) {
	const secret = "do-not-print-me"
	for name, content := range map[string]string{
		"empty":          "",
		"not JSON":       "access_key_id=AK\nsecret_access_key=" + secret,
		"array":          `["AK","` + secret + `"]`,
		"null":           "null",
		"no secret":      `{"access_key_id":"AK"}`,
		"empty secret":   `{"access_key_id":"AK","secret_access_key":""}`,
		"no key id":      `{"secret_access_key":"` + secret + `"}`,
		"secret number":  `{"access_key_id":"AK","secret_access_key":12345}`,
		"trailing data":  `{"access_key_id":"AK","secret_access_key":"` + secret + `"} {}`,
		"over the bound": `{"access_key_id":"AK","secret_access_key":"` + secret + `","pad":"` + strings.Repeat("x", MaxSize) + `"}`,
	} {
		c, err := Read(write(t, content))
		if err == nil || c != nil {
			t.Errorf("%s: accepted %+v", name, c)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error repeats the secret: %v", name, err)
		}
		if name != "over the bound" && !errors.Is(err, ErrNotCredential) {
			t.Errorf("%s: %v; want ErrNotCredential", name, err)
		}
		if name == "over the bound" && !strings.Contains(err.Error(), "more than") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
