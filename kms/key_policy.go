package kms

import (
	"context"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// DefaultPolicyName is the only key policy name, as in AWS KMS.
const DefaultPolicyName = "default"

// defaultPolicy is AWS KMS's default key policy: the account has full access.
func defaultPolicy(acct Account) string {
	return `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + acct.AccountID + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
}

// validatePolicy bounds a key policy before it is parsed in full
// (checkNewPolicy, package policy).
func validatePolicy(doc string) error {
	if len(doc) > maxPolicy {
		return errorf(ErrLimitExceeded, "the key policy is larger than %d bytes", maxPolicy)
	}
	return nil
}

func checkPolicyName(name string) error {
	if name != "" && name != DefaultPolicyName {
		return errorf(ErrNotFound, "No such policy exists: %s. The only policy name is default.", name)
	}
	return nil
}

// PutKeyPolicyRequest replaces a key's policy. PolicyName is "" or
// "default", the only one. BypassPolicyLockoutSafetyCheck skips the checks
// a new policy must pass (checkNewPolicy); the audit line names the skipped
// ones that failed.
type PutKeyPolicyRequest struct {
	KeyID                          string
	PolicyName                     string
	Policy                         string
	BypassPolicyLockoutSafetyCheck bool
}

// PutKeyPolicyResponse is PutKeyPolicy's answer: the key.
type PutKeyPolicyResponse struct{ KeyRef }

// PutKeyPolicy replaces a key's policy; it is stored and returned as given.
func (s *Service) PutKeyPolicy(ctx context.Context, c *Call, req *PutKeyPolicyRequest) (*PutKeyPolicyResponse, error) {
	return run(s, ctx, c, "PutKeyPolicy", opChange, req, s.putKeyPolicy)
}

func (s *Service) putKeyPolicy(ctx context.Context, c *Call, req *PutKeyPolicyRequest) (*PutKeyPolicyResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	if err := checkPolicyName(req.PolicyName); err != nil {
		return nil, err
	}
	policy := req.Policy
	if policy == "" {
		return nil, errorf(ErrValidation, "Policy is required")
	}
	if err := validatePolicy(policy); err != nil {
		return nil, err
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:PutKeyPolicy", func(rec *store.Key) error {
		if KeyState(rec.State) == PendingDeletion {
			return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
		}
		if err := s.checkNewPolicy(c, rec.ID, policy, req.BypassPolicyLockoutSafetyCheck); err != nil {
			return err
		}
		rec.Policy = policy
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &PutKeyPolicyResponse{s.keyRef(c, rec.ID)}, nil
}

// GetKeyPolicyRequest asks for a key's policy; PolicyName is "" or
// "default".
type GetKeyPolicyRequest struct {
	KeyID      string
	PolicyName string
}

// GetKeyPolicyResponse is GetKeyPolicy's answer: the policy as it was given.
type GetKeyPolicyResponse struct {
	KeyRef
	PolicyName string // always "default"
	Policy     string
}

// GetKeyPolicy returns a key's policy as it was given.
func (s *Service) GetKeyPolicy(ctx context.Context, c *Call, req *GetKeyPolicyRequest) (*GetKeyPolicyResponse, error) {
	return run(s, ctx, c, "GetKeyPolicy", opRead, req, s.getKeyPolicy)
}

func (s *Service) getKeyPolicy(ctx context.Context, c *Call, req *GetKeyPolicyRequest) (*GetKeyPolicyResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	if err := checkPolicyName(req.PolicyName); err != nil {
		return nil, err
	}
	k, err := s.loadKey(ctx, c, req.KeyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:GetKeyPolicy", nil, nil); err != nil {
		return nil, err
	}
	return &GetKeyPolicyResponse{KeyRef: s.keyRef(c, k.rec.ID), PolicyName: DefaultPolicyName, Policy: k.rec.Policy}, nil
}

// ListKeyPoliciesRequest asks for a key's policy names.
type ListKeyPoliciesRequest struct {
	KeyID string
	// Limit bounds the page: 1 to 1000 names. Zero: 100.
	Limit int32
	// Marker is a previous page's NextMarker. There is only ever one page.
	Marker string
}

// ListKeyPoliciesResponse is ListKeyPolicies's answer.
type ListKeyPoliciesResponse struct {
	KeyRef
	PolicyNames []string // always ["default"]
	NextMarker  string   // always "": one name fits any page
}

// ListKeyPolicies lists a key's policy names: always "default".
func (s *Service) ListKeyPolicies(ctx context.Context, c *Call, req *ListKeyPoliciesRequest) (*ListKeyPoliciesResponse, error) {
	return run(s, ctx, c, "ListKeyPolicies", opRead, req, s.listKeyPolicies)
}

func (s *Service) listKeyPolicies(ctx context.Context, c *Call, req *ListKeyPoliciesRequest) (*ListKeyPoliciesResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	if _, err := pageLimit(req.Limit, 100, 1000); err != nil {
		return nil, err
	}
	k, err := s.loadKey(ctx, c, req.KeyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:ListKeyPolicies", nil, nil); err != nil {
		return nil, err
	}
	return &ListKeyPoliciesResponse{KeyRef: s.keyRef(c, k.rec.ID), PolicyNames: []string{DefaultPolicyName}}, nil
}
