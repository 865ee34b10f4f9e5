package nitro

import (
	"fmt"

	"github.com/attestkms/attestkms/attest"
)

// QingTian documents are Nitro documents in all but their PKI and a few
// bounds: Huawei's QTSM signs with ES256, ES384 or ES512 (and then names
// SHA256, SHA384 or SHA512 and has PCRs of 32, 48 or 64 bytes), and its
// library (qtsm_lib_comm.h) bounds the rest. Huawei publishes no default
// root that we embed: the operator configures it.

const (
	// qingtianMaxCABundle is QTSM_CERTIFICATE_MAX_DEPTH: Huawei's own
	// verifier refuses deeper bundles.
	qingtianMaxCABundle = 4
	// qingtianMaxCert: Huawei's schema says cert = bytes .size (1..4096),
	// and QTSM_CERTIFICATE_MAX_SIZE is 4096.
	qingtianMaxCert = 4096
	// qingtianMaxData: Huawei's schema allows user_data and nonce up to
	// 4096 bytes (its library sends at most 512).
	qingtianMaxData = 4096
)

var qingtianProfile = profile{
	format:         attest.FormatQingtian,
	suites:         []*suite{es256, es384, es512},
	maxCABundle:    qingtianMaxCABundle,
	maxCert:        qingtianMaxCert,
	maxUserData:    qingtianMaxData,
	maxNonce:       qingtianMaxData,
	checkKeyFields: qingtianKeyFields,
}

// qingtianKeyFields: Huawei's documentation names the enclave key "pubkey",
// reports on real documents say "public_key". Either is accepted; both at
// once are refused, since they could disagree.
func qingtianKeyFields(d *document) error {
	if d.hasPubkey && d.hasPublicKey {
		return fmt.Errorf("%w: both \"pubkey\" and \"public_key\" are present; a QingTian document carries one key", attest.ErrMalformed)
	}
	return nil
}
