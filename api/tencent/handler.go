// Package tencent serves the Tencent Cloud KMS API 3.0 dialect (version
// 2019-01-18): POST / with X-TC-Action: <Action>, signed with
// TC3-HMAC-SHA256 (package tc3), so that the official tencentcloud-sdk-go
// KMS client works against attestkms unchanged. The SecretId is the access
// key id of the same key pair the other dialects use, and keys are shared
// with them.
//
// It is a pipeline.Dialect: the request's path (bound the body, authenticate,
// audit, refuse a replay, run, render) is api/internal/pipeline's, and what is
// here is only what is Tencent's. Its Authenticator is tc3's Verifier
// (service kms; an unknown SecretId and a bad signature get one answer).
// Once the request is authenticated and not a replay: X-TC-Version must be
// 2019-01-18, the action X-TC-Action's (once), the Content-Type JSON and
// X-TC-Region one well-formed region; the body is decoded strictly and its
// values checked (decode.go). Every answer is HTTP 200,
// {"Response":{…,"RequestId":…}}, errors as
// {"Response":{"Error":{"Code","Message"},"RequestId"}} with Tencent's codes
// (errors.go holds the one table from kinds). A request whose audit line
// cannot be written gets InternalError instead of its result.
//
// Actions and their members, as the SDK (kms v20190118) names and types
// them. Binary values are base64 strings; times are Unix seconds;
// EncryptionContext is a string holding a JSON object of strings, bound as
// its pairs (their order and spacing do not matter, and the same pairs given
// through the AWS dialect match). KeyId is a key id (a UUID) or, as an
// extension, alias/NAME. Keys are answered by id alone, never by ARN:
//
//	CreateKey            Alias (required; becomes kms alias "alias/<Alias>"), Description, KeyUsage (ENCRYPT_DECRYPT), Type (1), Tags
//	DescribeKey          KeyId → KeyMetadata
//	ListKeys             Offset, Limit (1-200, default 10), Role → Keys, TotalCount (counts at most 100,000 keys)
//	EnableKey, DisableKey, CancelKeyDeletion   KeyId
//	ScheduleKeyDeletion  KeyId, PendingWindowInDays (7-30, required) → DeletionDate, KeyId
//	Encrypt              KeyId, Plaintext (≤ 4096 bytes), EncryptionContext → CiphertextBlob, KeyId
//	Decrypt              CiphertextBlob, EncryptionContext, EncryptionPublicKey, EncryptionAlgorithm, Recipient → KeyId, Plaintext
//	GenerateDataKey      KeyId, KeySpec (AES_128, AES_256) or NumberOfBytes (1-1024; wins over KeySpec, as Tencent documents), EncryptionContext, EncryptionPublicKey, EncryptionAlgorithm, Recipient → KeyId, Plaintext, CiphertextBlob
//	GenerateRandom       NumberOfBytes (1-1024), Recipient → Plaintext
//	GetPublicKey         KeyId → KeyId, PublicKey (base64 DER SubjectPublicKeyInfo), PublicKeyPem
//
// With EncryptionPublicKey (a PEM public key: RSA of 2048 to 4096 bits, or
// SM2) and EncryptionAlgorithm (RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1,
// RSAES_PKCS1_V1_5, or SM2 in C1C3C2 — the default — or SM2_C1C3C2_ASN1),
// Plaintext is the base64 of the secret encrypted to that key, and
// CiphertextBlob is still returned. A public key alone proves nothing about
// who holds its private key, so a key whose policy has any
// kms:RecipientAttestation condition refuses it (kms decides this).
//
// Extension: Recipient. Decrypt, GenerateDataKey and GenerateRandom also accept
//
//	"Recipient": {"AttestationDocument": "<base64>", "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
//
// as the AWS dialect does: the enclave's RSA key is taken from the verified
// attestation document, the key policy's attestation conditions apply, and
// Plaintext is then the base64 of one raw RSAES-OAEP-SHA-256 ciphertext of
// the secret (not CMS, which Tencent's clients do not expect; it holds at
// most 190 bytes for an RSA-2048 enclave key). KeyEncryptionAlgorithm may
// also be HPKE_P256_SHA256_AES256GCM or HPKE_MLKEM768X25519_SHA256_AES256GCM
// (with "PublicKey": the base64 ML-KEM key the document binds by hash):
// Plaintext is then the base64 of an HPKE frame (docs/hpke.md), and the
// answer carries AttestKMSAnswerSignature (docs/answers.md). GenerateRandom
// takes no EncryptionPublicKey (Tencent's has none). The typed SDK requests have
// no Recipient member; send it with the SDK's common request
// (tchttp.NewCommonRequest("kms", "2019-01-18", "GenerateDataKey") and
// common.Client.Send). Recipient and EncryptionPublicKey exclude each other.
//
// X-TC-Action is not signed, and what this package does about it. The SDK
// signs only content-type, host, the body and the second (package tc3). Who
// captures a signed request may, within the five minutes of skew, send its
// body again under any action whose parameters the same body fits; the
// request is still authenticated. Three things narrow that:
//
//   - Bodies are decoded strictly: a member the action does not define is
//     UnknownParameter, and required members are required. So only a body
//     of {"KeyId"} alone fits more than one action — DescribeKey,
//     GetPublicKey, EnableKey, DisableKey, CancelKeyDeletion. No re-sent
//     body can release a secret under another action or schedule a
//     deletion (ScheduleKeyDeletion requires PendingWindowInDays, and every
//     action that returns a secret has members of its own).
//   - Every verified signature is recorded in the replay cache shared with
//     the other dialects, and one seen before is refused once its
//     X-TC-Timestamp, or its first use, is more than two seconds old
//     (replay.Grace), whatever the action. TC3 signs no nonce, so identical calls within one second
//     (a loop making data keys, DisableKey then EnableKey of one key) carry
//     one signature; inside the grace they are repeats, not replays, and
//     are answered. So a captured request can be sent again, under its own
//     action or another its body fits, only within two seconds of its
//     signing: capture after the fact (logs, a proxy) is refused, and
//     real-time interception is TLS's to stop (serve --tls-cert): use it
//     wherever the network is not trusted. At worst an interceptor flips a
//     key between enabled and disabled or cancels a pending deletion; no
//     re-sent body releases a secret under another action or schedules a
//     deletion.
//   - A client that signs x-tc-action too, as Tencent's documentation
//     shows, has its action covered by the signature (tc3 checks every
//     signed header).
//
// Threat model: every header and body byte is the attacker's until the
// signature verifies, and the body is still hostile after (an authenticated
// client may be compromised). What is not done here: TLS (the server's),
// rate limiting, and CAM: key policies are kms's business. Not supported:
// signature v1 (HmacSHA1/HmacSHA256), GET requests, unsigned payloads,
// temporary credentials (X-TC-Token), multipart bodies.
package tencent

