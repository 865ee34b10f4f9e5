package enclave_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/enclave"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

// nitroAttestor signs a fresh test Nitro document for each request (a
// counter as its nonce: no two are alike), and remembers the last key it
// bound, as the host sees it in the Recipient.
type nitroAttestor struct {
	ca  *nitrotest.CA
	n   atomic.Uint64
	pcr map[int][]byte
}

func (a *nitroAttestor) Attest(der, _, _ []byte) ([]byte, error) {
	nonce := []byte{byte(a.n.Add(1))}
	return a.ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: a.pcr, PublicKey: der, Nonce: nonce})
}

// proxy is the enclave's host: it forwards every request to attestkms and
// may rewrite the answer (rewrite nil: forwards it as it is), or send a
// request of its own in the enclave's place (own nil: forwards the
// enclave's).
type proxy struct {
	mu      sync.Mutex
	rewrite func(op string, req, resp map[string]any) map[string]any
	// own, if set, makes the host's request from the enclave's: it is
	// sent, signed with host's credentials, instead of the enclave's,
	// and its answer relayed.
	own  func(op string, req map[string]any) map[string]any
	host *enclave.Client
}

func startProxy(t *testing.T, upstream string) (*proxy, string) {
	p := &proxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
		p.mu.Lock()
		rw, own, host := p.rewrite, p.own, p.host
		p.mu.Unlock()
		if own != nil {
			var req map[string]any
			json.Unmarshal(body, &req)
			mine, _ := json.Marshal(own(op, req))
			var ans json.RawMessage
			if err := host.Send(r.Context(), op, mine, &ans); err != nil {
				http.Error(w, err.Error(), 502)
				return
			}
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.Write(ans)
			return
		}
		out, _ := http.NewRequest(r.Method, upstream+r.URL.Path, bytes.NewReader(body))
		out.Header = r.Header.Clone()
		out.Host = r.Host // what the enclave signed
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if rw != nil && resp.StatusCode == 200 {
			var req, ans map[string]any
			json.Unmarshal(body, &req)
			json.Unmarshal(b, &ans)
			b, _ = json.Marshal(rw(op, req, ans))
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *proxy) set(rw func(op string, req, resp map[string]any) map[string]any) {
	p.mu.Lock()
	p.rewrite = rw
	p.mu.Unlock()
}

func (p *proxy) sendOwn(host *enclave.Client, own func(op string, req map[string]any) map[string]any) {
	p.mu.Lock()
	p.own, p.host = own, host
	p.mu.Unlock()
}

// TestHostCannotForgeAnswers: an enclave that pins the service key refuses
// an answer its host substituted (a data key the host chose, wrapped to the
// enclave's key, which the Recipient shows the host), replayed from another
// request, stripped of its signature, re-signed with another key, or the
// service's genuine answer to a request the host made with the enclave's
// document (its own peer key for DeriveSharedSecret, its own blob for
// Decrypt); it takes the genuine answer. One that pins nothing takes the
// substitutions: the attacks this stops.
func TestHostCannotForgeAnswers(t *testing.T) {
	ctx := context.Background()
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := nitro.New(nitro.Options{Roots: ca.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, testserver.Options{Attestation: &attest.Set{COSE: []attest.Verifier{v}}})
	pcrs := map[int][]byte{}
	for i := 0; i < 16; i++ {
		pcrs[i] = make([]byte, 48)
	}
	pcrs[0] = bytes.Repeat([]byte{0x42}, 48)
	var pins []string
	for _, k := range srv.Service.ServiceKeys() {
		pins = append(pins, k.ID)
	}
	p, url := startProxy(t, srv.URL)
	key, err := enclave.NewKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	client := &enclave.Client{Endpoint: url, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.Secret}
	s := &enclave.Session{Client: client, Attestor: &nitroAttestor{ca: ca, pcr: pcrs}, Key: key, ServiceKeys: pins}
	var ck struct{ KeyMetadata struct{ KeyId string } }
	if err := client.Call(ctx, "CreateKey", struct{}{}, &ck); err != nil {
		t.Fatal(err)
	}
	keyID := ck.KeyMetadata.KeyId

	// The genuine answers are taken.
	dk, err := s.GenerateDataKey(ctx, keyID, "AES_256", 0, nil)
	if err != nil {
		t.Fatalf("a genuine answer refused: %v", err)
	}
	if pt, err := s.Decrypt(ctx, dk.CiphertextBlob, "", nil); err != nil || !bytes.Equal(pt, dk.Plaintext) {
		t.Fatalf("a genuine Decrypt: %v", err)
	}
	if b, err := s.GenerateRandom(ctx, 16); err != nil || len(b) != 16 {
		t.Fatalf("a genuine GenerateRandom: %v", err)
	}
	if kp, err := s.GenerateDataKeyPair(ctx, keyID, "ECC_NIST_P256", nil); err != nil || len(kp.PrivateKey) == 0 {
		t.Fatalf("a genuine GenerateDataKeyPair: %v", err)
	}

	// (1) Substitution: the host wraps its own data key to the enclave's
	// key, which it reads in the Recipient's document (here: the key it
	// knows the enclave bound).
	hostKey := bytes.Repeat([]byte{0x66}, 32)
	substitute := func(op string, req, ans map[string]any) map[string]any {
		pub := key.PublicKeyDER()
		rpub, _ := x509.ParsePKIXPublicKey(pub)
		cfr, err := recipient.WrapCMS(rpub.(*rsa.PublicKey), pub, bytes.Clone(hostKey), rand.Reader)
		if err != nil {
			t.Error(err)
		}
		ans["CiphertextForRecipient"] = base64.StdEncoding.EncodeToString(cfr)
		return ans
	}
	p.set(substitute)
	if dk, err := s.GenerateDataKey(ctx, keyID, "AES_256", 0, nil); !errors.Is(err, answer.ErrSignature) || dk != nil {
		t.Fatalf("a substituted data key: %v, %v", dk, err)
	}
	// Without a pinned key the same substitution is taken: the attack.
	unpinned := *s
	unpinned.ServiceKeys = nil
	if dk, err := unpinned.GenerateDataKey(ctx, keyID, "AES_256", 0, nil); err != nil || !bytes.Equal(dk.Plaintext, hostKey) {
		t.Fatalf("the unpinned enclave did not take the host's key (%v): the test does not test the attack", err)
	}

	// (2) Replay: the answer to an earlier request, signed, genuine,
	// answers a later one (another document).
	var recorded map[string]any
	p.set(func(op string, req, ans map[string]any) map[string]any { recorded = ans; return ans })
	if _, err := s.GenerateDataKey(ctx, keyID, "AES_256", 0, nil); err != nil {
		t.Fatal(err)
	}
	p.set(func(op string, req, ans map[string]any) map[string]any { return recorded })
	if dk, err := s.GenerateDataKey(ctx, keyID, "AES_256", 0, nil); !errors.Is(err, answer.ErrSignature) || dk != nil {
		t.Fatalf("a replayed answer: %v, %v", dk, err)
	}
	// … or into another operation.
	if b, err := s.GenerateRandom(ctx, 32); err == nil || b != nil {
		t.Fatalf("a GenerateDataKey answer replayed into GenerateRandom: %v", err)
	}

	// (3) Stripped.
	p.set(func(op string, req, ans map[string]any) map[string]any {
		delete(ans, "AttestKMSAnswerSignature")
		return ans
	})
	if _, err := s.GenerateDataKey(ctx, keyID, "AES_256", 0, nil); !errors.Is(err, answer.ErrUnsigned) {
		t.Fatalf("an unsigned answer: %v", err)
	}

	// (4) Substituted and signed with the host's own key.
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	p.set(func(op string, req, ans map[string]any) map[string]any {
		ans = substitute(op, req, ans)
		cfr, _ := base64.StdEncoding.DecodeString(ans["CiphertextForRecipient"].(string))
		blob, _ := base64.StdEncoding.DecodeString(ans["CiphertextBlob"].(string))
		doc, _ := base64.StdEncoding.DecodeString(req["Recipient"].(map[string]any)["AttestationDocument"].(string))
		arn := ans["KeyId"].(string)
		sig, _ := answer.Sign(hostPriv, doc, body(req), op, arn, []answer.Field{{Name: "CiphertextForRecipient", Value: cfr}, {Name: "CiphertextBlob", Value: blob}, {Name: "KeyId", Value: []byte(arn)}})
		ans["AttestKMSAnswerSignature"] = map[string]any{"KeyId": sig.KeyID, "PublicKey": sig.PublicKey, "Signature": sig.Signature}
		return ans
	})
	if _, err := s.GenerateDataKey(ctx, keyID, "AES_256", 0, nil); !errors.Is(err, answer.ErrUnknownKey) {
		t.Fatalf("an answer signed by the host: %v", err)
	}

	p.set(nil)

	// (5) The host's own request, with the enclave's document: the
	// service answers it genuinely, signed, wrapped to the enclave, and
	// the host relays that answer. The host holds a credential (here the
	// same) and the enclave's document, which it read in the Recipient.
	host := &enclave.Client{Endpoint: srv.URL, Region: srv.Region, AccessKeyID: srv.AccessKey, SecretAccessKey: srv.Secret}
	var ka struct{ KeyMetadata struct{ KeyId string } }
	if err := host.Call(ctx, "CreateKey", map[string]string{"KeyUsage": "KEY_AGREEMENT", "KeySpec": "ECC_NIST_P256"}, &ka); err != nil {
		t.Fatal(err)
	}
	agreeID := ka.KeyMetadata.KeyId
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	hostPeer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostPeerDER, _ := x509.MarshalPKIXPublicKey(hostPeer.PublicKey())
	// (5a) DeriveSharedSecret with the host's peer key: the secret is
	// then one the host can compute too.
	p.sendOwn(host, func(op string, req map[string]any) map[string]any {
		req["PublicKey"] = base64.StdEncoding.EncodeToString(hostPeerDER)
		return req
	})
	if ss, err := s.DeriveSharedSecret(ctx, agreeID, peerDER); !errors.Is(err, answer.ErrSignature) || ss != nil {
		t.Fatalf("a shared secret with the host's peer key: %v", err)
	}
	if ss, err := unpinned.DeriveSharedSecret(ctx, agreeID, peerDER); err != nil || len(ss) != 32 {
		t.Fatalf("the unpinned enclave did not take the host's secret (%v): the test does not test the attack", err)
	}
	// (5b) Decrypt of the host's own blob, whose data key the host knows.
	var hdk struct{ CiphertextBlob, Plaintext []byte }
	if err := host.Call(ctx, "GenerateDataKey", map[string]any{"KeyId": keyID, "KeySpec": "AES_256"}, &hdk); err != nil {
		t.Fatal(err)
	}
	p.sendOwn(host, func(op string, req map[string]any) map[string]any {
		req["CiphertextBlob"] = base64.StdEncoding.EncodeToString(hdk.CiphertextBlob)
		return req
	})
	if pt, err := s.Decrypt(ctx, dk.CiphertextBlob, keyID, nil); !errors.Is(err, answer.ErrSignature) || pt != nil {
		t.Fatalf("the host's data key for the enclave's blob: %v", err)
	}
	if pt, err := unpinned.Decrypt(ctx, dk.CiphertextBlob, keyID, nil); err != nil || !bytes.Equal(pt, hdk.Plaintext) {
		t.Fatalf("the unpinned enclave did not take the host's data key (%v): the test does not test the attack", err)
	}
	p.sendOwn(nil, nil)

	// Honest again: taken.
	if _, err := s.GenerateDataKey(ctx, keyID, "AES_256", 0, nil); err != nil {
		t.Fatal(err)
	}
	if ss, err := s.DeriveSharedSecret(ctx, agreeID, peerDER); err != nil || len(ss) != 32 {
		t.Fatalf("a genuine DeriveSharedSecret: %v", err)
	}
}

// body is req as JSON: the request the host signs over in its forgery.
func body(req map[string]any) []byte {
	b, _ := json.Marshal(req)
	return b
}
