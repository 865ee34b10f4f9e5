package enclave

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// beAttestorEnv, when set, makes the test binary the program Exec runs,
// behaving as its value says (execAttestor); the tests run the binary
// itself, so they need no shell and no compiler.
const beAttestorEnv = "ATTESTKMS_TEST_BE_ATTESTOR"

func TestMain(m *testing.M) {
	if mode := os.Getenv(beAttestorEnv); mode != "" {
		os.Exit(execAttestor(mode))
	}
	os.Exit(m.Run())
}

// execAttestor is the test program: "echo" writes back what it was given,
// the others misbehave as their name says.
func execAttestor(mode string) int {
	switch mode {
	case "echo":
		in, err := io.ReadAll(os.Stdin)
		if err != nil {
			return 9
		}
		fmt.Printf("nonce=%s\nuser_data=%s\nstdin=%x\nargs=%q\n", os.Getenv("ATTESTKMS_NONCE"), os.Getenv("ATTESTKMS_USER_DATA"), in, os.Args[1:])
		for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
			if _, ok := os.LookupEnv(v); ok {
				fmt.Printf("inherited %s\n", v)
			}
		}
	case "fail":
		fmt.Fprintln(os.Stderr, "qtsm_get_attestation: device busy (-16)")
		return 3
	case "fail-silent":
		return 4
	case "fail-chatty":
		os.Stderr.Write(bytes.Repeat([]byte("x"), 1<<20))
		return 1
	case "empty":
	case "ignore-stdin":
		os.Stdout.WriteString("doc")
	case "hang":
		time.Sleep(time.Minute)
	case "sleep":
		time.Sleep(5 * time.Second)
	case "orphan": // a child of its own keeps standard output open
		c := exec.Command(os.Args[0])
		c.Env = append(os.Environ(), beAttestorEnv+"=sleep")
		c.Stdout = os.Stdout
		if c.Start() != nil {
			return 7
		}
		os.Stdout.WriteString("doc")
	default: // a size: write that many bytes
		n, err := strconv.Atoi(mode)
		if err != nil {
			return 8
		}
		os.Stdout.Write(bytes.Repeat([]byte{0xa5}, n))
	}
	return 0
}

// testExec is an Exec running the test binary as the program, behaving as
// mode says.
func testExec(t *testing.T, mode string) Exec {
	t.Helper()
	t.Setenv(beAttestorEnv, mode)
	return Exec{Path: os.Args[0]}
}

// TestExecContract: the program gets the key on standard input, exactly, and
// the nonce and user data in hex in its environment (empty when none), with
// no arguments but Args; what it writes is the document.
func TestExecContract(t *testing.T) {
	key, err := NewKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	der := key.PublicKeyDER()
	t.Setenv("ATTESTKMS_NONCE", "from-the-parent") // ours win
	// The credential variables are not passed on (the echo mode says
	// "inherited NAME" for each it sees).
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-for-the-program")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	a := testExec(t, "echo")
	doc, err := a.Attest(der, []byte{1, 2, 0xff}, []byte("user data"))
	want := fmt.Sprintf("nonce=0102ff\nuser_data=%x\nstdin=%x\nargs=[]\n", "user data", der)
	if err != nil || string(doc) != want {
		t.Fatalf("got %q, %v\nwant %q", doc, err, want)
	}

	a.Args = []string{"one", "two words"}
	doc, err = a.Attest(der, nil, nil)
	want = fmt.Sprintf("nonce=\nuser_data=\nstdin=%x\nargs=[\"one\" \"two words\"]\n", der)
	if err != nil || string(doc) != want {
		t.Fatalf("no nonce, no user data: got %q, %v\nwant %q", doc, err, want)
	}

	// An evidence document of the largest size attestkms takes is whole; a
	// program that does not read its input is not an error.
	doc, err = testExec(t, strconv.Itoa(attest.MaxEvidence)).Attest(der, nil, nil)
	if err != nil || !bytes.Equal(doc, bytes.Repeat([]byte{0xa5}, attest.MaxEvidence)) {
		t.Errorf("a document of %d bytes: %d bytes, %v", attest.MaxEvidence, len(doc), err)
	}
	if doc, err := testExec(t, "ignore-stdin").Attest(bytes.Repeat([]byte{1}, 1<<20), nil, nil); err != nil || string(doc) != "doc" {
		t.Errorf("a program that ignores its input: %q, %v", doc, err)
	}
}

// TestExecRefusals: every way the program can fail is an error saying how,
// quoting (a bounded part of) what it wrote on standard error.
func TestExecRefusals(t *testing.T) {
	der := []byte("key")
	for _, c := range []struct {
		mode string
		want []string
	}{
		{"fail", []string{"exec attestor " + os.Args[0] + ": exit status 3: qtsm_get_attestation: device busy (-16)"}},
		{"fail-silent", []string{"exit status 4 (nothing on standard error)"}},
		{"empty", []string{"exited 0 but wrote no document"}},
		{strconv.Itoa(attest.MaxEvidence + 1), []string{fmt.Sprintf("wrote more than %d bytes", attest.MaxEvidence)}},
		{strconv.Itoa(64 << 20), []string{fmt.Sprintf("wrote more than %d bytes", attest.MaxEvidence)}},
	} {
		doc, err := testExec(t, c.mode).Attest(der, nil, nil)
		if err == nil || doc != nil {
			t.Errorf("%s: %q, %v; want an error", c.mode, doc, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q; want it to say %q", c.mode, err, w)
			}
		}
	}

	start := time.Now()
	if _, err := testExec(t, "orphan").Attest(der, nil, nil); err == nil || !strings.Contains(err.Error(), "exited 0 but left its output open") || time.Since(start) > 4*time.Second {
		t.Errorf("a program whose child keeps its output open: %v after %v", err, time.Since(start))
	}

	_, err := testExec(t, "fail-chatty").Attest(der, nil, nil)
	if err == nil || !strings.Contains(err.Error(), strings.Repeat("x", ExecMaxStderr)+" …") || len(err.Error()) > ExecMaxStderr+200 {
		t.Errorf("1 MiB on standard error: %d bytes of error; want the first %d bytes", len(fmt.Sprint(err)), ExecMaxStderr)
	}

	if _, err := (Exec{}).Attest(der, nil, nil); err == nil || err.Error() != "exec attestor: no program" {
		t.Errorf("no program: %v", err)
	}
	if _, err := (Exec{Path: "attestkms-no-such-program"}).Attest(der, nil, nil); err == nil || !strings.Contains(err.Error(), "executable file not found") {
		t.Errorf("a program not on PATH: %v", err)
	}
}

// TestExecTimeout: a program that does not answer is killed at Timeout.
func TestExecTimeout(t *testing.T) {
	a := testExec(t, "hang")
	a.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := a.Attest([]byte("key"), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("a hanging program: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a hanging program stopped after %v", d)
	}
}

// TestExecStderrText: what is quoted of standard error is valid text, and
// says when it was cut.
func TestExecStderrText(t *testing.T) {
	b := &headBuffer{max: 8}
	b.Write([]byte("ab\xff"))
	b.Write([]byte("cdefghij"))
	if got := b.text(); got != "ab\uFFFDcdefg …" {
		t.Errorf("%q", got)
	}
}
