package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/attestkms/attestkms/answer"

	"github.com/attestkms/attestkms/kms"
)

const serviceKeyUsage = `Usage: attestkms service-key [--data-dir DIR] [--root-key SPEC]
       attestkms service-key --store postgres://USER@HOST:PORT/DB?sslmode=… --root-key-file FILE
       attestkms service-key --endpoint URL [--ca-bundle PEM]
       attestkms service-key rotate [--grace-days N] …   (attestkms service-key rotate --help)

Prints the service's answer-signing public key(s) (Ed25519), PEM, each after
a comment line with its SHA-256 fingerprint (of its SubjectPublicKeyInfo):
the key an enclave pins (enclavetool --service-key FILE|FINGERPRINT) to
refuse answers its host forged or replayed (docs/answers.md). A running
server gives the same at GET /service-key (unauthenticated: it is public).

An embedded store is read while no server holds it; a store made before
answers were signed has no key until a server has opened it once. With
--endpoint, the running server's GET /service-key is printed, checked to be
Ed25519 public keys; the URL must be https:// (verified against --ca-bundle
or the system's roots) or a loopback address: what an enclave pins must not
come over a path that can change it, nor through the host it will run on.

Exit status: 0 printed, 1 failure (the store is in use, or has no key yet),
2 usage, 3 unreadable input.
`

func runServiceKey(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "rotate" {
		return runServiceKeyRotate(args[1:], stdout, stderr)
	}
	fs := newFlagSet("service-key", serviceKeyUsage, stdout, stderr)
	dataDir := fs.String("data-dir", "./attestkms-data", "the store's `directory`")
	var root rootKeyFlags
	root.register(fs)
	var sf storeFlags
	sf.register(fs)
	endpoint := fs.String("endpoint", "", "print the running server's GET /service-key instead: its `URL` (https://, or a loopback address)")
	caBundle := fs.String("ca-bundle", "", "with --endpoint: trust only the CAs in this PEM `file` for the server's TLS certificate")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *endpoint != "" {
		// What it prints is what enclave images pin: as rotate's.
		if err := pinnableEndpoint(*endpoint); err != nil {
			return err
		}
		hc, err := endpointClient(*caBundle)
		if err != nil {
			return err
		}
		return fetchServiceKey(hc, strings.TrimSuffix(*endpoint, "/")+"/service-key", stdout)
	}
	if *caBundle != "" {
		return usageError("--ca-bundle goes with --endpoint")
	}
	if err := sf.check(); err != nil {
		return err
	}
	if sf.shared() && !root.given() {
		return usageError("--store postgres://… needs --root-key SPEC (or --root-key-file FILE)")
	}
	opts := kms.Options{DataDir: *dataDir}
	if err := root.apply(&opts); err != nil {
		return err
	}
	if sf.shared() {
		opts.DataDir = ""
	}
	if err := sf.apply(&opts); err != nil {
		return err
	}
	keys, err := kms.StoredServiceKeys(context.Background(), opts)
	if err != nil {
		return err
	}
	_, err = stdout.Write(kms.FormatServiceKeys(keys))
	return err
}

// maxServiceKeys bounds what fetchServiceKey reads: a key's text is under
// 250 bytes, and a store holds a few.
const maxServiceKeys = 64 << 10

// fetchServiceKey prints url's service keys once they parse as such.
func fetchServiceKey(c *http.Client, url string, stdout io.Writer) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxServiceKeys))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if _, err := answer.ParsePEM(b); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	_, err = stdout.Write(b)
	return err
}

