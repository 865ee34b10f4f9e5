package kms

import (
	"bytes"
	"testing"
)

func TestKeyIDForms(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/team/app_1", TargetKeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	acct := s.Account().AccountID
	if md.KeyARN != "arn:aws:kms:us-east-1:"+acct+":key/"+md.KeyID {
		t.Fatalf("Arn = %s; want the key in us-east-1, the default region", md.KeyARN)
	}
	for _, id := range []string{
		md.KeyID, md.KeyARN, "alias/team/app_1",
		"arn:aws:kms:us-east-1:" + acct + ":alias/team/app_1",
		"arn:aws:kms:us-east-1:" + acct + ":key/" + md.KeyID,
	} {
		got, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: id})
		if err != nil || got.KeyID != md.KeyID {
			t.Errorf("DescribeKey(%q) = %v, %v", id, got, err)
		}
	}
	for _, id := range []string{
		"alias/nope", "nope", md.KeyID[:35], "  " + md.KeyID, stringsToUpper(md.KeyID),
		"arn:aws:kms:us-east-1:000000000000:key/" + md.KeyID, // another account
		"arn:aws:kms:us-east-1:" + acct + ":key/nope",
		"arn:aws:s3:us-east-1:" + acct + ":key/" + md.KeyID,
		"arn:aws:kms:us-east-1:" + acct + ":grant/x",
		// Another region or partition: the same key has no second ARN.
		"arn:aws:kms:eu-west-1:" + acct + ":key/" + md.KeyID,
		"arn:aws:kms:ap-south-2:" + acct + ":alias/team/app_1",
		"arn:aws:kms::" + acct + ":key/" + md.KeyID,
		"arn:aws-cn:kms:us-east-1:" + acct + ":key/" + md.KeyID,
		"arn:aws-us-gov:kms:us-east-1:" + acct + ":alias/team/app_1",
		"arn:awsx:kms:us-east-1:" + acct + ":key/" + md.KeyID,
		"arn:aws:kms:US-EAST-1:" + acct + ":key/" + md.KeyID,
		"00000000-0000-4000-8000-000000000000",
	} {
		_, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: id})
		wantKind(t, err, ErrNotFound)
	}
	_, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: ""})
	wantKind(t, err, ErrValidation)
	// Every operation takes every form, management ones too.
	if _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: "alias/team/app_1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnableKey(bg, c, &EnableKeyRequest{KeyID: "arn:aws:kms:us-east-1:" + acct + ":alias/team/app_1"}); err != nil {
		t.Fatal(err)
	}
}

func stringsToUpper(s string) string { return string(bytes.ToUpper([]byte(s))) }
