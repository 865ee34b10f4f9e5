package kms

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestAliases(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	a := mustKey(t, s, "", "")
	b := mustKey(t, s, "", "")
	e := mustKey(t, s, EccNistP256, KeyAgreement)
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/x", TargetKeyID: a.KeyID}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/x", TargetKeyID: b.KeyID})), ErrAlreadyExists)
	wantKind(t, errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "x", TargetKeyID: b.KeyID})), ErrInvalidAliasName)
	wantKind(t, errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/aws/x", TargetKeyID: b.KeyID})), ErrInvalidAliasName)
	wantKind(t, errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/sp ace", TargetKeyID: b.KeyID})), ErrInvalidAliasName)
	wantKind(t, errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/y", TargetKeyID: "alias/x"})), ErrValidation)
	if _, err := s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/x", TargetKeyID: b.KeyID}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: "alias/x"}); d.KeyID != b.KeyID {
		t.Fatal("UpdateAlias did not move the alias")
	}
	wantKind(t, errOf(s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/x", TargetKeyID: e.KeyID})), ErrValidation)
	wantKind(t, errOf(s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/none", TargetKeyID: a.KeyID})), ErrNotFound)
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/y", TargetKeyID: a.KeyID}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAliases(bg, c, &ListAliasesRequest{KeyID: a.KeyID})
	if err != nil || len(got.Aliases) != 1 || got.Aliases[0].AliasName != "alias/y" {
		t.Fatalf("ListAliases(a) = %+v, %v", got, err)
	}
	page1, err := s.ListAliases(bg, c, &ListAliasesRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	next := page1.NextMarker
	page2, err := s.ListAliases(bg, c, &ListAliasesRequest{Limit: 1, Marker: next})
	if err != nil {
		t.Fatal(err)
	}
	next2 := page2.NextMarker
	if len(page1.Aliases) != 1 || len(page2.Aliases) != 1 || next2 != "" || page1.Aliases[0].AliasName == page2.Aliases[0].AliasName {
		t.Fatalf("paging aliases: %v %q %v %q", page1.Aliases, next, page2.Aliases, next2)
	}
	_, err = s.ListAliases(bg, c, &ListAliasesRequest{Marker: "!!"})
	wantKind(t, err, ErrInvalidMarker)
	if _, err := s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/x"}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, errOf(s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/x"})), ErrNotFound)
}

func BenchmarkCreateAlias(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	for i := 0; i < b.N; i++ {
		if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/bench", TargetKeyID: id}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/bench"}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func BenchmarkUpdateAlias(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	ids := []string{id, mustKey(b, s, "", "").KeyID}
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/bench", TargetKeyID: ids[0]}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		if _, err := s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/bench", TargetKeyID: ids[i%2]}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDeleteAlias(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/bench", TargetKeyID: id}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/bench"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListAliases(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	for _, name := range []string{"alias/a", "alias/b", "alias/c"} {
		if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: name, TargetKeyID: id}); err != nil {
			b.Fatal(err)
		}
	}
	req := &ListAliasesRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.ListAliases(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHugeAliasNameBounded: a client's 300 KB alias name (control bytes,
// which JSON escapes six times over) is refused with a message that repeats
// at most a bounded part of it, and its audit record stays a bounded line:
// once, such a line broke audit verify and made the next Open refuse the
// log, so that one request could keep the server from starting again.
func TestHugeAliasNameBounded(t *testing.T) {
	s, _ := newTestService(t)
	c := s.adminCall(t)
	_, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: strings.Repeat("\x01", 300000), TargetKeyID: mustKey(t, s, "", "").KeyID})
	wantKind(t, err, ErrInvalidAliasName)
	if n := len(err.Error()); n > 2048 {
		t.Fatalf("a %d-byte error message", n)
	}
	b, err := os.ReadFile(s.opts.auditPath())
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) > 4096 {
			t.Fatalf("audit line %d: %d bytes", i+1, len(line))
		}
	}
	s.Close()
	s2, err := Open(s.opts)
	if err != nil {
		t.Fatalf("Open after the request: %v", err)
	}
	s2.Close()
}
