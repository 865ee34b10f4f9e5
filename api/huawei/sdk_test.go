package huawei_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	gmecdh "github.com/emmansun/gmsm/ecdh"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	hwkms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/attestkms/attestkms/internal/testserver"
)

// newClient is the official KMS client, unchanged, pointed at srv: the
// project id is set (else the SDK asks Huawei's IAM for it), the endpoint is
// given directly (no region), and TLS verification is off for test servers.
func newClient(t testing.TB, srv *testserver.Server) *hwkms.KmsClient {
	t.Helper()
	return newClientFor(t, srv.URL, srv.AccessKey, srv.Secret, srv.Account.ProjectID)
}

func newClientFor(t testing.TB, url, ak, sk, project string) *hwkms.KmsClient {
	t.Helper()
	auth, err := basic.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithProjectId(project).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := hwkms.KmsClientBuilder().WithEndpoints([]string{url}).WithCredential(auth).
		WithHttpConfig(config.DefaultHttpConfig().WithIgnoreSSLVerification(true).WithTimeout(30 * time.Second)).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	return hwkms.NewKmsClient(hc)
}

// wantCode checks that err is the SDK's typed service error with Huawei's
// code and status, a request id and a message saying something.
func wantCode(t testing.TB, err error, code string, status int) *sdkerr.ServiceResponseError {
	t.Helper()
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T); want a ServiceResponseError %s", err, err, code)
	}
	if se.ErrorCode != code || se.StatusCode != status {
		t.Fatalf("err = %d %s %q; want %d %s", se.StatusCode, se.ErrorCode, se.ErrorMessage, status, code)
	}
	if se.RequestId == "" || se.ErrorMessage == "" || strings.Contains(se.ErrorMessage, "internal error") {
		t.Fatalf("%s: request id %q, message %q", code, se.RequestId, se.ErrorMessage)
	}
	return se
}

func str(s string) *string { return &s }

func keyUsage(t testing.TB, u string) *model.CreateKeyRequestBodyKeyUsage {
	var v model.CreateKeyRequestBodyKeyUsage
	if err := v.UnmarshalJSON([]byte(strconv.Quote(u))); err != nil { // the SDK's enum carries any string
		t.Fatal(err)
	}
	return &v
}

func keySpec(t testing.TB, s string) *model.CreateKeyRequestBodyKeySpec {
	var v model.CreateKeyRequestBodyKeySpec
	if err := v.UnmarshalJSON([]byte(strconv.Quote(s))); err != nil {
		t.Fatal(err)
	}
	return &v
}

func createKey(t testing.TB, c *hwkms.KmsClient, alias, spec, usage string) string {
	t.Helper()
	body := &model.CreateKeyRequestBody{KeyAlias: alias}
	if spec != "" {
		body.KeySpec = keySpec(t, spec)
	}
	if usage != "" {
		body.KeyUsage = keyUsage(t, usage)
	}
	r, err := c.CreateKey(&model.CreateKeyRequest{Body: body})
	if err != nil {
		t.Fatalf("create-key %s %s %s: %v", alias, spec, usage, err)
	}
	return *r.KeyInfo.KeyId
}

// seq is a fresh sequence (Huawei's 36-byte request serial number). The
// SDK's signature covers the second, not a nonce, so two identical requests
// within one second have one signature and the second is refused as a
// replay: tests that repeat a request give it a sequence, as clients must.
func seq() *string {
	var b [16]byte
	rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	s := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	return &s
}

func describe(t testing.TB, c *hwkms.KmsClient, id string) *model.KeyDetails {
	t.Helper()
	r, err := c.ListKeyDetail(&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: id, Sequence: seq()}})
	if err != nil {
		t.Fatal(err)
	}
	return r.KeyInfo
}

// secrets collects every secret a test sees, to grep the audit log for.
type secrets [][]byte

func (s *secrets) add(b ...[]byte) {
	for _, x := range b {
		if len(x) > 0 {
			*s = append(*s, bytes.Clone(x))
		}
	}
}

