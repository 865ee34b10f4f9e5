package kms

import "context"

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

// PutKeyPolicy replaces a key's policy; it is stored and returned as given.
func (s *Service) PutKeyPolicy(ctx context.Context, c *Call, keyID, policyName, policy string, bypassLockoutCheck bool) error {
	if err := checkPolicyName(policyName); err != nil {
		return err
	}
	if policy == "" {
		return errorf(ErrValidation, "Policy is required")
	}
	if err := validatePolicy(policy); err != nil {
		return err
	}
	_, err := s.changeKey(c, keyID, "kms:PutKeyPolicy", func(rec *keyRecord) error {
		if rec.State == PendingDeletion {
			return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
		}
		if err := s.checkNewPolicy(c, rec.ID, policy, bypassLockoutCheck); err != nil {
			return err
		}
		rec.Policy = policy
		return nil
	})
	return err
}

// GetKeyPolicy returns a key's policy as it was given.
func (s *Service) GetKeyPolicy(ctx context.Context, c *Call, keyID, policyName string) (string, error) {
	if err := checkPolicyName(policyName); err != nil {
		return "", err
	}
	k, err := s.loadKey(c, keyID)
	if err != nil {
		return "", err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:GetKeyPolicy", nil, nil); err != nil {
		return "", err
	}
	return k.rec.Policy, nil
}

// ListKeyPolicies lists a key's policy names: always "default".
func (s *Service) ListKeyPolicies(ctx context.Context, c *Call, keyID string, p Page) ([]string, error) {
	if _, err := p.limit(100, 1000); err != nil {
		return nil, err
	}
	k, err := s.loadKey(c, keyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:ListKeyPolicies", nil, nil); err != nil {
		return nil, err
	}
	return []string{DefaultPolicyName}, nil
}
