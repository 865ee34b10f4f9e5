package kms

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/attestkms/attestkms/kms/internal/policy"
)

// PolicyProblems lists the stored keys whose policy no longer parses — a
// store written by an older attestkms whose parser accepted what this one
// refuses, such as a condition key it never evaluated — one line each: the
// key id and why. Every request on such a key is denied; only the account's
// root credential may replace its policy (authorize), so that an upgrade
// never locks a key away for good. serve prints them at start.
func (a *Admin) PolicyProblems(ctx context.Context) ([]string, error) {
	s := a.s
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	var out []string
	err := s.st.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			var rec struct {
				Policy string `json:"policy"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("stored key %q: %w", k, err)
			}
			if _, err := policy.Parse(rec.Policy); err != nil {
				out = append(out, string(k)+": "+err.Error())
			}
			return nil
		})
	})
	sort.Strings(out)
	return out, err
}
