package enclave

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// Exec is the Attestor of a TEE that attestkms has no built-in attestor for
// (a Huawei QingTian enclave, whose security module is reached through
// Huawei's C library libqtsm): it runs a program of the user's, which asks
// the device for the document. The contract, one run per document:
//
//   - Path is run directly, with no shell, and Args as its arguments. A Path
//     without a slash is looked up on PATH, as a shell would (exec.LookPath);
//     one with a slash is that file.
//   - Its environment is this process's, plus ATTESTKMS_NONCE and
//     ATTESTKMS_USER_DATA: the nonce and user data to bind, lower-case hex,
//     empty when there are none.
//   - Its standard input is the public key to bind as the document's
//     public_key, raw bytes, then end of file: a DER SubjectPublicKeyInfo,
//     or for an ML-KEM-768+X25519 key the 32-byte SHA-256 of the key
//     (docs/hpke.md).
//   - Its standard output is the document, raw bytes, in a form attestkms
//     verifies (a COSE_Sign1 document as /dev/nsm or QingTian's QTSM returns
//     it, or an evidence envelope: docs/evidence.md), at most
//     attest.MaxEvidence bytes. More, or nothing, is an error.
//   - It exits 0, leaving no process of its own holding its standard
//     output. Any other end is an error that quotes the first ExecMaxStderr
//     bytes of its standard error; a run longer than Timeout is killed and
//     is an error.
//
// The program is trusted as this process is: it is part of the measured
// image, it inherits the environment but the AWS credential variables,
// and attestkms believes only what the document's signature proves, so a
// wrong document is refused there, not here.
type Exec struct {
	// Path is the program; empty is an error.
	Path string
	// Args are its arguments, after its name; nil for none.
	Args []string
	// Timeout bounds one run; zero means DefaultExecTimeout.
	Timeout time.Duration
}

var _ Attestor = Exec{}

// DefaultExecTimeout is Exec's timeout when none is given: a security
// module answers in milliseconds, so a run this long is stuck.
const DefaultExecTimeout = 30 * time.Second

// ExecMaxStderr bounds what an error quotes of the program's standard
// error: an error message and a hint are a few hundred bytes.
const ExecMaxStderr = 4 << 10

// Attest implements Attestor: it runs the program for publicKeyDER, nonce and
// userData, and returns what it wrote.
func (a Exec) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	if a.Path == "" {
		return nil, errors.New("exec attestor: no program")
	}
	timeout := a.Timeout
	if timeout == 0 {
		timeout = DefaultExecTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.Path, a.Args...)
	// Appended last, ours win over any the parent has (os/exec keeps the
	// last of duplicates).
	cmd.Env = append(withoutCredentials(os.Environ()), "ATTESTKMS_NONCE="+hex.EncodeToString(nonce), "ATTESTKMS_USER_DATA="+hex.EncodeToString(userData))
	cmd.Stdin = bytes.NewReader(publicKeyDER)
	// One byte more than a document may have says it was too long, and
	// kills the program (cancel), which would otherwise block on its pipe.
	stdout := &headBuffer{max: attest.MaxEvidence + 1, full: cancel}
	stderr := &headBuffer{max: ExecMaxStderr}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A child of the program that keeps the pipes open after it ends, or
	// is killed, holds us for a second at most.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	doc := stdout.buf.Bytes()
	switch {
	case len(doc) > attest.MaxEvidence:
		return nil, fmt.Errorf("exec attestor %s: wrote more than %d bytes, more than any evidence attestkms takes", a.Path, attest.MaxEvidence)
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("exec attestor %s: no answer within %s", a.Path, timeout)
	case errors.Is(err, exec.ErrWaitDelay):
		return nil, fmt.Errorf("exec attestor %s: exited 0 but left its output open (a process of its own still running?)", a.Path)
	case err != nil:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, fmt.Errorf("exec attestor: %w", err) // it did not start: os/exec names it
		}
		if msg := stderr.text(); msg != "" {
			return nil, fmt.Errorf("exec attestor %s: %w: %s", a.Path, err, msg)
		}
		return nil, fmt.Errorf("exec attestor %s: %w (nothing on standard error)", a.Path, err)
	case len(doc) == 0:
		return nil, fmt.Errorf("exec attestor %s: exited 0 but wrote no document", a.Path)
	}
	return doc, nil
}

// headBuffer keeps the first max bytes written to it and drops the rest,
// never failing, so that a chatty child does not block on its pipe; full,
// if not nil, is called when the buffer fills.
type headBuffer struct {
	buf       bytes.Buffer
	max       int
	full      func()
	truncated bool
}

func (b *headBuffer) Write(p []byte) (int, error) {
	room := b.max - b.buf.Len()
	if len(p) > room {
		b.truncated = true
	}
	if room > 0 {
		b.buf.Write(p[:min(len(p), room)])
		if b.buf.Len() == b.max && b.full != nil {
			b.full()
		}
	}
	return len(p), nil
}

// text is what was kept, trimmed, marked when more was dropped.
func (b *headBuffer) text() string {
	s := strings.TrimSpace(strings.ToValidUTF8(b.buf.String(), "\uFFFD"))
	if b.truncated && s != "" {
		s += " …"
	}
	return s
}

// withoutCredentials is env less the AWS credential variables: the program
// makes a document and needs no secret of ours (its errors, quoted, would
// otherwise be one place a secret could surface).
func withoutCredentials(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN":
			continue
		}
		out = append(out, kv)
	}
	return out
}
