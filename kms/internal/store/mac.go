package store

import (
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/attestkms/attestkms/kms/internal/sealer"
)

// Record authentication (package doc, "Records are authenticated").
//
// Threat: whoever can write the database but does not hold the root key (a
// DBA, a stolen database credential, a tampered dump restored, a writer of
// the bbolt file while the root key is in a token). The sealed values keep
// secrets from such a writer; everything else in a record is plaintext, and
// without this a writer could drop a key policy's attestation conditions,
// re-enable a disabled key, retarget an alias or rename a credential to
// the root credential's name. Each record therefore carries a MAC:
// HMAC-SHA-256 under the record MAC key (sealer.RecordMAC, derived from
// the root key) over the record's canonical encoding below, and kms reads
// records only through Authenticate's Store, which refuses one whose MAC
// does not verify (ErrIntegrity).
//
// The encoding: a domain label, the record's type, then every stored field
// in declaration order, each length-prefixed (8 bytes big-endian) or of
// fixed size; a time as UTC seconds and nanoseconds since the Unix epoch
// (the records are JSON in both stores, which keep a time to the
// nanosecond); an optional time as a presence byte and the time; a list
// as its count and its members. Version and MAC are not encoded. A field
// added to a record must be added here (TestMACCoversEveryField fails
// until it is), and a change of the encoding is a new label.
//
// What a MAC does not stop: a record put back to an older version of
// itself (its MAC was valid then), a record deleted, or the whole store
// rolled back to a copy (package doc).
const macLabel = "attestkms record mac v1"

// ErrIntegrity: a record's MAC is missing where one is required, or does
// not verify: the database was changed outside attestkms (or the record
// was copied from another store). kms refuses the record.
var ErrIntegrity = errors.New("store: record fails its integrity check")

// IntegrityError names the record that failed (no secret: its type and id
// or name).
type IntegrityError struct {
	Record string // e.g. `key "1234abcd-…"`, `the meta`
	Reason string // "its MAC does not verify", "it has no MAC"
}

func (e *IntegrityError) Error() string {
	return fmt.Sprintf("%v: %s: %s: the database was changed outside attestkms", ErrIntegrity, e.Record, e.Reason)
}

func (e *IntegrityError) Unwrap() error { return ErrIntegrity }

// authenticated is a record that carries a MAC.
type authenticated interface {
	appendMAC(e *macEncoder) // the canonical encoding, but the label
	mac() *[]byte
	describe() string
}

// macEncoder builds a canonical encoding.
type macEncoder struct{ b []byte }