func unhex(t testing.TB, s *string) []byte {
	t.Helper()
	if s == nil {
		t.Fatal("no value")
	}
	b, err := hex.DecodeString(*s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const missingKey = "00000000-0000-4000-8000-000000000000"

func TestSDKKeyManagement(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv)
	before := time.Now()

	r, err := c.CreateKey(&model.CreateKeyRequest{Body: &model.CreateKeyRequestBody{KeyAlias: "orders", KeyDescription: str("order data")}})
	if err != nil {
		t.Fatal(err)
	}
	id := *r.KeyInfo.KeyId
	if len(id) != 36 || *r.KeyInfo.DomainId != srv.Account.AccountID {
		t.Fatalf("create-key: %+v", r.KeyInfo)
	}
	d := describe(t, c, id)
	created, _ := strconv.ParseInt(*d.CreationDate, 10, 64)
	if *d.KeyId != id || *d.KeyAlias != "orders" || d.KeySpec.Value() != "AES_256" || d.KeyUsage.Value() != "ENCRYPT_DECRYPT" ||
		*d.KeyState != "2" || *d.KeyDescription != "order data" || d.Origin.Value() != "kms" || *d.KeyRotationEnabled != "false" ||
		created < before.Add(-time.Second).UnixMilli() || created > time.Now().UnixMilli() || *d.ScheduledDeletionDate != "" {
		t.Fatalf("describe-key: %s", d)
	}

	// create-key failures, each with its code; none makes a key.
	_, err = c.CreateKey(&model.CreateKeyRequest{Body: &model.CreateKeyRequestBody{KeyAlias: "orders", Sequence: seq()}})
	wantCode(t, err, "KMS.1104", 400)
	_, err = c.CreateKey(&model.CreateKeyRequest{Body: &model.CreateKeyRequestBody{KeyAlias: ""}})
	wantCode(t, err, "KMS.0204", 400)
	_, err = c.CreateKey(&model.CreateKeyRequest{Body: &model.CreateKeyRequestBody{KeyAlias: "a:b"}})
	wantCode(t, err, "KMS.1101", 400)
	_, err = c.CreateKey(&model.CreateKeyRequest{Body: &model.CreateKeyRequestBody{KeyAlias: "evs/default"}})
	wantCode(t, err, "KMS.1101", 400)
	_, err = c.CreateKey(&model.CreateKeyRequest{Body: &model.CreateKeyRequestBody{KeyAlias: "d", KeyDescription: str(strings.Repeat("x", 256))}})
	wantCode(t, err, "KMS.1103", 400)
	for _, tc := range []struct{ spec, usage, msg string }{
		{"SM4", "", "SM4"}, {"RSA_2048", "", "RSA_2048"}, {"EC_P256", "", "KEY_AGREEMENT"}, {"EC_P256", "SIGN_VERIFY", "SIGN_VERIFY"},
		{"AES_256", "KEY_AGREEMENT", "not valid"}, {"EC_P384", "ENCRYPT_DECRYPT", "not valid"},
	} {
		body := &model.CreateKeyRequestBody{KeyAlias: "bad", KeySpec: keySpec(t, tc.spec)}
		if tc.usage != "" {
			body.KeyUsage = keyUsage(t, tc.usage)
		}
		_, err := c.CreateKey(&model.CreateKeyRequest{Body: body})
		if se := wantCode(t, err, "KMS.0308", 400); !strings.Contains(se.ErrorMessage, tc.msg) {
			t.Errorf("%s %s: %q", tc.spec, tc.usage, se.ErrorMessage)
		}
	}
	ext := model.GetCreateKeyRequestBodyOriginEnum().EXTERNAL
	_, err = c.CreateKey(&model.CreateKeyRequest{Body: &model.CreateKeyRequestBody{KeyAlias: "ext", Origin: &ext}})
	wantCode(t, err, "KMS.0308", 400)

	// describe-key failures.
	_, err = c.ListKeyDetail(&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: missingKey}})
	wantCode(t, err, "KMS.0207", 404)
	_, err = c.ListKeyDetail(&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: "alias/orders"}})
	wantCode(t, err, "KMS.0205", 400)
	_, err = c.ListKeyDetail(&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: ""}})
	wantCode(t, err, "KMS.0204", 400)

	// list-keys: AES_256 keys by default, every key with ALL, in pages.
	ec := createKey(t, c, "agreement", "EC_P256", "KEY_AGREEMENT")
	for i := 0; i < 4; i++ {
		createKey(t, c, "k"+strconv.Itoa(i), "", "")
	}
	seen, pages := map[string]bool{}, 0
	for marker := ""; ; pages++ {
		body := &model.ListKeysRequestBody{Limit: str("2")}
		if marker != "" {
			body.Marker = &marker
		}
		lr, err := c.ListKeys(&model.ListKeysRequest{Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if len(*lr.Keys) != len(*lr.KeyDetails) {
			t.Fatalf("list-keys: %d keys, %d details", len(*lr.Keys), len(*lr.KeyDetails))
		}
		for i, k := range *lr.Keys {
			if seen[k] || *(*lr.KeyDetails)[i].KeyId != k || (*lr.KeyDetails)[i].KeySpec.Value() != "AES_256" {
				t.Fatalf("list-keys: %s", lr)
			}
			seen[k] = true
		}
		if lr.Truncated.Value() != "true" {
			break
		}
		marker = *lr.NextMarker
	}
	if len(seen) != 5 || seen[ec] || pages < 2 {
		t.Fatalf("listed %d AES keys over %d pages", len(seen), pages+1)
	}
	all, err := c.ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{KeySpec: ptrListSpec(t, "ALL")}})
	if err != nil || len(*all.Keys) != 6 || all.Truncated.Value() != "false" {
		t.Fatalf("list-keys ALL: %v %v", all, err)
	}
	_, err = c.ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{Limit: str("0")}})
	wantCode(t, err, "KMS.0308", 400)
	_, err = c.ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{Limit: str("ten")}})
	wantCode(t, err, "KMS.0308", 400)
	_, err = c.ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{Marker: str("%%%")}})
	wantCode(t, err, "KMS.0308", 400)

	// State.
	dr, err := c.DisableKey(&model.DisableKeyRequest{Body: &model.OperateKeyRequestBody{KeyId: id}})
	if err != nil || *dr.KeyInfo.KeyId != id || *dr.KeyInfo.KeyState != "3" {
		t.Fatalf("disable-key: %v %v", dr, err)
	}
	_, err = c.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: id, PlainText: "x"}})
	wantCode(t, err, "KMS.0209", 400)
	disabled, _ := c.ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{KeyState: str("3")}})
	if len(*disabled.Keys) != 1 || (*disabled.Keys)[0] != id {
		t.Fatalf("list-keys key_state 3: %v", disabled)
	}
	er, err := c.EnableKey(&model.EnableKeyRequest{Body: &model.OperateKeyRequestBody{KeyId: id}})
	if err != nil || *er.KeyInfo.KeyState != "2" {
		t.Fatalf("enable-key: %v %v", er, err)
	}
	_, err = c.EnableKey(&model.EnableKeyRequest{Body: &model.OperateKeyRequestBody{KeyId: missingKey}})
	wantCode(t, err, "KMS.0207", 404)

	// schedule-key-deletion: Huawei's 7 to 1096 days where kms allows them,
	// 7 to 30; other values name that range.
	for _, days := range []string{"5", "31", "1096", "abc", "-7", "07"} {
		_, err := c.DeleteKey(&model.DeleteKeyRequest{Body: &model.ScheduleKeyDeletionRequestBody{KeyId: id, PendingDays: days}})
		if se := wantCode(t, err, "KMS.0308", 400); !strings.Contains(se.ErrorMessage, "between 7 and 30") {
			t.Errorf("pending_days %s: %q", days, se.ErrorMessage)
		}
	}
	_, err = c.DeleteKey(&model.DeleteKeyRequest{Body: &model.ScheduleKeyDeletionRequestBody{KeyId: id}})
	wantCode(t, err, "KMS.0204", 400)
	if *describe(t, c, id).KeyState != "2" {
		t.Fatal("refused deletions changed the key")
	}
	sd, err := c.DeleteKey(&model.DeleteKeyRequest{Body: &model.ScheduleKeyDeletionRequestBody{KeyId: id, PendingDays: "7"}})
	if err != nil || *sd.KeyId != id || *sd.KeyState != "4" {
		t.Fatalf("schedule-key-deletion: %v %v", sd, err)
	}
	d = describe(t, c, id)
	deletion, _ := strconv.ParseInt(*d.ScheduledDeletionDate, 10, 64)
	if *d.KeyState != "4" || time.UnixMilli(deletion).Sub(before) < 7*24*time.Hour-time.Minute {
		t.Fatalf("pending deletion: %s", d)
	}
	_, err = c.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: id, PlainText: "x", Sequence: seq()}})
	wantCode(t, err, "KMS.0210", 400)
	_, err = c.DeleteKey(&model.DeleteKeyRequest{Body: &model.ScheduleKeyDeletionRequestBody{KeyId: id, PendingDays: "7", Sequence: seq()}})
	wantCode(t, err, "KMS.0210", 400)
	cr, err := c.CancelKeyDeletion(&model.CancelKeyDeletionRequest{Body: &model.OperateKeyRequestBody{KeyId: id}})
	if err != nil || *cr.KeyId != id || *cr.KeyState != "3" {
		t.Fatalf("cancel-key-deletion: %v %v", cr, err)
	}
	if d = describe(t, c, id); *d.KeyState != "3" || *d.ScheduledDeletionDate != "" {
		t.Fatalf("after cancel-key-deletion: %s", d)
	}
	_, err = c.CancelKeyDeletion(&model.CancelKeyDeletionRequest{Body: &model.OperateKeyRequestBody{KeyId: id, Sequence: seq()}})
	wantCode(t, err, "KMS.0210", 400)

	// Without a sequence, the same request in the same second is a replay.
	// The SDK signs no nonce: two identical calls in one second have one
	// signature. The second is a repeat within the grace, not a replay.
	same := &model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: id}}
	for i := 0; i < 3; i++ {
		if _, err := c.ListKeyDetail(same); err != nil {
			t.Fatalf("identical call %d refused: %v", i, err)
		}
	}
}

