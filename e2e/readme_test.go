package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/attestkms/attestkms/internal/pgtest"
)

// The README is run as written, by TestREADME, in a copy of the working tree:
//
//   - every ```sh block, command by command, in one bash (one terminal: cd,
//     variables, jobs and `&` carry over, as for a reader), each command to
//     exit 0; a `# …` line under a command is a line its output must have;
//   - every ```console block: `$ command` lines, each followed by lines its
//     output must have (any exit status: the output says it);
//   - an `attestkms serve` without `&` runs as a reader runs it, in a second
//     terminal, until a `<!-- readme-test: ctrl-c -->` comment, where it gets
//     SIGINT and must exit 0.
//
// A `<!-- readme-test: … -->` comment before a block says more about it:
//
//	skip (why)           the block is not run here (real hardware, a tool CI lacks)
//	needs postgres       the block runs only where ATTESTKMS_TEST_POSTGRES is set
//	                     (CI: it says PostgreSQL's binaries are there), as every
//	                     test that needs PostgreSQL (internal/pgtest)
//	file NAME            the block is saved as NAME, as a reader saves it
//	output               the block is what the last command printed
//	not "COMMAND" (why)  the block's COMMAND is not run (the test suite itself)
//
// Expected lines match whole output lines, but for surrounding space; "…"
// stands for any text, and an explanation after two or more spaces, in
// parentheses, is not part of the line.
//
// Nothing is changed but where the server listens: the README's address,
// 127.0.0.1:8080, becomes a free port (in the text; as --listen for a serve
// that relies on the default; as --endpoint for the Huawei and Tencent
// examples; as AWS_ENDPOINT_URL, which enclavetool and examples/awssdk read,
// for the rest), and the README's example account ids (123456789012,
// 111122223333) stand for the store's in expected output. The working copy
// holds the tracked and untracked-but-not-ignored files, so what is tested is
// what is about to be committed.

// readmeStep is one thing the README has a reader do.
type readmeStep struct {
	line    int    // where it is in the README
	kind    string // "run", "file", "output", "ctrl-c"
	cmd     string // run: the command, as written
	console bool   // run: from a console block (any exit status)
	expect  []string
	name    string // file: its name
	body    string // file: its contents
	// needsPG: the step's block runs only with PostgreSQL (needs postgres).
	needsPG bool
}

var (
	readmeDirective = regexp.MustCompile(`^<!-- readme-test: (.*?) -->$`)
	notDirective    = regexp.MustCompile(`^not "([^"]+)" \(.+\)$`)
	explanation     = regexp.MustCompile(`\s{2,}\(.*\)$`)
	backgrounded    = regexp.MustCompile(`&\s*(#.*)?$`)
)

