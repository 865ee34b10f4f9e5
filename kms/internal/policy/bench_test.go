package policy

import "testing"

// Parse runs once per key and its result is cached by the caller; Evaluate
// runs on every request, so it must not allocate.
func BenchmarkEvaluate(b *testing.B) {
	ctx := attested()
	ctx["kms:CallerAccount"] = []string{acct}
	ctx["aws:PrincipalArn"] = []string{alice}
	ctx["kms:EncryptionContext:tenant"] = []string{"t-42"}
	ctx["kms:EncryptionContextKeys"] = []string{"tenant"}
	benches := []struct {
		name, policy string
		r            *Request
		want         Decision
	}{
		{"default", defaultPolicy, req(alice, "kms:Decrypt", ctx), Allow},
		{"attestation", attestedPolicy, req("arn:aws:iam::111122223333:user/enclave", "kms:Decrypt", ctx), Allow},
		{"attestation-denied", attestedPolicy, req("arn:aws:iam::111122223333:user/enclave", "kms:Decrypt", nil), ExplicitDeny},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			p := mustParse(b, bb.policy)
			if got := p.Evaluate(bb.r); got != bb.want {
				b.Fatalf("Evaluate = %v, want %v", got, bb.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				p.Evaluate(bb.r)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bb := range []struct{ name, policy string }{
		{"default", defaultPolicy},
		{"attestation", attestedPolicy},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.policy)))
			for b.Loop() {
				if _, err := Parse(bb.policy); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestEvaluateDoesNotAllocate holds Evaluate to its promise.
func TestEvaluateDoesNotAllocate(t *testing.T) {
	ctx := attested()
	ctx["kms:EncryptionContext:tenant"] = []string{"t-42"}
	p := mustParse(t, attestedPolicy)
	for _, r := range []*Request{
		req("arn:aws:iam::111122223333:user/enclave", "kms:Decrypt", ctx),
		req("arn:aws:iam::111122223333:user/enclave", "kms:Decrypt", nil),
		req(root, "kms:PutKeyPolicy", ctx),
	} {
		if n := testing.AllocsPerRun(100, func() { p.Evaluate(r) }); n != 0 {
			t.Errorf("Evaluate(%s, %s) allocates %v times", r.Principal, r.Action, n)
		}
	}
}

// The typed operators keep the promise too, on the values the server sends.
func TestTypedEvaluateDoesNotAllocate(t *testing.T) {
	p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{
		"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},
		"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},
		"NumericGreaterThan":{"aws:EpochTime":"1700000000"},
		"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"},
		"Bool":{"aws:SecureTransport":"true"}}}`))
	ctx := map[string][]string{
		"aws:SourceIp": {"10.1.2.3"}, "aws:CurrentTime": {"2026-12-07T01:00:00Z"}, "aws:EpochTime": {"1796605200"},
		"aws:PrincipalArn": {alice}, "aws:SecureTransport": {"true"},
	}
	r := req(alice, "kms:Decrypt", ctx)
	if d := p.Evaluate(r); d != Allow {
		t.Fatalf("Evaluate = %v", d)
	}
	if n := testing.AllocsPerRun(100, func() { p.Evaluate(r) }); n != 0 {
		t.Errorf("Evaluate allocates %v times", n)
	}
}