func ptrListSpec(t testing.TB, s string) *model.ListKeysRequestBodyKeySpec {
	var v model.ListKeysRequestBodyKeySpec
	if err := v.UnmarshalJSON([]byte(strconv.Quote(s))); err != nil {
		t.Fatal(err)
	}
	return &v
}

func TestSDKDataKeys(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv)
	var seen secrets
	id := createKey(t, c, "data", "", "")
	other := createKey(t, c, "other", "", "")

	// create-datakey: 256 bits by default; datakey_length in bits wins over
	// key_spec; decrypt-datakey returns the key and its SHA-256.
	for _, tc := range []struct {
		spec, length string
		n            int
	}{{"", "", 32}, {"AES_128", "", 16}, {"AES_256", "", 32}, {"", "512", 64}, {"AES_128", "8", 1}, {"", "8192", 1024}} {
		body := &model.CreateDatakeyRequestBody{KeyId: id}
		if tc.spec != "" {
			v := model.CreateDatakeyRequestBodyKeySpec{}
			v.UnmarshalJSON([]byte(strconv.Quote(tc.spec)))
			body.KeySpec = &v
		}
		if tc.length != "" {
			body.DatakeyLength = &tc.length
		}
		r, err := c.CreateDatakey(&model.CreateDatakeyRequest{Body: body})
		if err != nil {
			t.Fatal(tc, err)
		}
		dk := unhex(t, r.PlainText)
		seen.add(dk)
		if len(dk) != tc.n || *r.KeyId != id || len(unhex(t, r.CipherText)) == 0 {
			t.Fatalf("%+v: %d-byte key", tc, len(dk))
		}
		dr, err := c.DecryptDatakey(&model.DecryptDatakeyRequest{Body: &model.DecryptDatakeyRequestBody{
			KeyId: id, CipherText: *r.CipherText, DatakeyCipherLength: strconv.Itoa(tc.n)}})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(dk)
		if !bytes.Equal(unhex(t, dr.DataKey), dk) || !bytes.Equal(unhex(t, dr.DatakeyDgst), sum[:]) || *dr.DatakeyLength != strconv.Itoa(tc.n) {
			t.Fatalf("decrypt-datakey: %s", dr)
		}
	}
	for _, bad := range []string{"0", "12", "8200", "abc", " 256"} {
		_, err := c.CreateDatakey(&model.CreateDatakeyRequest{Body: &model.CreateDatakeyRequestBody{KeyId: id, DatakeyLength: &bad}})
		if se := wantCode(t, err, "KMS.0308", 400); !strings.Contains(se.ErrorMessage, "datakey_length") {
			t.Errorf("datakey_length %q: %q", bad, se.ErrorMessage)
		}
	}
	hmac := model.GetCreateDatakeyRequestBodyKeySpecEnum().HMAC_SM3
	_, err := c.CreateDatakey(&model.CreateDatakeyRequest{Body: &model.CreateDatakeyRequestBody{KeyId: id, KeySpec: &hmac}})
	wantCode(t, err, "KMS.0308", 400)
	_, err = c.CreateDatakey(&model.CreateDatakeyRequest{Body: &model.CreateDatakeyRequestBody{KeyId: missingKey}})
	wantCode(t, err, "KMS.0207", 404)

	// additional_authenticated_data binds the ciphertext.
	aad := "tenant=acme"
	r, err := c.CreateDatakey(&model.CreateDatakeyRequest{Body: &model.CreateDatakeyRequestBody{KeyId: id, AdditionalAuthenticatedData: &aad}})
	if err != nil {
		t.Fatal(err)
	}
	seen.add(unhex(t, r.PlainText))
	dreq := func(key, ct, n string, a *string) (*model.DecryptDatakeyResponse, error) {
		return c.DecryptDatakey(&model.DecryptDatakeyRequest{Body: &model.DecryptDatakeyRequestBody{KeyId: key, CipherText: ct, DatakeyCipherLength: n, AdditionalAuthenticatedData: a}})
	}
	_, err = dreq(id, *r.CipherText, "32", nil)
	wantCode(t, err, "KMS.2201", 400)
	if dr, err := dreq(id, *r.CipherText, "32", &aad); err != nil || *dr.DataKey != *r.PlainText {
		t.Fatalf("decrypt-datakey with aad: %v", err)
	}
	_, err = dreq(id, *r.CipherText, "16", &aad)
	wantCode(t, err, "KMS.0308", 400)
	_, err = dreq(other, *r.CipherText, "32", &aad)
	wantCode(t, err, "KMS.0205", 400)
	flipped := []byte(*r.CipherText)
	if mid := len(flipped) / 2; flipped[mid] == '0' { // another hex digit, so the hex stays valid
		flipped[mid] = '1'
	} else {
		flipped[mid] = '0'
	}
	_, err = dreq(id, string(flipped), "32", &aad)
	wantCode(t, err, "KMS.2201", 400)
	_, err = dreq(id, "zz", "32", nil)
	wantCode(t, err, "KMS.0308", 400)
	_, err = dreq(id, *r.CipherText, "", &aad)
	wantCode(t, err, "KMS.0204", 400)
	_, err = dreq(id, "", "32", nil)
	wantCode(t, err, "KMS.0204", 400)

	// create-datakey-without-plaintext.
	wp, err := c.CreateDatakeyWithoutPlaintext(&model.CreateDatakeyWithoutPlaintextRequest{Body: &model.CreateDatakeyRequestBody{KeyId: id}})
	if err != nil || *wp.KeyId != id {
		t.Fatal(err)
	}
	if dr, err := dreq(id, *wp.CipherText, "32", nil); err != nil || len(unhex(t, dr.DataKey)) != 32 {
		t.Fatalf("decrypt-datakey of create-datakey-without-plaintext: %v", err)
	} else {
		seen.add(unhex(t, dr.DataKey))
	}

	// encrypt-datakey: the key followed by its SHA-256, both checked.
	dk := make([]byte, 48)
	rand.Read(dk)
	seen.add(dk)
	sum := sha256.Sum256(dk)
	pt := hex.EncodeToString(append(bytes.Clone(dk), sum[:]...))
	ed, err := c.EncryptDatakey(&model.EncryptDatakeyRequest{Body: &model.EncryptDatakeyRequestBody{KeyId: id, PlainText: pt, DatakeyPlainLength: "48"}})
	if err != nil || *ed.KeyId != id || *ed.DatakeyLength != "48" {
		t.Fatalf("encrypt-datakey: %v %v", ed, err)
	}
	if dr, err := dreq(id, *ed.CipherText, "48", nil); err != nil || !bytes.Equal(unhex(t, dr.DataKey), dk) || !bytes.Equal(unhex(t, dr.DatakeyDgst), sum[:]) {
		t.Fatalf("decrypt-datakey of encrypt-datakey: %v", err)
	}
	badSum := []byte(pt)
	if badSum[len(badSum)-1] == '0' { // another hex digit
		badSum[len(badSum)-1] = '1'
	} else {
		badSum[len(badSum)-1] = '0'
	}
	for _, tc := range []struct{ pt, n, code string }{
		{string(badSum), "48", "KMS.2103"},
		{pt, "47", "KMS.0308"}, {pt, "49", "KMS.0308"}, {pt, "0", "KMS.0308"}, {pt, "1025", "KMS.0308"}, {pt, "", "KMS.0204"},
		{pt[:len(pt)-1], "48", "KMS.0308"}, {"xyz", "48", "KMS.0308"}, {"", "48", "KMS.0204"},
		{hex.EncodeToString(sum[:]), "1", "KMS.0308"},
	} {
		_, err := c.EncryptDatakey(&model.EncryptDatakeyRequest{Body: &model.EncryptDatakeyRequestBody{KeyId: id, PlainText: tc.pt, DatakeyPlainLength: tc.n}})
		wantCode(t, err, tc.code, 400)
	}

	// gen-random: the length is in bits.
	for _, n := range []int{8, 512, 8192} {
		g, err := c.CreateRandom(&model.CreateRandomRequest{Body: &model.GenRandomRequestBody{RandomDataLength: strconv.Itoa(n)}})
		if err != nil {
			t.Fatal(err)
		}
		b := unhex(t, g.RandomData)
		seen.add(b)
		if len(b)*8 != n {
			t.Fatalf("gen-random %d bits: %d bytes", n, len(b))
		}
	}
	for _, bad := range []string{"0", "7", "12", "8200", "x"} {
		_, err := c.CreateRandom(&model.CreateRandomRequest{Body: &model.GenRandomRequestBody{RandomDataLength: bad}})
		wantCode(t, err, "KMS.0308", 400)
	}
	_, err = c.CreateRandom(&model.CreateRandomRequest{Body: &model.GenRandomRequestBody{}})
	wantCode(t, err, "KMS.0204", 400)

	checkAuditLog(t, srv, seen)
}

