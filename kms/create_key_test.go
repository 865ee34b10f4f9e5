package kms

import (
	"testing"
)

func TestCreateKeyValidation(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	for name, req := range map[string]*CreateKeyRequest{
		"unknown spec":        {KeySpec: "RSA_1024"},
		"ecc without usage":   {KeySpec: EccNistP256},
		"ecc encrypt":         {KeySpec: EccNistP256, KeyUsage: EncryptDecrypt},
		"symmetric agreement": {KeySpec: SymmetricDefault, KeyUsage: KeyAgreement},
		"long description":    {Description: string(make([]byte, maxDescription+1))},
		"bad policy":          {Policy: "{"},
		"policy no statement": {Policy: `{"Version":"2012-10-17"}`},
		"aws tag":             {Tags: []Tag{{"aws:x", "y"}}},
		"duplicate tag":       {Tags: []Tag{{"a", "1"}, {"a", "2"}}},
		"external origin":     {Origin: "EXTERNAL"},
		"multi-region":        {MultiRegion: true},
	} {
		if _, err := s.CreateKey(bg, c, req); err == nil {
			t.Errorf("%s: CreateKey succeeded", name)
		}
	}
	if keys, err := s.ListKeys(bg, c, &ListKeysRequest{}); err != nil || len(keys.Keys) != 0 {
		t.Fatalf("refused CreateKeys left %+v, %v", keys, err)
	}
}

func TestCreateKeyWithAlias(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md, err := s.CreateKey(bg, c, &CreateKeyRequest{Alias: "alias/app"})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: "alias/app"}); err != nil || d.KeyID != md.KeyID {
		t.Fatalf("alias does not name the new key: %v", err)
	}
	_, err = s.CreateKey(bg, c, &CreateKeyRequest{Alias: "alias/app"})
	wantKind(t, err, ErrAlreadyExists)
	_, err = s.CreateKey(bg, c, &CreateKeyRequest{Alias: "app"})
	wantKind(t, err, ErrInvalidAliasName)
	if keys, err := s.ListKeys(bg, c, &ListKeysRequest{}); err != nil || len(keys.Keys) != 1 {
		t.Fatalf("refused creations left %+v, %v", keys, err)
	}
}

func BenchmarkCreateKey(b *testing.B) {
	s, _ := newTestService(b)
	c := s.testCall()
	req := &CreateKeyRequest{Description: "bench"}
	for b.Loop() {
		if _, err := s.CreateKey(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
