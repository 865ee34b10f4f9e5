package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/attestkms/attestkms/enclave"
	"github.com/attestkms/attestkms/internal/gctune"
)

// The canned-answer server is the HTTP floor the server's CPU is compared
// with: Go's net/http server, configured as attestkms serve configures its
// own (timeouts, header bound), that reads each request's whole body (at
// most the server's 1 MiB) and writes one answer prepared in advance — the
// status, headers and body size and shape of the real operation's answer,
// its strings filled with 'A' — with no routing, no signature check, no
// JSON, no crypto and no audit. It is plain net/http rather than echo: the
// floor is what any Go HTTP server must do, and echo's router and context
// are attestkms's choice, counted in its cost. kmsload starts it as a child
// process (its own binary, "kmsload canned-server"), so that /proc counts
// its CPU apart from the load's.

// cannedCommand is the hidden subcommand that runs the canned server.
const cannedCommand = "canned-server"

// maxCannedBody bounds what the canned server reads of a request, as the
// server's pipeline does (pipeline.MaxBody).
const maxCannedBody = 1 << 20

// answer is the canned server's one answer, as kmsload hands it over on the
// child's standard input.
type answer struct {
	Status int         `json:"status"`
	Header http.Header `json:"header"`
	Body   []byte      `json:"body"`
}

// cannedServer is "kmsload canned-server [--listen ADDR]": it reads its
// answer (JSON) from stdin, listens, prints its URL on stdout, and serves
// until stdin is closed.
func cannedServer(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmsload "+cannedCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "the `address` to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dec := json.NewDecoder(io.LimitReader(stdin, 4*maxCannedBody))
	var a answer
	if err := dec.Decode(&a); err != nil {
		return fmt.Errorf("reading the answer on stdin: %w", err)
	}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	gctune.Apply() // as attestkms serve does
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: &a,
		// As attestkms serve's http.Server.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(stderr, "kmsload canned-server: ", 0),
	}
	if _, err := fmt.Fprintf(stdout, "http://%s\n", ln.Addr()); err != nil {
		return err
	}
	// kmsload closes stdin to stop it; so does its death.
	go func() {
		io.Copy(io.Discard, stdin)
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeHTTP reads the whole body and writes the canned answer.
func (a *answer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCannedBody+1))
	if err != nil || len(body) > maxCannedBody {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h := w.Header()
	for k, v := range a.Header {
		h[k] = v
	}
	w.WriteHeader(a.Status)
	w.Write(a.Body)
}

// cannedAnswer is the canned server's answer for a real one: its status,
// its headers but those net/http writes itself (Date, Content-Length), and
// its body with the contents of every JSON string value replaced by as many
// 'A's (so of the same size and shape, and no secret of the real answer
// leaves kmsload).
func cannedAnswer(status int, h http.Header, body []byte) answer {
	hh := h.Clone()
	for _, k := range []string{"Date", "Content-Length", "Connection", "Keep-Alive"} {
		hh.Del(k)
	}
	return answer{Status: status, Header: hh, Body: fillJSONStrings(body)}
}

// fillJSONStrings returns a copy of the JSON document b with every byte
// inside a string value (not an object key) replaced by 'A', escapes
// included: the same length and structure. Input that is not JSON is
// filled the same way as far as its quotes go.
func fillJSONStrings(b []byte) []byte {
	out := bytes.Clone(b)
	for i := 0; i < len(out); i++ {
		if out[i] != '"' {
			continue
		}
		start := i + 1
		end := start
		for end < len(out) && out[end] != '"' {
			if out[end] == '\\' {
				end++
			}
			end++
		}
		end = min(end, len(out))
		// A key is followed by ':' (after white space).
		next := end + 1
		for next < len(out) && strings.IndexByte(" \t\r\n", out[next]) >= 0 {
			next++
		}
		if next >= len(out) || out[next] != ':' {
			for j := start; j < end; j++ {
				out[j] = 'A'
			}
		}
		i = end
	}
	return out
}

// canned is a running canned server, kmsload's child.
type canned struct {
	URL    string
	answer answer
	client *enclave.Client // kmsload's, to load it with
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	wait   sync.Once
}

// startCanned starts "kmsload canned-server" (exe, kmsload's own binary)
// answering a, and waits for its URL.
func startCanned(exe string, a answer, stderr io.Writer) (*canned, error) {
	cmd := exec.Command(exe, cannedCommand, "--listen", "127.0.0.1:0")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the canned server: %w", err)
	}
	c := &canned{cmd: cmd, stdin: stdin, answer: a}
	if err := json.NewEncoder(stdin).Encode(a); err != nil {
		c.Stop()
		return nil, fmt.Errorf("starting the canned server: %w", err)
	}
	type line struct {
		s   string
		err error
	}
	got := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(stdout).ReadString('\n')
		got <- line{s, err}
	}()
	select {
	case l := <-got:
		if l.err != nil || !strings.HasPrefix(l.s, "http://") {
			c.Stop()
			return nil, fmt.Errorf("the canned server did not start (it said %q)", l.s)
		}
		c.URL = strings.TrimSpace(l.s)
	case <-time.After(30 * time.Second):
		c.Stop()
		return nil, errors.New("the canned server did not start in 30s")
	}
	return c, nil
}

// PID is the canned server's process id.
func (c *canned) PID() int { return c.cmd.Process.Pid }

// Stop ends the canned server: it closes its stdin, and kills it if it has
// not exited a few seconds later.
func (c *canned) Stop() {
	c.wait.Do(func() {
		c.stdin.Close()
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.cmd.Process.Kill()
			<-done
		}
	})
}

// exePath is kmsload's own binary, to start the canned server with.
func exePath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding kmsload's own binary to start the canned server: %w", err)
	}
	return exe, nil
}