func TestSDKEncryptData(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv)
	id := createKey(t, c, "data", "", "")
	text := "the plaintext 世界 \"quoted\" <tag> \u2028"
	aad := "v1"
	e, err := c.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: id, PlainText: text, AdditionalAuthenticatedData: &aad}})
	if err != nil || *e.KeyId != id {
		t.Fatal(err)
	}
	if _, err := base64.StdEncoding.DecodeString(*e.CipherText); err != nil {
		t.Fatalf("cipher_text is not base64: %q", *e.CipherText)
	}
	d, err := c.DecryptData(&model.DecryptDataRequest{Body: &model.DecryptDataRequestBody{CipherText: *e.CipherText, AdditionalAuthenticatedData: &aad}})
	if err != nil || *d.PlainText != text || *d.PlainTextBase64 != base64.StdEncoding.EncodeToString([]byte(text)) || *d.KeyId != id {
		t.Fatalf("decrypt-data: %v %v", d, err)
	}
	d, err = c.DecryptData(&model.DecryptDataRequest{Body: &model.DecryptDataRequestBody{CipherText: *e.CipherText, KeyId: &id, AdditionalAuthenticatedData: &aad}})
	if err != nil || *d.PlainText != text {
		t.Fatal(err)
	}
	_, err = c.DecryptData(&model.DecryptDataRequest{Body: &model.DecryptDataRequestBody{CipherText: *e.CipherText}})
	wantCode(t, err, "KMS.2201", 400)
	_, err = c.DecryptData(&model.DecryptDataRequest{Body: &model.DecryptDataRequestBody{CipherText: "%%%"}})
	wantCode(t, err, "KMS.0308", 400)
	_, err = c.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: id, PlainText: strings.Repeat("x", 4097)}})
	wantCode(t, err, "KMS.0308", 400)
	_, err = c.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: id, PlainText: ""}})
	wantCode(t, err, "KMS.0204", 400)
	_, err = c.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: id, PlainText: "x", AdditionalAuthenticatedData: str(strings.Repeat("a", 129))}})
	wantCode(t, err, "KMS.0308", 400)
	rsa := model.GetEncryptDataRequestBodyEncryptionAlgorithmEnum().RSAES_OAEP_SHA_256
	_, err = c.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: id, PlainText: "x", EncryptionAlgorithm: &rsa}})
	wantCode(t, err, "KMS.0308", 400)

}