// parseREADME turns the README into steps.
func parseREADME(text string) ([]readmeStep, error) {
	lines := strings.Split(text, "\n")
	var steps []readmeStep
	var pending []string // directives for the next block
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if m := readmeDirective.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			if m[1] == "ctrl-c" {
				steps = append(steps, readmeStep{line: i + 1, kind: "ctrl-c"})
			} else {
				pending = append(pending, m[1])
			}
			continue
		}
		info, ok := strings.CutPrefix(l, "```")
		if !ok {
			continue
		}
		start := i + 1
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body = append(body, lines[i])
		}
		if i == len(lines) {
			return nil, fmt.Errorf("README.md:%d: a code block that never closes", start)
		}
		directives := pending
		pending = nil
		skip, not, needsPG := false, map[string]bool{}, false
		first := len(steps) // the block's first step
		for _, d := range directives {
			switch name, isFile := strings.CutPrefix(d, "file "); {
			case strings.HasPrefix(d, "skip (") && strings.HasSuffix(d, ")"):
				skip = true
			case d == "needs postgres":
				needsPG = true
			case isFile && name != "" && !strings.ContainsAny(name, "/ "):
				steps = append(steps, readmeStep{line: start, kind: "file", name: name, body: strings.Join(body, "\n") + "\n"})
				skip = true
			case d == "output":
				steps = append(steps, readmeStep{line: start, kind: "output", expect: nonEmpty(body)})
				skip = true
			case notDirective.MatchString(d):
				not[notDirective.FindStringSubmatch(d)[1]] = true
			default:
				return nil, fmt.Errorf("README.md:%d: unknown readme-test directive %q", start, d)
			}
		}
		if skip {
			continue
		}
		switch strings.TrimSpace(info) {
		case "sh":
			for j := 0; j < len(body); j++ {
				t := strings.TrimSpace(body[j])
				switch {
				case t == "":
				case strings.HasPrefix(t, "#"):
					if len(steps) == 0 || steps[len(steps)-1].kind != "run" || steps[len(steps)-1].line < start {
						return nil, fmt.Errorf("README.md:%d: an expected output line with no command above it", start+j)
					}
					s := &steps[len(steps)-1]
					s.expect = append(s.expect, strings.TrimPrefix(strings.TrimPrefix(t, "#"), " "))
				default:
					cmd, line := body[j], start+j
					for strings.HasSuffix(cmd, `\`) && j+1 < len(body) {
						j++
						cmd += "\n" + body[j]
					}
					if not[strings.TrimSpace(stripComment(cmd))] {
						continue
					}
					steps = append(steps, readmeStep{line: line + 1, kind: "run", cmd: cmd})
				}
			}
		case "console":
			for j, l := range body {
				if cmd, ok := strings.CutPrefix(l, "$ "); ok {
					steps = append(steps, readmeStep{line: start + j + 1, kind: "run", cmd: cmd, console: true})
				} else if strings.TrimSpace(l) != "" {
					if len(steps) == 0 || steps[len(steps)-1].kind != "run" || steps[len(steps)-1].line < start {
						return nil, fmt.Errorf("README.md:%d: console output with no $ command above it", start+j+1)
					}
					steps[len(steps)-1].expect = append(steps[len(steps)-1].expect, l)
				}
			}
		}
		for k := first; k < len(steps); k++ {
			steps[k].needsPG = needsPG
		}
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("README.md: readme-test directives %q with no block after them", pending)
	}
	return steps, nil
}

func nonEmpty(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// stripComment drops a trailing "# comment" from a one-line command (a
// README command has no # inside quotes).
func stripComment(cmd string) string {
	if i := strings.Index(cmd, " #"); i >= 0 && !strings.Contains(cmd, "\n") {
		return cmd[:i]
	}
	return cmd
}

// matchLines checks that want's lines appear in got, in order, each matching
// a whole line but for surrounding space, "…" matching any text.
func matchLines(got string, want []string) error {
	lines := strings.Split(got, "\n")
	i := 0
	for _, w := range want {
		w = strings.TrimSpace(explanation.ReplaceAllString(w, ""))
		parts := strings.Split(w, "…")
		for k, p := range parts {
			parts[k] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile(`^` + strings.Join(parts, `.*`) + `$`)
		for ; i < len(lines) && !re.MatchString(strings.TrimSpace(lines[i])); i++ {
		}
		if i == len(lines) {
			return fmt.Errorf("no line (after the ones matched before) matches %q", w)
		}
		i++
	}
	return nil
}

// syncBuffer is a bytes.Buffer two goroutines may use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// readmeRun is the state of one replay: the working copy, the terminal
// (bash), the second terminal's server, the port.
type readmeRun struct {
	t          *testing.T
	work, logs string
	addr       string // 127.0.0.1:PORT
	env        []string
	sh         *exec.Cmd
	shIn       io.WriteCloser
	shOut      *bufio.Reader
	n          int
	other      *exec.Cmd // the second terminal's foreground serve
	otherOut   *syncBuffer
	last       func() string // the last command's output so far
	results    []readmeResult
}

type readmeResult struct {
	cmd, out string
}

var (
	serveNoListen = regexp.MustCompile(`attestkms serve\b`)
	cnExample     = regexp.MustCompile(`go run \./examples/(huaweisdk|tencentsdk)\b`)
)

// rewrite makes a README command listen on, or call, the test's port.
func (r *readmeRun) rewrite(cmd string) string {
	cmd = strings.ReplaceAll(cmd, "127.0.0.1:8080", r.addr)
	if !strings.Contains(cmd, "--listen") {
		cmd = serveNoListen.ReplaceAllLiteralString(cmd, "attestkms serve --listen "+r.addr)
	}
	if !strings.Contains(cmd, "--endpoint") {
		cmd = cnExample.ReplaceAllString(cmd, "$0 --endpoint http://"+r.addr)
	}
	return cmd
}

// expected is a README output line with the test's port and account.
func (r *readmeRun) expected(want []string) []string {
	out := make([]string, len(want))
	acct := r.account()
	for i, w := range want {
		w = strings.ReplaceAll(w, "127.0.0.1:8080", r.addr)
		if acct != "" {
			w = strings.ReplaceAll(strings.ReplaceAll(w, "123456789012", acct), "111122223333", acct)
		}
		out[i] = w
	}
	return out
}

// account is the store's account id, once the first serve has made it.
func (r *readmeRun) account() string {
	b, err := os.ReadFile(filepath.Join(r.work, "attestkms-data", "admin-credential.json"))
	if err != nil {
		return ""
	}
	var c struct {
		AccountID string `json:"account_id"`
	}
	json.Unmarshal(b, &c)
	return c.AccountID
}

// waitFor waits until out() matches want, or fails after d.
func (r *readmeRun) waitFor(what string, out func() string, want []string, d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := matchLines(out(), r.expected(want))
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: %v\noutput:\n%s", what, err, out())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var servingLine = []string{"attestkms: serving … on …"}

// run runs one README command in the terminal, or a foreground serve in the
// second terminal.
func (r *readmeRun) run(s readmeStep) {
	t := r.t
	t.Helper()
	cmd := r.rewrite(s.cmd)
	where := fmt.Sprintf("README.md:%d: %s", s.line, s.cmd)
	// An unfinished command (an open quote, a line break without \) would
	// leave the terminal waiting for the rest.
	if out, err := exec.Command("bash", "-n", "-c", cmd).CombinedOutput(); err != nil {
		t.Fatalf("%s: not a complete shell command: %v\n%s", where, err, out)
	}
	if serveNoListen.MatchString(cmd) && !backgrounded.MatchString(cmd) {
		if r.other != nil {
			t.Fatalf("%s: the second terminal's server still runs", where)
		}
		c := exec.Command("bash", "--noprofile", "--norc", "-c", cmd)
		c.Dir, c.Env = r.work, r.env
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		r.otherOut = &syncBuffer{}
		c.Stdout, c.Stderr = r.otherOut, r.otherOut
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		r.other = c
		r.last = r.otherOut.String
		r.waitFor(where, r.otherOut.String, servingLine, 3*time.Minute)
		t.Logf("%s: serving (second terminal)", where)
		return
	}
	r.n++
	outFile := filepath.Join(r.logs, fmt.Sprintf("out.%d", r.n))
	fmt.Fprintf(r.shIn, "{ %s\n} >%s 2>&1 </dev/null; echo \"__readme_done__ $?\"\n", cmd, strconv.Quote(outFile))
	done := make(chan string, 1)
	go func() {
		for {
			l, err := r.shOut.ReadString('\n')
			if err != nil {
				done <- "eof " + err.Error()
				return
			}
			if rest, ok := strings.CutPrefix(l, "__readme_done__ "); ok {
				done <- strings.TrimSpace(rest)
				return
			}
		}
	}()
	var status string
	select {
	case status = <-done:
	case <-time.After(5 * time.Minute):
		t.Fatalf("%s: still running after 5 minutes", where)
	}
	read := func() string { b, _ := os.ReadFile(outFile); return string(b) }
	r.last = read
	if status != "0" && !s.console {
		t.Fatalf("%s: exit status %s\n%s", where, status, read())
	}
	if backgrounded.MatchString(cmd) && serveNoListen.MatchString(cmd) {
		r.waitFor(where, read, servingLine, 3*time.Minute)
	}
	if err := matchLines(read(), r.expected(s.expect)); err != nil {
		t.Fatalf("%s: %v\noutput:\n%s", where, err, read())
	}
	r.results = append(r.results, readmeResult{cmd: s.cmd, out: read()})
	t.Logf("%s: ok", where)
}

// TestREADME replays the README (see above), then checks what its outputs
// mean: every data key an enclave got opens to what it printed, the shared
// secret is the peer's ECDH, and the last server stops gracefully.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries and the examples")
	}
	for _, tool := range []string{"bash", "git", "jq", "openssl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's commands need %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := parseREADME(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	r := &readmeRun{t: t, work: filepath.Join(t.TempDir(), "attestkms"), logs: t.TempDir()}
	copyWorkingTree(t, r.work)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	ln.Close()
	// The reader's defaults, not the developer's or the machine's AWS settings.
	r.env = append(withoutAWSSettings(), "AWS_ENDPOINT_URL=http://"+r.addr)

	r.sh = exec.Command("bash", "--noprofile", "--norc")
	r.sh.Dir, r.sh.Env = r.work, r.env
	r.sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.shIn, _ = r.sh.StdinPipe()
	out, _ := r.sh.StdoutPipe()
	r.shOut = bufio.NewReader(out)
	shErr := &syncBuffer{}
	r.sh.Stderr = shErr
	if err := r.sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever is still running (the shell's jobs share its process
		// group; the second terminal has its own) ends with the test.
		for _, c := range []*exec.Cmd{r.other, r.sh} {
			if c != nil && c.ProcessState == nil {
				syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
				c.Wait()
			}
		}
		if s := shErr.String(); s != "" {
			t.Logf("the terminal's own stderr:\n%s", s)
		}
	})

	for _, s := range steps {
		if s.needsPG && !pgtest.Available() {
			t.Logf("README.md:%d: not run: it needs PostgreSQL (%s is not set)", s.line, pgtest.Env)
			continue
		}
		switch s.kind {
		case "file":
			if err := os.WriteFile(filepath.Join(r.work, s.name), []byte(s.body), 0o644); err != nil {
				t.Fatal(err)
			}
		case "output":
			if r.last == nil {
				t.Fatalf("README.md:%d: an output block before any command", s.line)
			}
			r.waitFor(fmt.Sprintf("README.md:%d (output)", s.line), r.last, s.expect, 30*time.Second)
		case "ctrl-c":
			if r.other == nil {
				t.Fatalf("README.md:%d: Ctrl-C, but no server runs in a second terminal", s.line)
			}
			syscall.Kill(-r.other.Process.Pid, syscall.SIGINT)
			waited := make(chan error, 1)
			go func() { waited <- r.other.Wait() }()
			select {
			case err := <-waited:
				// The server says it shuts down, and exits 0; go run (the
				// README's way to start it) exits 1 whenever it is
				// interrupted, whatever its program did.
				var ee *exec.ExitError
				goRun := strings.HasPrefix(r.other.Args[len(r.other.Args)-1], "go run ")
				if !strings.Contains(r.otherOut.String(), "attestkms: shutting down") ||
					(err != nil && !(goRun && errors.As(err, &ee) && ee.ExitCode() == 1)) {
					t.Fatalf("README.md:%d: the server did not stop gracefully on Ctrl-C: %v\n%s", s.line, err, r.otherOut.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("README.md:%d: the server did not stop within 30 s of Ctrl-C", s.line)
			}
			r.other = nil
		case "run":
			r.run(s)
		}
	}
	r.checkMeaning()
}

// checkMeaning checks what the README's outputs mean, against the server
// still running when it ends (its store is the one every section used).
func (r *readmeRun) checkMeaning() {
	t := r.t
	var cred struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	b, err := os.ReadFile(filepath.Join(r.work, "attestkms-data", "admin-credential.json"))
	if err != nil || json.Unmarshal(b, &cred) != nil {
		t.Fatalf("admin credential: %v", err)
	}
	sdk := awskms.New(awskms.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + r.addr),
		Credentials: credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, "")})
	ctx := context.Background()
	values := func(out string) map[string][]byte {
		v := map[string][]byte{}
		for _, l := range strings.Split(out, "\n") {
			if k, val, ok := strings.Cut(l, ": "); ok {
				if d, err := base64.StdEncoding.DecodeString(strings.TrimSpace(val)); err == nil {
					v[k] = d
				}
			}
		}
		return v
	}
	keyID := regexp.MustCompile(`--key-id (\S+)`)
	var dataKeys, secrets int
	for _, res := range r.results {
		switch {
		case strings.Contains(res.cmd, "enclavetool generate-data-key "):
			v := values(res.out)
			if len(v["PLAINTEXT"]) != 32 || len(v["CIPHERTEXT"]) == 0 {
				t.Fatalf("%s printed %q", res.cmd, res.out)
			}
			back, err := sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: v["CIPHERTEXT"]})
			var ae smithy.APIError
			switch {
			case keyID.FindStringSubmatch(res.cmd)[1] == "alias/enclave-only":
				// The README's attestation-bound key: no plaintext without evidence.
				if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
					t.Fatalf("Decrypt without a Recipient on alias/enclave-only: %v", err)
				}
			case err != nil || !bytes.Equal(back.Plaintext, v["PLAINTEXT"]):
				t.Fatalf("%s: the enclave's data key is not what Decrypt returns: %v", res.cmd, err)
			}
			dataKeys++
		case strings.Contains(res.cmd, "enclavetool derive-shared-secret "):
			pub, err := sdk.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(keyID.FindStringSubmatch(res.cmd)[1])})
			if err != nil {
				t.Fatal(err)
			}
			kp, err := x509.ParsePKIXPublicKey(pub.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			kmsPub, err := kp.(*ecdsa.PublicKey).ECDH()
			if err != nil {
				t.Fatal(err)
			}
			pemBytes, err := os.ReadFile(filepath.Join(r.work, "peer.key"))
			if err != nil {
				t.Fatal(err)
			}
			blk, _ := pem.Decode(pemBytes)
			if blk == nil {
				t.Fatal("peer.key: no PEM")
			}
			peer, err := x509.ParseECPrivateKey(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			peerECDH, err := peer.ECDH()
			if err != nil {
				t.Fatal(err)
			}
			want, err := peerECDH.ECDH(kmsPub)
			if err != nil {
				t.Fatal(err)
			}
			if got := values(res.out)["SHARED_SECRET"]; !bytes.Equal(got, want) {
				t.Fatalf("%s: SHARED_SECRET is not the peer's ECDH with the key", res.cmd)
			}
			secrets++
		}
	}
	if dataKeys < 3 || secrets < 1 {
		t.Fatalf("the README ran %d enclave data keys and %d shared secrets; this test expects the quick starts' (3 or more, 1 or more)", dataKeys, secrets)
	}
	// The last server, the terminal's job, stops gracefully on SIGTERM.
	r.run(readmeStep{line: 0, kind: "run", cmd: "kill %1 && wait %1"})
}

// copyWorkingTree copies the tracked and untracked-but-not-ignored files of
// the checkout into dir.
func copyWorkingTree(t *testing.T, dir string) {
	t.Helper()
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	root := strings.TrimSpace(string(top))
	list, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or not a file
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestParseREADME: the README's conventions, on a small document.
func TestParseREADME(t *testing.T) {
	doc := "# T\n" +
		"<!-- readme-test: not \"go test ./...\" (the suite) -->\n" +
		"```sh\ngo run ./cmd/attestkms serve   # a comment\ngo test ./...\n```\n" +
		"<!-- readme-test: output -->\n```\nattestkms: serving … on …\n```\n" +
		"<!-- readme-test: ctrl-c -->\n" +
		"<!-- readme-test: file p.json -->\n```json\n{\"a\":1}\n```\n" +
		"<!-- readme-test: skip (real hardware) -->\n```sh\nbin/enclavetool attest --attestor nitro\n```\n" +
		"```sh\nbin/x --long \\\n    --flag\n# LINE: A…   (an explanation)\n```\n" +
		"```console\n$ bin/y\nallowed\n$ bin/z\n```\n" +
		"```go\nfmt.Println()\n```\n"
	steps, err := parseREADME(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range steps {
		got = append(got, fmt.Sprintf("%d %s %q %v %q %v", s.line, s.kind, s.cmd, s.console, s.expect, s.name))
	}
	want := []string{
		`4 run "go run ./cmd/attestkms serve   # a comment" false [] `,
		`8 output "" false ["attestkms: serving … on …"] `,
		`11 ctrl-c "" false [] `,
		`13 file "" false [] p.json`,
		`21 run "bin/x --long \\\n    --flag" false ["LINE: A…   (an explanation)"] `,
		`26 run "bin/y" true ["allowed"] `,
		`28 run "bin/z" true [] `,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []string{
		"<!-- readme-test: skipp (typo) -->\n```sh\nx\n```\n",
		"<!-- readme-test: skip (nothing after) -->\n",
		"```sh\n# output with no command\n```\n",
		"```sh\nx\n",
	} {
		if _, err := parseREADME(bad); err == nil {
			t.Errorf("parseREADME(%q) accepted it", bad)
		}
	}
	for _, tc := range []struct {
		got  string
		want []string
		ok   bool
	}{
		{"a\nCIPHERTEXT: AQxyz\nPLAINTEXT: p\n", []string{"CIPHERTEXT: A…   (store it)", "PLAINTEXT: …"}, true},
		{"PLAINTEXT: p\nCIPHERTEXT: AQxyz\n", []string{"CIPHERTEXT: A…", "PLAINTEXT: …"}, false}, // order
		{"  \"format\": \"nitro\",\n", []string{`  "format": "nitro",`}, true},
		{"data key round trip ok (32-byte key)\n", []string{"data key round trip ok (16-byte key)"}, false},
		{"x.y\n", []string{"x*y"}, false}, // no regexp but …
	} {
		if err := matchLines(tc.got, tc.want); (err == nil) != tc.ok {
			t.Errorf("matchLines(%q, %q) = %v; want ok %v", tc.got, tc.want, err, tc.ok)
		}
	}
}
