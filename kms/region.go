package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// A service has one region, fixed by its operator (Options.Region) and
// recorded in its store. Every ARN it makes names that region, and every ARN
// it accepts must: were the region the caller's choice, as it once was, the
// same key would have as many ARNs as there are region names, and a policy
// Deny naming one of them would be sidestepped by asking in another.

// maxRegion bounds a region name as SigV4 bounds a credential scope's region
// (api/aws/sigv4): the longest AWS region today has 14 characters.
const maxRegion = 32

// ValidRegion reports whether name is a region name as SigV4 accepts it in a
// credential scope: 1 to 32 characters of a-z, 0-9 and -.
func ValidRegion(name string) bool {
	if name == "" || len(name) > maxRegion {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// RegionMismatchError is Open's refusal of a store recorded for another
// region than Options.Region. It wraps ErrRegionMismatch.
type RegionMismatchError struct {
	DataDir   string
	Stored    string // the store's region
	Requested string // Options.Region, defaulted
}

func (e *RegionMismatchError) Error() string {
	return fmt.Sprintf("the store in %s is for region %s, not %s", e.DataDir, e.Stored, e.Requested)
}

func (e *RegionMismatchError) Unwrap() error { return ErrRegionMismatch }

// region is o.Region, defaulted and checked.
func (o *Options) region() (string, error) {
	if o.Region == "" {
		return defaultRegion, nil
	}
	if !ValidRegion(o.Region) {
		return "", fmt.Errorf("invalid region %q: a region is 1-%d characters of a-z 0-9 -", o.Region, maxRegion)
	}
	return o.Region, nil
}

// Region returns the service's one region: the region of every ARN it makes
// or accepts.
func (s *Service) Region() string { return s.region }

// openRegion reconciles the store's recorded region with want (with
// useStored, whatever the store records) and returns the service's region.
// Anything it changes, it changes in one write transaction, with its audit
// record. A store made before regions were recorded is a us-east-1 store,
// the region its ARNs named by default; its region is recorded now. A store
// of another region is refused, unless rename: then its region and every
// stored ARN of its own are moved to want, all together or not at all.
//
// Open calls it before the service answers anything, so no key is cached
// yet and no cached policy can outlive a rename.
func (s *Service) openRegion(want string, rename, useStored bool) (string, error) {
	var stored string
	err := s.view(context.Background(), func(r store.Reader) error {
		m, err := r.Meta()
		if err == nil {
			stored = m.Region
		}
		return err
	})
	if err != nil {
		return "", err
	}
	recorded := stored != ""
	if !recorded {
		stored = defaultRegion
	}
	if useStored {
		want = stored
	}
	switch {
	case stored == want && recorded:
		return want, nil
	case stored != want && !rename:
		return "", &RegionMismatchError{DataDir: s.opts.DataDir, Stored: stored, Requested: want}
	}
	c := systemCall("open", "RecordRegion")
	c.op.message = "recorded the store's region, " + want + " (a store made before regions were recorded)"
	if stored != want {
		c = systemCall("open", "RenameRegion")
		c.op.message = "the store moved from region " + stored + " to " + want + ": its key policies' ARNs were rewritten"
	}
	err = s.change(context.Background(), c, func(tx store.Txn) error {
		if stored != want {
			if err := renamePolicies(tx, s.account.AccountID, stored, want); err != nil {
				return err
			}
		}
		m, err := tx.Meta()
		if err != nil {
			return err
		}
		m.Region = want
		return tx.PutMeta(m)
	})
	return want, err
}

// renamePolicies rewrites, in every stored key policy, the ARNs of this
// account in region from to region to. Key policies are the only stored
// records that hold key or alias ARNs: aliases and credentials store names
// and ids, and the audit log, which does name ARNs, is history and stays as
// written.
//
// The rewrite is textual, as the policy was stored as given. JSON lets a
// document spell the same string with escapes (\u003a for ":"), which a
// textual rewrite misses; a policy still naming the old region once decoded
// fails the whole rename, since a Deny on the old ARN would otherwise stop
// matching silently.
func renamePolicies(tx store.Txn, account, from, to string) error {
	oldPrefix := "arn:aws:kms:" + from + ":" + account + ":"
	newPrefix := "arn:aws:kms:" + to + ":" + account + ":"
	var changed []*store.Key
	err := eachKey(tx, func(rec *store.Key) error {
		if rec.Policy == "" {
			return nil // nothing to rewrite
		}
		doc := strings.ReplaceAll(rec.Policy, oldPrefix, newPrefix)
		if err := stillNames(doc, oldPrefix); err != nil {
			return fmt.Errorf("cannot move key %s to region %s: its key policy %w; rewrite that ARN in the policy and try again", rec.ID, to, err)
		}
		if len(doc) > maxPolicy {
			return fmt.Errorf("cannot move key %s to region %s: its key policy would be larger than %d bytes", rec.ID, to, maxPolicy)
		}
		if doc != rec.Policy {
			rec.Policy = doc
			changed = append(changed, rec)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, rec := range changed {
		if err := tx.PutKey(rec); err != nil {
			return err
		}
	}
	return nil
}

// stillNames reports, as an error, whether any string of the JSON document
// doc, decoded, contains prefix.
func stillNames(doc, prefix string) error {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return errors.New("is not JSON, so its ARNs cannot be checked")
	}
	var found bool
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			found = found || strings.Contains(v, prefix)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for k, e := range v {
				found = found || strings.Contains(k, prefix)
				walk(e)
			}
		}
	}
	walk(v)
	if found {
		return fmt.Errorf("spells %s with JSON escapes", strings.TrimSuffix(prefix, ":"))
	}
	return nil
}
