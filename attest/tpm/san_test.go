package tpm_test

import (
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TestTPMDirectoryName holds checkTPMDirectoryName to exactly the TCG's
// shape.
func TestTPMDirectoryName(t *testing.T) {
	// names builds GeneralNames of one directoryName of RDNs, each a list
	// of (oid, string tag, value).
	type atv struct {
		oid asn1.ObjectIdentifier
		tag cbasn1.Tag
		v   string
	}
	names := func(rdns ...[]atv) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					for _, rdn := range rdns {
						b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
							for _, a := range rdn {
								b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
									b.AddASN1ObjectIdentifier(a.oid)
									b.AddASN1(a.tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(a.v)) })
								})
							}
						})
					}
				})
			})
		})
		return b.BytesOrPanic()
	}
	m := atv{oidManufacturer, cbasn1.UTF8String, "id:474F4F47"}
	mo := atv{oidModel, cbasn1.UTF8String, "vTPM"}
	ve := atv{oidVersion, cbasn1.UTF8String, "id:20160511"}
	for _, tc := range []struct {
		name string
		der  []byte
		ok   bool
	}{
		{"google's shape", names([]atv{m}, []atv{mo}, []atv{ve}), true},
		{"tpmtest's", tpmtest.TPMSubjectAltName("a", "b", "c").Value, true},
		{"one multi-valued RDN", names([]atv{m, mo, ve}), true},
		{"another order", names([]atv{ve}, []atv{m, mo}), true},
		{"printable string", names([]atv{m}, []atv{{oidModel, cbasn1.PrintableString, "vTPM"}}, []atv{ve}), true},
		{"longest value", names([]atv{m}, []atv{{oidModel, cbasn1.UTF8String, strings.Repeat("m", 128)}}, []atv{ve}), true},

		{"empty", nil, false},
		{"empty GeneralNames", []byte{0x30, 0}, false},
		{"trailing byte", append(names([]atv{m}, []atv{mo}, []atv{ve}), 0), false},
		{"no model", names([]atv{m}, []atv{ve}), false},
		{"an empty RDN", names([]atv{m}, []atv{mo}, []atv{ve}, nil), false},
		{"a cn", names([]atv{m}, []atv{mo}, []atv{ve}, []atv{{oidCN, cbasn1.UTF8String, "x"}}), false},
		{"manufacturer twice", names([]atv{m}, []atv{mo}, []atv{ve}, []atv{m}), false},
		{"ia5 string", names([]atv{m}, []atv{{oidModel, cbasn1.IA5String, "vTPM"}}, []atv{ve}), false},
		{"empty value", names([]atv{m}, []atv{{oidModel, cbasn1.UTF8String, ""}}, []atv{ve}), false},
		{"value too long", names([]atv{m}, []atv{{oidModel, cbasn1.UTF8String, strings.Repeat("m", 129)}}, []atv{ve}), false},
		{"dns name", func() []byte {
			var b cryptobyte.Builder
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.Tag(2).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte("tpm.example")) })
			})
			return b.BytesOrPanic()
		}(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tpm.CheckTPMDirectoryName(tc.der)
			if (err == nil) != tc.ok {
				t.Fatalf("error %v; want ok %v", err, tc.ok)
			}
		})
	}
}
