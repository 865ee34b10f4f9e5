package enclave

import "testing"

// An answer whose signature verified may still answer a request the host
// made with the enclave's document: checkAnswer refuses what the enclave
// can tell is not what it asked for.
func TestCheckAnswer(t *testing.T) {
	const arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tc := range []struct {
		asked, arn string
		n, want    int
		ok         bool
	}{
		{"1234abcd-12ab-34cd-56ef-1234567890ab", arn, 32, 32, true},
		{arn, arn, 32, 32, true},
		{"alias/app", arn, 32, 32, true},
		{"arn:aws:kms:us-east-1:111122223333:alias/app", arn, 32, 32, true},
		{"", arn, 32, -1, true},
		{"ffffffff-12ab-34cd-56ef-1234567890ab", arn, 32, 32, false},
		{"arn:aws:kms:us-east-1:111122223333:key/ffffffff-12ab-34cd-56ef-1234567890ab", arn, 32, 32, false},
		{"1234abcd-12ab-34cd-56ef-1234567890ab", arn, 1, 32, false},
	} {
		secret := make([]byte, tc.n)
		for i := range secret {
			secret[i] = 0xaa
		}
		err := checkAnswer("GenerateDataKey", tc.asked, tc.arn, secret, tc.want)
		if (err == nil) != tc.ok {
			t.Errorf("asked %q, answer under %q, %d bytes for %d: %v", tc.asked, tc.arn, tc.n, tc.want, err)
		}
		if err != nil && len(secret) > 0 && secret[0] != 0 {
			t.Errorf("asked %q: a refused secret is not zeroed", tc.asked)
		}
	}
}
