package nitro

import (
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// awsRootPEM is the AWS Nitro Enclaves Root-G1 (CN=aws.nitro-enclaves,
// P-384, valid 2019-10-28 to 2049-10-28), byte for byte the root.pem inside
// AWS_NitroEnclaves_Root-G1.zip, the archive AWS publishes at
// https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip
// (SHA-256 of the zip 8cf60e2b2efca96c6a9e71e851d00c1b6991cc09eadbe64a6a1d1b1eb9faff7c,
// as AWS documents in "Verifying the root of trust"). Our copy comes from
// blocky/nitrite @ a6f5b6da1e509d7600dfdf9ba5000e38f7113186,
// internal/assets/AWS_NitroEnclaves_Root-G1.zip; the same certificate is
// hf/nitrite's DefaultCARoots. testvectors/nitro/README.md has the details.
//
//go:embed aws_nitro_enclaves_root_g1.pem
var awsRootPEM []byte

// AWSRootG1SHA256 is the SHA-256 of the AWS Nitro Enclaves Root-G1's DER,
// the fingerprint AWS documents. The embedded root is checked against it.
const AWSRootG1SHA256 = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"

var awsRoot, awsRootErr = parseAWSRoot(awsRootPEM)

func parseAWSRoot(b []byte) (*x509.Certificate, error) {
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" || len(rest) != 0 {
		return nil, errors.New("nitro: the embedded AWS root is not one PEM certificate")
	}
	if sum := sha256.Sum256(blk.Bytes); hex.EncodeToString(sum[:]) != AWSRootG1SHA256 {
		return nil, fmt.Errorf("nitro: the embedded AWS root's SHA-256 is %x, not AWS's %s", sum, AWSRootG1SHA256)
	}
	return x509.ParseCertificate(blk.Bytes)
}

// awsRoots returns the default Nitro roots: the embedded AWS root, if it is
// the one AWS publishes.
func awsRoots() ([]*x509.Certificate, error) {
	if awsRootErr != nil {
		return nil, awsRootErr
	}
	return []*x509.Certificate{awsRoot}, nil
}