import (
	"context"
	"mime"
	"net/http"
	"reflect"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/api/internal/secretjson"
	"github.com/attestkms/attestkms/api/tencent/tc3"
	"github.com/attestkms/attestkms/kms"
)

// MaxSkew is how far a request's X-TC-Timestamp may be from the server's
// clock: Tencent's five minutes.
const MaxSkew = tc3.DefaultMaxSkew

const (
	// Version is the one API version served.
	Version     = "2019-01-18"
	contentType = "application/json"
	// maxRegion bounds X-TC-Region; Tencent's longest have under 20
	// characters (na-siliconvalley, ap-southeast-3).
	maxRegion = 32
)

// New returns the handler of the Tencent dialect; route POST / with an
// X-TC-Action header to its Handle.
func New(opts pipeline.Options) *pipeline.Handler {
	d := &dialect{svc: opts.Service}
	return pipeline.New(opts, pipeline.Dialect{
		Name:          "tencent",
		Authenticator: &tc3.Verifier{Service: "kms", MaxSkew: MaxSkew, Keys: hmacauth.NewKeyCache(0)},
		Errors:        errorTable,
		Operation:     func(c echo.Context) string { return c.Request().Header.Get("X-TC-Action") },
		Known:         func(op string) bool { _, ok := actions[op]; return ok },
		Route:         d.route,
		WriteAnswer:   writeAnswer,
		WriteError:    writeError,
	})
}

