package kms

// Region is the service's one region. (Placeholder until the region change
// lands: every ARN is in us-east-1.)
func (s *Service) Region() string { return defaultRegion }
