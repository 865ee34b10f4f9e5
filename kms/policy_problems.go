package kms

import (
	"context"
	"sort"

	"github.com/attestkms/attestkms/kms/internal/policy"
	"github.com/attestkms/attestkms/kms/internal/store"
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
	err := s.view(ctx, func(r store.Reader) error {
		return eachKey(r, func(k *store.Key) error {
			if _, err := policy.Parse(k.Policy); err != nil {
				out = append(out, k.ID+": "+err.Error())
			}
			return nil
		})
	})
	sort.Strings(out)
	return out, err
}