// dialect is what the actions see: the service.
type dialect struct {
	svc *kms.Service
}

// route checks X-TC-Version, finds X-TC-Action's action, and checks the
// Content-Type and X-TC-Region.
func (d *dialect) route(c echo.Context, name string) (string, pipeline.Operation, error) {
	r := c.Request()
	switch vs := r.Header.Values("X-TC-Version"); {
	case len(vs) == 0:
		return "", nil, missing("X-TC-Version")
	case len(vs) > 1 || vs[0] != Version:
		return "", nil, errorf(codeNoSuchVersion, "The KMS API version must be "+Version+".")
	}
	act, ok := actions[r.Header.Get("X-TC-Action")]
	if !ok || len(r.Header.Values("X-TC-Action")) != 1 {
		return "", nil, errorf(codeInvalidAction, "The action "+name+" does not exist in KMS "+Version+".")
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != contentType {
		return "", nil, invalidParameter("Content-Type must be " + contentType)
	}
	if err := checkRegion(r.Header); err != nil {
		return "", nil, err
	}
	return "", func(ctx context.Context, c *kms.Call, body []byte) (*result, error) { return act(d, ctx, c, body) }, nil
}

// checkRegion checks X-TC-Region: required, as Tencent's KMS requires it,
// and any well-formed region is accepted. It means nothing more: TC3 does not
// sign it, and Tencent's region names are not the service's, so it never
// chooses a key's ARN — keys live in the service's one region (kms), which
// policies name whatever this header says.
func checkRegion(h http.Header) error {
	vs := h.Values("X-TC-Region")
	if len(vs) == 0 {
		return missing("X-TC-Region")
	}
	if len(vs) > 1 || !isRegion(vs[0]) {
		return invalidValue("X-TC-Region must be one region name such as ap-guangzhou")
	}
	return nil
}

func isRegion(s string) bool {
	if s == "" || len(s) > maxRegion {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// writeAnswer puts the answer in Response, with the RequestId Tencent puts
// in every one.
func writeAnswer(w http.ResponseWriter, reqID string, out any) error {
	if a, ok := out.(answer); ok {
		a.setRequestID(reqID)
	}
	return secretjson.Write(w, http.StatusOK, contentType, struct{ Response any }{out})
}

func writeError(w http.ResponseWriter, reqID string, we pipeline.WireError, msg string) error {
	type errorBody struct{ Code, Message string }
	return secretjson.Write(w, http.StatusOK, contentType, struct {
		Response struct {
			Error     errorBody
			RequestId string
		}
	}{struct {
		Error     errorBody
		RequestId string
	}{errorBody{we.Code, msg}, reqID}})
}

// result is an action's answer (pipeline.Result).
type result = pipeline.Result

// answer is an action's output: every one embeds meta, so that the handler
// can add the RequestId Tencent puts in every Response.
type answer interface{ setRequestID(string) }

// meta is the part of every Response the handler fills in. Embedded last, it
// puts RequestId last, where Tencent puts it.
type meta struct{ RequestId string }

func (m *meta) setRequestID(id string) { m.RequestId = id }

func ok(out answer, secrets ...[]byte) (*result, error) { return pipeline.OK(out, secrets...) }

// action is one X-TC-Action's handler.
type action func(d *dialect, ctx context.Context, c *kms.Call, body []byte) (*result, error)

// op adapts a typed action: it decodes the body into Req first.
func op[Req any](fn func(d *dialect, ctx context.Context, c *kms.Call, req *Req) (*result, error)) action {
	requestTypes = append(requestTypes, reflect.TypeFor[Req]())
	return pipeline.Decoding(decode, fn)
}