// agreementCurve is a curve the test does ECDH on itself.
type agreementCurve struct {
	spec string
	// peer makes a peer key pair and returns its SPKI and the secret it
	// computes with the KMS key's SPKI.
	peer func(t *testing.T, kmsSPKI []byte) (spki, secret []byte)
}

func stdCurve(c ecdh.Curve) func(*testing.T, []byte) ([]byte, []byte) {
	return func(t *testing.T, kmsSPKI []byte) ([]byte, []byte) {
		peer, _ := c.GenerateKey(rand.Reader)
		spki, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
		pub, err := x509.ParsePKIXPublicKey(kmsSPKI)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := pub.(interface {
			ECDH() (*ecdh.PublicKey, error)
		}).ECDH()
		if err != nil {
			t.Fatal(err)
		}
		secret, err := peer.ECDH(kp)
		if err != nil {
			t.Fatal(err)
		}
		return spki, secret
	}
}

// Fixed SubjectPublicKeyInfo prefixes (id-ecPublicKey, the curve's OID, an
// uncompressed point follows): crypto/x509 parses neither curve.
var (
	secp256k1Prefix, _ = hex.DecodeString("3056301006072a8648ce3d020106052b8104000a034200")
	sm2Prefix, _       = hex.DecodeString("3059301306072a8648ce3d020106082a811ccf5501822d034200")
)