const serviceKeyRotateUsage = `Usage: attestkms service-key rotate [--grace-days N | --revoke] [--data-dir DIR] [--root-key SPEC]
       attestkms service-key rotate [--grace-days N | --revoke] --store postgres://USER@HOST:PORT/DB?sslmode=… \
           --data-dir NODE_DIR --root-key SPEC
       attestkms service-key rotate [--grace-days N | --revoke] --endpoint URL --credential ADMIN.json

Makes a new answer-signing key (docs/answers.md, "Rotation"): it is
published at once beside the current key(s), each of which keeps signing,
and stays published, for N more days (--grace-days, 1 to 365; default 30),
so that enclave images that pin only it keep working while they are rebuilt
to pin the new one; from then on the new key signs alone. Keys whose grace
has ended leave the set.

--revoke is for a key that leaked: every current key leaves the set at once
and the new key signs every answer from now on, so that images rebuilt to
pin it work at once. Images that pin only a revoked key refuse every answer
until rebuilt, and would still accept answers forged with the leaked key:
rebuild and redeploy them (docs/answers.md, "Revocation").

An embedded store is rotated while no server holds it (exit 1 while one
does: then use --endpoint). A shared (PostgreSQL) store is rotated while
its nodes run: each publishes the new set and signs with it within a second
of the commit, without a restart. NODE_DIR is a node's data directory that
no running node uses (a new directory becomes a node): the rotation's audit
record goes to its log, as root-key rotate's does. With --endpoint, the
running server (any node of a shared store) rotates its store through its
admin API (RotateServiceKey), signed with an admin credential; the URL must
be https:// or a loopback address, since the key it prints is the one
enclave images will pin.

Prints the new key on stdout as attestkms service-key prints keys (a comment
line with its SHA-256 fingerprint, then its PEM public key), and on stderr
each key that retires and when (or is revoked). Every rotation is audited
("RotateServiceKey"; request "offline" without --endpoint).

Exit status: 0 rotated, 1 refused or failed (the store is in use, or 8 keys
are in their grace already: nothing changed), 2 usage, 3 unreadable input.

Examples:
  attestkms service-key rotate --data-dir /var/lib/attestkms --grace-days 14 > service-key-next.pem
  attestkms service-key rotate --store 'postgres://attestkms@db.internal:5432/attestkms?sslmode=verify-full' \
      --data-dir /var/lib/attestkms-admin --root-key file:/etc/attestkms/root.key
  attestkms service-key rotate --endpoint https://kms.internal:8443 --credential admin.json
`

func runServiceKeyRotate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("service-key rotate", serviceKeyRotateUsage, stdout, stderr)
	var f credentialFlags
	fs.StringVar(&f.dataDir, "data-dir", "./attestkms-data", "the store's `directory`, the server stopped (a shared store's: a node's, not in use)")
	grace := fs.Int("grace-days", 30, "how many `days` the current keys keep signing beside the new one (1 to 365)")
	revoke := fs.Bool("revoke", false, "drop every current key at once (a key that leaked): the new key signs from now on")
	f.root.register(fs)
	var sf storeFlags
	sf.register(fs)
	f.registerEndpoint(fs, "rotate through its admin API")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	// kms.RotateServiceKey's bounds (0 would be its default, 30).
	if *grace < 1 || *grace > 365 {
		return usageError("--grace-days must be between 1 and 365 (days), not %d", *grace)
	}
	req := &kms.RotateServiceKeyRequest{GraceDays: int32(*grace)}
	if *revoke {
		if f.set["grace-days"] {
			return usageError("--revoke drops the current keys at once: it takes no --grace-days")
		}
		req = &kms.RotateServiceKeyRequest{Revoke: true}
	}
	if f.endpoint != "" {
		for _, name := range []string{"data-dir", "root-key", "root-key-file", "pkcs11-pin-file", "store", "store-password-file"} {
			if f.set[name] {
				return usageError("--%s and --endpoint exclude each other: --endpoint rotates the running server's store", name)
			}
		}
		if err := f.check("list", nil); err != nil {
			return err
		}
		return remoteRotateServiceKey(&f, req, stdout, stderr)
	}
	if err := f.onlyWithEndpoint(); err != nil {
		return err
	}
	if err := sf.check(); err != nil {
		return err
	}
	switch {
	case sf.shared() && !f.set["data-dir"]:
		return usageError("--store postgres://… needs --data-dir NODE_DIR, a node's directory for the rotation's audit record (no running node's)")
	case sf.shared() && !f.root.given():
		return usageError("--store postgres://… needs --root-key SPEC (or --root-key-file FILE), the root key the nodes use")
	}
	// The service key has no region: the store is opened in its own.
	opts := kms.Options{DataDir: f.dataDir, StoredRegion: true}
	if err := f.root.apply(&opts); err != nil {
		return err
	}
	if err := sf.apply(&opts); err != nil {
		return err
	}
	svc, err := kms.Open(opts)
	if errors.Is(err, kms.ErrStoreInUse) {
		if sf.shared() {
			return withHint(err, "a running node uses that directory: give --data-dir a directory of its own (a new one becomes a node), or rotate through a node: --endpoint URL --credential ADMIN.json")
		}
		return withHint(err, "while the server runs, rotate through it: --endpoint URL --credential ADMIN.json")
	}
	if err != nil {
		return storeError(err)
	}
	defer svc.Close()
	resp, err := svc.Admin().RotateServiceKey(context.Background(), req)
	if err != nil {
		return err
	}
	var retiring []retiringKey
	for _, k := range resp.Retiring {
		retiring = append(retiring, retiringKey{k.ID, *k.RetiredAt})
	}
	var revoked []string
	for _, k := range resp.Revoked {
		revoked = append(revoked, k.ID)
	}
	tellRevoked(stderr, revoked)
	tellRotation(stderr, resp.New.ID, retiring)
	_, err = stdout.Write(kms.FormatServiceKeys([]kms.ServiceKey{resp.New}))
	return err
}

