package policy

import "testing"

// TestTypedConditions runs the IP, date, number and ARN operators: Allow when
// the condition holds, Deny when not, ExplicitDeny when the request carries a
// value of the wrong type (the server never sends one; policy test might).
func TestTypedConditions(t *testing.T) {
	type c = map[string][]string
	const (
		holds = Allow
		fails = Deny
		bad   = ExplicitDeny
	)
	tests := []struct {
		name, cond string
		ctx        c
		want       Decision
	}{
		// aws:SourceIp.
		{"ip in block", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, c{"aws:SourceIp": {"10.1.2.3"}}, holds},
		{"ip out of block", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, c{"aws:SourceIp": {"11.0.0.1"}}, fails},
		{"ip exact", `{"IpAddress":{"aws:SourceIp":"192.0.2.7"}}`, c{"aws:SourceIp": {"192.0.2.7"}}, holds},
		{"ip exact other", `{"IpAddress":{"aws:SourceIp":"192.0.2.7"}}`, c{"aws:SourceIp": {"192.0.2.8"}}, fails},
		{"ip blocks ORed", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.0/8"]}}`, c{"aws:SourceIp": {"127.0.0.1"}}, holds},
		{"ipv6 in block", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, c{"aws:SourceIp": {"2001:db8::5"}}, holds},
		{"ipv4-mapped peer", `{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}`, c{"aws:SourceIp": {"::ffff:127.0.0.1"}}, holds},
		{"ipv4 block, ipv6 peer", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, c{"aws:SourceIp": {"::1"}}, fails},
		{"ip absent", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, c{}, fails},
		{"not ip: outside", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, c{"aws:SourceIp": {"11.0.0.1"}}, holds},
		{"not ip: inside", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, c{"aws:SourceIp": {"10.0.0.1"}}, fails},
		{"not ip: absent holds (AWS)", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, c{}, holds},
		{"ip: not an address", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, c{"aws:SourceIp": {"localhost"}}, bad},
		{"not ip: not an address", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, c{"aws:SourceIp": {"10.0.0.1:80"}}, bad},

		// aws:CurrentTime.
		{"before", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, c{"aws:CurrentTime": {"2025-12-31T23:59:59Z"}}, holds},
		{"not before", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, c{"aws:CurrentTime": {"2026-01-01T00:00:00Z"}}, fails},
		{"at or before", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, c{"aws:CurrentTime": {"2026-01-01T00:00:00Z"}}, holds},
		{"after", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}`, c{"aws:CurrentTime": {"2026-01-01T00:00:01Z"}}, holds},
		{"after: zones compared as instants", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T01:00:00+02:00"}}`, c{"aws:CurrentTime": {"2025-12-31T23:30:00Z"}}, holds},
		{"at or after", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, c{"aws:CurrentTime": {"2025-12-31T23:59:59Z"}}, fails},
		{"date equals", `{"DateEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, c{"aws:CurrentTime": {"2026-01-01T00:00:00.000Z"}}, holds},
		{"date not equals", `{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, c{"aws:CurrentTime": {"2026-01-01T00:00:00Z"}}, fails},
		{"date as epoch", `{"DateLessThan":{"aws:CurrentTime":"1767225600"}}`, c{"aws:CurrentTime": {"2025-12-31T23:59:59Z"}}, holds},
		{"date absent", `{"DateLessThan":{"aws:CurrentTime":"2126-01-01"}}`, c{}, fails},
		{"date IfExists absent", `{"DateLessThanIfExists":{"aws:CurrentTime":"2026-01-01"}}`, c{}, holds},
		{"date: not a date", `{"DateLessThan":{"aws:CurrentTime":"2126-01-01"}}`, c{"aws:CurrentTime": {"soon"}}, bad},

		// aws:EpochTime, under number and date operators.
		{"epoch less", `{"NumericLessThan":{"aws:EpochTime":"1767225600"}}`, c{"aws:EpochTime": {"1767225599"}}, holds},
		{"epoch not less", `{"NumericLessThan":{"aws:EpochTime":"1767225600"}}`, c{"aws:EpochTime": {"1767225600"}}, fails},
		{"epoch less or equal", `{"NumericLessThanEquals":{"aws:EpochTime":1767225600}}`, c{"aws:EpochTime": {"1767225600"}}, holds},
		{"epoch greater", `{"NumericGreaterThan":{"aws:EpochTime":"10.5"}}`, c{"aws:EpochTime": {"11"}}, holds},
		{"epoch greater or equal", `{"NumericGreaterThanEquals":{"aws:EpochTime":"11"}}`, c{"aws:EpochTime": {"10"}}, fails},
		{"epoch equals", `{"NumericEquals":{"aws:EpochTime":["1","2"]}}`, c{"aws:EpochTime": {"2"}}, holds},
		{"epoch not equals", `{"NumericNotEquals":{"aws:EpochTime":["1","2"]}}`, c{"aws:EpochTime": {"2"}}, fails},
		{"epoch not equals: absent holds", `{"NumericNotEquals":{"aws:EpochTime":"1"}}`, c{}, holds},
		{"epoch as a date", `{"DateGreaterThan":{"aws:EpochTime":"2026-01-01T00:00:00Z"}}`, c{"aws:EpochTime": {"1767225601"}}, holds},
		{"epoch: not a number", `{"NumericLessThan":{"aws:EpochTime":"1"}}`, c{"aws:EpochTime": {"0x0"}}, bad},

		// aws:PrincipalArn under the ARN operators: part by part.
		{"arn equals", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}`, c{"aws:PrincipalArn": {alice}}, holds},
		{"arn equals takes wildcards (AWS)", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"}}`, c{"aws:PrincipalArn": {alice}}, holds},
		{"arn like account", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/alice"}}`, c{"aws:PrincipalArn": {alice}}, holds},
		{"arn like: * stays in its part", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:*:*:*:alice"}}`, c{"aws:PrincipalArn": {alice}}, fails},
		{"arn like other user", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/b*"}}`, c{"aws:PrincipalArn": {alice}}, fails},
		{"arn like: resource with colons", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"}}`, c{"aws:PrincipalArn": {"arn:aws:iam::111122223333:user/a:b"}}, holds},
		{"arn like is case-sensitive", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/ALICE"}}`, c{"aws:PrincipalArn": {alice}}, fails},
		{"arn not like", `{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:root"}}`, c{"aws:PrincipalArn": {alice}}, holds},
		{"arn not equals: the root", `{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:root"}}`, c{"aws:PrincipalArn": {root}}, fails},
		{"arn: not an ARN", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:*"}}`, c{"aws:PrincipalArn": {"alice"}}, fails},

		// aws:SecureTransport.
		{"secure", `{"Bool":{"aws:SecureTransport":"true"}}`, c{"aws:SecureTransport": {"true"}}, holds},
		{"plain", `{"Bool":{"aws:SecureTransport":"true"}}`, c{"aws:SecureTransport": {"false"}}, fails},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":`+tt.cond+`}`))
			if got := p.Evaluate(req(alice, "kms:Decrypt", tt.ctx)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			// As a Deny beside an Allow: ExplicitDeny exactly when it holds,
			// and a value of the wrong type is never "not denied".
			p = mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*"}`,
				`{"Effect":"Deny","Principal":"*","Action":"kms:*","Condition":`+tt.cond+`}`))
			want := Allow
			if tt.want != fails {
				want = ExplicitDeny
			}
			if got := p.Evaluate(req(alice, "kms:Decrypt", tt.ctx)); got != want {
				t.Errorf("as a Deny: got %v, want %v", got, want)
			}
		})
	}
}