func rawPoint(t *testing.T, prefix, spki []byte) []byte {
	t.Helper()
	if len(spki) != len(prefix)+65 || !bytes.Equal(spki[:len(prefix)], prefix) {
		t.Fatalf("SPKI %x does not have prefix %x", spki, prefix)
	}
	return spki[len(prefix):]
}

var agreementCurves = []agreementCurve{
	{"EC_P256", stdCurve(ecdh.P256())},
	{"EC_P384", stdCurve(ecdh.P384())},
	{"SECP256K1", func(t *testing.T, kmsSPKI []byte) ([]byte, []byte) {
		kmsPub, err := secp256k1.ParsePubKey(rawPoint(t, secp256k1Prefix, kmsSPKI))
		if err != nil {
			t.Fatal(err)
		}
		peer, _ := secp256k1.GeneratePrivateKey()
		return append(bytes.Clone(secp256k1Prefix), peer.PubKey().SerializeUncompressed()...), secp256k1.GenerateSharedSecret(peer, kmsPub)
	}},
	{"SM2", func(t *testing.T, kmsSPKI []byte) ([]byte, []byte) {
		kmsPub, err := gmecdh.P256().NewPublicKey(rawPoint(t, sm2Prefix, kmsSPKI))
		if err != nil {
			t.Fatal(err)
		}
		peer, _ := gmecdh.P256().GenerateKey(rand.Reader)
		secret, err := peer.ECDH(kmsPub)
		if err != nil {
			t.Fatal(err)
		}
		return append(bytes.Clone(sm2Prefix), peer.PublicKey().Bytes()...), secret
	}},
}