func (e *macEncoder) str(s string) {
	s = asStored(s)
	e.b = binary.BigEndian.AppendUint64(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

// asStored is s as a record's JSON gives it back: encoding/json writes
// each byte that is not valid UTF-8 as U+FFFD, so a string that held one
// is read back changed, and its MAC must be of what is read, or the record
// would be refused as changed outside attestkms.
func asStored(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func (e *macEncoder) bytes(b []byte) {
	e.b = binary.BigEndian.AppendUint64(e.b, uint64(len(b)))
	e.b = append(e.b, b...)
}

func (e *macEncoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *macEncoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *macEncoder) i32(v int32)  { e.u32(uint32(v)) }
func (e *macEncoder) count(n int)  { e.b = binary.BigEndian.AppendUint64(e.b, uint64(n)) }

func (e *macEncoder) time(t time.Time) {
	t = t.UTC()
	e.b = binary.BigEndian.AppendUint64(e.b, uint64(t.Unix()))
	e.u32(uint32(t.Nanosecond()))
}

func (e *macEncoder) timePtr(t *time.Time) {
	e.bool(t != nil)
	if t != nil {
		e.time(*t)
	}
}

func (k *Key) appendMAC(e *macEncoder) {
	e.str("key")
	e.str(k.ID)
	e.time(k.CreatedAt)
	e.str(k.Description)
	e.str(k.Spec)
	e.str(k.Usage)
	e.str(k.State)
	e.timePtr(k.DeletionDate)
	e.i32(k.PendingWindowDays)
	e.str(k.Policy)
	e.count(len(k.Tags))
	for _, t := range k.Tags {
		e.str(t.TagKey)
		e.str(t.TagValue)
	}
	e.bool(k.RotationEnabled)
	e.i32(k.RotationPeriodDays)
	e.timePtr(k.NextRotation)
	e.count(len(k.Materials))
	for _, m := range k.Materials {
		e.u32(m.Version)
		e.str(m.ID)
		e.time(m.CreatedAt)
		e.str(m.RotationType)
		e.bytes(m.Sealed)
	}
	e.bytes(k.PublicKey)
}

func (k *Key) mac() *[]byte     { return &k.MAC }
func (k *Key) describe() string { return fmt.Sprintf("key %q", k.ID) }

func (a *Alias) appendMAC(e *macEncoder) {
	e.str("alias")
	e.str(a.Name)
	e.str(a.KeyID)
	e.time(a.CreatedAt)
	e.time(a.UpdatedAt)
}

func (a *Alias) mac() *[]byte     { return &a.MAC }
func (a *Alias) describe() string { return fmt.Sprintf("alias %q", a.Name) }

func (c *Credential) appendMAC(e *macEncoder) {
	e.str("credential")
	e.str(c.AccessKeyID)
	e.str(c.Name)
	e.time(c.CreatedAt)
	e.bool(c.Admin)
	e.str(c.IdentityPolicy)
	e.timePtr(c.ExpiresAt)
	e.bytes(c.Sealed)
}

func (c *Credential) mac() *[]byte     { return &c.MAC }
func (c *Credential) describe() string { return fmt.Sprintf("credential %q", c.AccessKeyID) }

func (m *Meta) appendMAC(e *macEncoder) {
	e.str("meta")
	e.str(m.AccountID)
	e.str(m.ProjectID)
	e.str(m.Region)
	e.bytes(m.RootCheck)
	e.bytes(m.ServiceKeys)
}

func (m *Meta) mac() *[]byte     { return &m.MAC }
func (m *Meta) describe() string { return "the meta" }

// macInput is rec's canonical encoding, label first.
func macInput(rec authenticated) []byte {
	e := &macEncoder{b: make([]byte, 0, 256)}
	e.str(macLabel)
	rec.appendMAC(e)
	return e.b
}

// computeMAC is rec's MAC under sl's record MAC key.
func computeMAC(sl *sealer.Sealer, rec authenticated) []byte {
	h := sl.RecordMAC()
	h.Write(macInput(rec))
	return h.Sum(nil)
}

// SetMAC sets the MAC of rec (a *Key, *Alias, *Credential or *Meta) under
// sl's root key. Every field must be set first.
func SetMAC(sl *sealer.Sealer, rec authenticated) {
	*rec.mac() = computeMAC(sl, rec)
}

// VerifyMAC checks rec's MAC under one of sls' root keys: an
// *IntegrityError if it does not verify, or if it is missing and required
// (a store whose root check is the authenticated one: a record written by
// attestkms always has one there). A missing MAC that is not required is
// nil: a store made before records were authenticated, not yet migrated.
func VerifyMAC(rec authenticated, required bool, sls ...*sealer.Sealer) error {
	got := *rec.mac()
	if len(got) == 0 {
		if required {
			return &IntegrityError{Record: rec.describe(), Reason: "it has no MAC, and every record of this store must have one"}
		}
		return nil
	}
	in := macInput(rec)
	for _, sl := range sls {
		h := sl.RecordMAC()
		h.Write(in)
		if hmac.Equal(h.Sum(nil), got) {
			return nil
		}
	}
	return &IntegrityError{Record: rec.describe(), Reason: "its MAC does not verify"}
}