// retiringKey is a key a rotation retires, and when.
type retiringKey struct {
	id string
	at time.Time
}

// tellRevoked says on w which keys a revocation dropped.
func tellRevoked(w io.Writer, ids []string) {
	for _, id := range ids {
		fmt.Fprintf(w, "attestkms: service key SHA256:%s revoked: no longer published, signs nothing; images that pin only it refuse every answer until rebuilt\n", id)
	}
}

// tellRotation says on w which keys retire when, and from when the new key
// signs alone.
func tellRotation(w io.Writer, newID string, retiring []retiringKey) {
	var last time.Time
	for _, k := range retiring {
		fmt.Fprintf(w, "attestkms: service key SHA256:%s retires %s: published until then (the oldest key in its grace signs)\n", k.id, k.at.UTC().Format(time.RFC3339))
		if k.at.After(last) {
			last = k.at
		}
	}
	if last.IsZero() {
		fmt.Fprintf(w, "attestkms: new service key SHA256:%s: published and signing now\n", newID)
		return
	}
	fmt.Fprintf(w, "attestkms: new service key SHA256:%s: published now, signs alone from %s: rebuild enclave images to pin it before then (attestkms service-key prints every published key)\n", newID, last.UTC().Format(time.RFC3339))
}

// remoteRotateServiceKey asks the running server to rotate its service key,
// and prints the new key once it parses as the one the answer names.
func remoteRotateServiceKey(f *credentialFlags, req *kms.RotateServiceKeyRequest, stdout, stderr io.Writer) error {
	// What this prints is what enclave images will pin: over plain HTTP
	// anyone on the path could answer a key of their own (whose
	// fingerprint matches the key it carries) and later forge answers.
	if err := pinnableEndpoint(f.endpoint); err != nil {
		return err
	}
	c, err := newAdminClient(f)
	if err != nil {
		return err
	}
	type wireKey struct {
		KeyId     string
		PublicKey string
		CreatedAt int64
		RetiredAt int64
	}
	var out struct {
		New      wireKey
		Retiring []wireKey
		Revoked  []wireKey
	}
	body := struct {
		GraceDays int32 `json:",omitempty"`
		Revoke    bool  `json:",omitempty"`
	}{req.GraceDays, req.Revoke}
	if err := c.call(context.Background(), "RotateServiceKey", body, &out); err != nil {
		return err
	}
	keys, err := answer.ParsePEM([]byte(out.New.PublicKey))
	if err != nil || len(keys) != 1 || answer.Fingerprint(keys[0]) != out.New.KeyId {
		return fmt.Errorf("the server answered a new key that is not one Ed25519 public key of fingerprint %q (%v)", out.New.KeyId, err)
	}
	var retiring []retiringKey
	for _, k := range out.Retiring {
		retiring = append(retiring, retiringKey{k.KeyId, time.Unix(k.RetiredAt, 0)})
	}
	var revoked []string
	for _, k := range out.Revoked {
		revoked = append(revoked, k.KeyId)
	}
	tellRevoked(stderr, revoked)
	tellRotation(stderr, out.New.KeyId, retiring)
	_, err = io.WriteString(stdout, out.New.PublicKey)
	return err
}

// pinnableEndpoint refuses an endpoint whose answer could be altered on the
// way: plain HTTP to another host than this one's loopback. A key printed
// to be pinned must come over TLS (verified against --ca-bundle or the
// system's roots) or from the server's own host.
func pinnableEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return usageError("--endpoint %q: %v", endpoint, err)
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return usageError("--endpoint %s is plain HTTP to another host: the new key it would print, for enclave images to pin, could be replaced on the way; use https:// (with --ca-bundle), or run this on the server's host against its loopback address", endpoint)
}