// createAgreementKey makes a KEY_AGREEMENT key, or skips the test for SM2
// while kms does not accept kms.KeySpec("SM2").
func createAgreementKey(t *testing.T, c *hwkms.KmsClient, alias, spec string) string {
	t.Helper()
	body := &model.CreateKeyRequestBody{KeyAlias: alias, KeySpec: keySpec(t, spec), KeyUsage: keyUsage(t, "KEY_AGREEMENT")}
	r, err := c.CreateKey(&model.CreateKeyRequest{Body: body})
	var se *sdkerr.ServiceResponseError
	if spec == "SM2" && errors.As(err, &se) && se.ErrorCode == "KMS.0308" && strings.Contains(se.ErrorMessage, "not supported") {
		t.Skipf("SM2: kms does not accept kms.KeySpec(\"SM2\") yet (%s); this test runs once it does", se.ErrorMessage)
	}
	if err != nil {
		t.Fatalf("create-key %s: %v", spec, err)
	}
	return *r.KeyInfo.KeyId
}

func publicKey(t *testing.T, c *hwkms.KmsClient, id string) []byte {
	t.Helper()
	gp, err := c.ShowPublicKey(&model.ShowPublicKeyRequest{Body: &model.OperateKeyRequestBody{KeyId: id}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(*gp.PublicKey))
	if b == nil || b.Type != "PUBLIC KEY" || *gp.KeyId != id {
		t.Fatalf("get-publickey: %s", gp)
	}
	return b.Bytes
}

func deriveReq(id, pub string) *model.DeriveSharedSecretRequest {
	return &model.DeriveSharedSecretRequest{Body: &model.DeriveSharedSecretRequestBody{
		KeyId: id, KeyAgreementAlgorithm: model.GetDeriveSharedSecretRequestBodyKeyAgreementAlgorithmEnum().ECDH, PublicKey: pub}}
}

// TestSDKDeriveSharedSecret: derive-shared-secret equals the test's own ECDH
// with the public key get-publickey returns, for every curve.
func TestSDKDeriveSharedSecret(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv)
	sym := createKey(t, c, "sym", "", "")
	var seen secrets
	for _, cv := range agreementCurves {
		t.Run(cv.spec, func(t *testing.T) {
			id := createAgreementKey(t, c, "agree-"+strings.ToLower(cv.spec), cv.spec)
			if d := describe(t, c, id); d.KeySpec.Value() != cv.spec || d.KeyUsage.Value() != "KEY_AGREEMENT" {
				t.Fatalf("describe-key: %s", d)
			}
			spki, want := cv.peer(t, publicKey(t, c, id))
			seen.add(want)
			r, err := c.DeriveSharedSecret(deriveReq(id, base64.StdEncoding.EncodeToString(spki)))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := base64.StdEncoding.DecodeString(*r.SharedSecret)
			if !bytes.Equal(got, want) || *r.KeyId != id || *r.KeyAgreementAlgorithm != "ECDH" || r.CiphertextRecipient != nil {
				t.Fatalf("shared secret %x; the peer's ECDH says %x", got, want)
			}
			// Another curve, garbage, a truncated key: refused, no secret.
			x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
			xspki, _ := x509.MarshalPKIXPublicKey(x25519.PublicKey())
			for _, bad := range [][]byte{xspki, []byte("garbage"), spki[:len(spki)-1]} {
				r, err := c.DeriveSharedSecret(deriveReq(id, base64.StdEncoding.EncodeToString(bad)))
				if r != nil {
					t.Fatal("an answer for a bad public key")
				}
				wantCode(t, err, "KMS.0308", 400)
			}
			_, err = c.DeriveSharedSecret(deriveReq(id, "%%%"))
			wantCode(t, err, "KMS.0308", 400)
			_, err = c.DeriveSharedSecret(deriveReq(id, ""))
			wantCode(t, err, "KMS.0204", 400)
			_, err = c.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: id, PlainText: "x"}})
			wantCode(t, err, "KMS.0308", 400)
		})
	}
	_, err := c.DeriveSharedSecret(deriveReq(sym, "MFkw"))
	wantCode(t, err, "KMS.0308", 400)
	_, err = c.ShowPublicKey(&model.ShowPublicKeyRequest{Body: &model.OperateKeyRequestBody{KeyId: sym}})
	wantCode(t, err, "KMS.0308", 400)
	_, err = c.DeriveSharedSecret(deriveReq(missingKey, "MFkw"))
	wantCode(t, err, "KMS.0207", 404)
	checkAuditLog(t, srv, seen)
}

// checkAuditLog: a line per request, and none of the secrets in any encoding.
func checkAuditLog(t *testing.T, srv *testserver.Server, seen secrets) {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(log, []byte(`"dialect":"huawei"`)); n < 10 {
		t.Fatalf("audit log has %d Huawei lines", n)
	}
	for i, s := range seen {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(s), hex.EncodeToString(s), string(s)} {
			if len(enc) >= 8 && bytes.Contains(log, []byte(enc)) {
				t.Fatalf("secret %d (%d bytes) is in the audit log", i, len(s))
			}
		}
	}
	if !bytes.Contains(log, []byte(`"access_key_id":"`+srv.AccessKey+`"`)) {
		t.Fatal("audit log lacks the access key")
	}
}
