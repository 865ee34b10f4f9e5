package eckeys

import (
	"bytes"
	"errors"
	"testing"
)

// cavsVectors are NIST CAVP "KAS ECC CDH primitive" vectors (SP 800-56A
// section 5.7.1.2), CAVS 14.1, file KAS_ECC_CDH_PrimitiveTest.txt from
// ecccdhtestvectors.zip, COUNT = 0 and 1 of [P-256], [P-384], [P-521]. COUNT 0
// of each is also in Go's crypto/ecdh/ecdh_test.go. The file writes P-521
// scalars and coordinates with two extra leading zero bytes; they are dropped
// here (ZIUT keeps its 66 bytes).
var cavsVectors = []struct {
	curve          Curve
	count          int
	qCAVSx, qCAVSy string // peer
	dIUT           string // our scalar
	qIUTx, qIUTy   string // our public key, "" where not copied
	zIUT           string // shared secret
}{
	{
		curve: P256, count: 0,
		qCAVSx: "700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287",
		qCAVSy: "db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac",
		dIUT:   "7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534",
		qIUTx:  "ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230",
		qIUTy:  "28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141",
		zIUT:   "46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b",
	},
	{
		curve: P256, count: 1,
		qCAVSx: "809f04289c64348c01515eb03d5ce7ac1a8cb9498f5caa50197e58d43a86a7ae",
		qCAVSy: "b29d84e811197f25eba8f5194092cb6ff440e26d4421011372461f579271cda3",
		dIUT:   "38f65d6dce47676044d58ce5139582d568f64bb16098d179dbab07741dd5caf5",
		zIUT:   "057d636096cb80b67a8c038c890e887d1adfa4195e9b3ce241c8a778c59cda67",
	},
	{
		curve: P384, count: 0,
		qCAVSx: "a7c76b970c3b5fe8b05d2838ae04ab47697b9eaf52e764592efda27fe7513272734466b400091adbf2d68c58e0c50066",
		qCAVSy: "ac68f19f2e1cb879aed43a9969b91a0839c4c38a49749b661efedf243451915ed0905a32b060992b468c64766fc8437a",
		dIUT:   "3cc3122a68f0d95027ad38c067916ba0eb8c38894d22e1b15618b6818a661774ad463b205da88cf699ab4d43c9cf98a1",
		qIUTx:  "9803807f2f6d2fd966cdd0290bd410c0190352fbec7ff6247de1302df86f25d34fe4a97bef60cff548355c015dbb3e5f",
		qIUTy:  "ba26ca69ec2f5b5d9dad20cc9da711383a9dbe34ea3fa5a2af75b46502629ad54dd8b7d73a8abb06a3a3be47d650cc99",
		zIUT:   "5f9d29dc5e31a163060356213669c8ce132e22f57c9a04f40ba7fcead493b457e5621e766c40a2e3d4d6a04b25e533f1",
	},
	{
		curve: P384, count: 1,
		qCAVSx: "30f43fcf2b6b00de53f624f1543090681839717d53c7c955d1d69efaf0349b7363acb447240101cbb3af6641ce4b88e0",
		qCAVSy: "25e46c0c54f0162a77efcc27b6ea792002ae2ba82714299c860857a68153ab62e525ec0530d81b5aa15897981e858757",
		dIUT:   "92860c21bde06165f8e900c687f8ef0a05d14f290b3f07d8b3a8cc6404366e5d5119cd6d03fb12dc58e89f13df9cd783",
		zIUT:   "a23742a2c267d7425fda94b93f93bbcc24791ac51cd8fd501a238d40812f4cbfc59aac9520d758cf789c76300c69d2ff",
	},
	{
		curve: P521, count: 0,
		qCAVSx: "00685a48e86c79f0f0875f7bc18d25eb5fc8c0b07e5da4f4370f3a9490340854334b1e1b87fa395464c60626124a4e70d0f785601d37c09870ebf176666877a2046d",
		qCAVSy: "01ba52c56fc8776d9e8f5db4f0cc27636d0b741bbe05400697942e80b739884a83bde99e0f6716939e632bc8986fa18dccd443a348b6c3e522497955a4f3c302f676",
		dIUT:   "017eecc07ab4b329068fba65e56a1f8890aa935e57134ae0ffcce802735151f4eac6564f6ee9974c5e6887a1fefee5743ae2241bfeb95d5ce31ddcb6f9edb4d6fc47",
		qIUTx:  "00602f9d0cf9e526b29e22381c203c48a886c2b0673033366314f1ffbcba240ba42f4ef38a76174635f91e6b4ed34275eb01c8467d05ca80315bf1a7bbd945f550a5",
		qIUTy:  "01b7c85f26f5d4b2d7355cf6b02117659943762b6d1db5ab4f1dbc44ce7b2946eb6c7de342962893fd387d1b73d7a8672d1f236961170b7eb3579953ee5cdc88cd2d",
		zIUT:   "005fc70477c3e63bc3954bd0df3ea0d1f41ee21746ed95fc5e1fdf90930d5e136672d72cc770742d1711c3c3a4c334a0ad9759436a4d3c5bf6e74b9578fac148c831",
	},
	{
		curve: P521, count: 1,
		qCAVSx: "01df277c152108349bc34d539ee0cf06b24f5d3500677b4445453ccc21409453aafb8a72a0be9ebe54d12270aa51b3ab7f316aa5e74a951c5e53f74cd95fc29aee7a",
		qCAVSy: "013d52f33a9f3c14384d1587fa8abe7aed74bc33749ad9c570b471776422c7d4505d9b0a96b3bfac041e4c6a6990ae7f700e5b4a6640229112deafa0cd8bb0d089b0",
		dIUT:   "00816f19c1fb10ef94d4a1d81c156ec3d1de08b66761f03f06ee4bb9dcebbbfe1eaa1ed49a6a990838d8ed318c14d74cc872f95d05d07ad50f621ceb620cd905cfb8",
		zIUT:   "000b3920ac830ade812c8f96805da2236e002acbbf13596a9ab254d44d0e91b6255ebf1229f366fb5a05c5884ef46032c26d42189273ca4efa4c3db6bd12a6853759",
	},
}

func TestCAVSVectors(t *testing.T) {
	for _, v := range cavsVectors {
		k := keyFromScalar(t, v.curve, mustHex(t, v.dIUT))
		if v.qIUTx != "" {
			want := mustHex(t, "04"+v.qIUTx+v.qIUTy)
			if !bytes.Equal(k.Public().point, want) {
				t.Errorf("%s COUNT %d: public key %x, want %x", v.curve, v.count, k.Public().point, want)
			}
		}
		peer := publicFromPoint(t, v.curve, mustHex(t, "04"+v.qCAVSx+v.qCAVSy))
		z, err := k.ECDH(peer)
		if err != nil {
			t.Fatalf("%s COUNT %d: %v", v.curve, v.count, err)
		}
		if want := mustHex(t, v.zIUT); !bytes.Equal(z, want) {
			t.Errorf("%s COUNT %d: Z = %x, want %x", v.curve, v.count, z, want)
		}
	}
}

// wycheproofVectors are cases from Project Wycheproof, C2SP/wycheproof
// testvectors_v1/ecdh_secp256k1_test.json (and one from
// ecdh_secp256r1_test.json), identified by file and tcId. The public key is
// the DER SubjectPublicKeyInfo exactly as in the file; private keys are
// big-endian integers as the file writes them. TestWycheproof runs the whole
// files when they are at hand.
var wycheproofVectors = []struct {
	curve   Curve // of the private key
	tcID    int
	comment string
	public  string
	private string
	shared  string // "" when the case must fail
	kind    error  // expected error kind when shared is ""
}{
	{
		curve: Secp256k1, tcID: 1, comment: "normal case",
		public:  "3056301006072a8648ce3d020106052b8104000a03420004d8096af8a11e0b80037e1ee68246b5dcbb0aeb1cf1244fd767db80f3fa27da2b396812ea1686e7472e9692eaf3e958e50e9500d3b4c77243db1f2acd67ba9cc4",
		private: "00f4b7ff7cccc98813a69fae3df222bfe3f4e28f764bf91b4a10d8096ce446b254",
		shared:  "544dfae22af6af939042b1d85b71a1e49e9a5614123c4d6ad0c8af65baf87d65",
	},
	{
		// The secret keeps its 31 leading zero bytes.
		curve: Secp256k1, tcID: 3, comment: "shared secret has x-coordinate that satisfies x**2 + a = 1",
		public:  "3056301006072a8648ce3d020106052b8104000a03420004965ff42d654e058ee7317cced7caf093fbb180d8d3a74b0dcd9d8cd47a39d5cb9c2aa4daac01a4be37c20467ede964662f12983e0b5272a47a5f2785685d8087",
		private: "00a2b6442a37f8a3764aeff4011a4c422b389a1e509669c43f279c8b7e32d80c3a",
		shared:  "0000000000000000000000000000000000000000000000000000000000000001",
	},
	{
		curve: Secp256k1, tcID: 99, comment: "edge case for Jacobian and projective coordinates",
		public:  "3056301006072a8648ce3d020106052b8104000a0342000459294e8bc54e76d48b5594f01fe4729566d9b6df6385982fbb533183921f1a124543e4110bf4cd22e1d444d83e24c5ecdb328a98f2f93e8edcb99b07d5d9fafc",
		private: "00938f3dbe37135cd8c8c48a676b28b2334b72a3f09814c8efb6a451be00c93d23",
		shared:  "e976057e8a322dfdb2debd55d8e58802fb54425950b2dbfd00f0813de27105e4",
	},
	{
		curve: Secp256k1, tcID: 459, comment: "edge case private key",
		public:  "3056301006072a8648ce3d020106052b8104000a0342000432bdd978eb62b1f369a56d0949ab8551a7ad527d9602e891ce457586c2a8569e981e67fae053b03fc33e1a291f0a3beb58fceb2e85bb1205dacee1232dfd316b",
		private: "03",
		shared:  "34005694e3cac09332aa42807e3afdc3b3b3bc7c7be887d1f98d76778c55cfd7",
	},
	{
		curve: Secp256k1, tcID: 495, comment: "public point = (0,0)",
		public:  "3056301006072a8648ce3d020106052b8104000a0342000400000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
		private: "00cfe75ee764197aa7732a5478556b478898423d2bc0e484a6ebb3674a6036a65d",
		kind:    ErrInvalidKey,
	},
	{
		// A point valid on secp256k1, labelled P-256, where it is not on the curve.
		curve: Secp256k1, tcID: 492, comment: "public key has invalid point of order 2 on secp256r1",
		public:  "3059301306072a8648ce3d020106082a8648ce3d03010703420004ffffffff00000001000000000000000000000000ffffffffffffffffffffffff32d98e0d77dd0e543770ec994c0ae837e7bb36eb1d910b58a14a2a08dc182f83",
		private: "3b25129f3410ec89cc6dc539fd7601873ba6abf72a6d023f1aa9041765430ee6",
		kind:    ErrInvalidKey,
	},
	{
		// A valid P-256 key offered to a secp256k1 key.
		curve: Secp256k1, tcID: 513, comment: "Public key uses wrong curve: secp256r1",
		public:  "3059301306072a8648ce3d020106082a8648ce3d0301070342000406372852584037722a7f9bfaad5661acb623162d45f70a552c617f4080e873aa43609275dff6dcaaa122a745d0f154681f9c7726867b43e7523b7f5ab5ea963e",
		private: "00dafa209e0f81119a4afa3f1bc46e2f7947354e3727c608b05c4950b10386643a",
		kind:    ErrCurveMismatch,
	},
	{
		// ecdh_secp256r1_test.json: Wycheproof calls this valid (the shared
		// point has x = 0, reached from a chosen private key); we refuse
		// every all-zero secret.
		curve: P256, tcID: 3, comment: "shared secret has x-coordinate that satisfies x**2 = 0",
		public:  "3059301306072a8648ce3d020106082a8648ce3d0301070342000458fd4168a87795603e2b04390285bdca6e57de6027fe211dd9d25e2212d29e62080d36bd224d7405509295eed02a17150e03b314f96da37445b0d1d29377d12c",
		private: "0a0d622a47e48f6bc1038ace438c6f528aa00ad2bd1da5f13ee46bf5f633d71a",
		kind:    ErrInvalidKey,
	},
}

func TestWycheproofVectors(t *testing.T) {
	for _, v := range wycheproofVectors {
		k := keyFromScalar(t, v.curve, mustHex(t, v.private))
		var secret []byte
		pub, err := ParseSPKI(mustHex(t, v.public))
		if err == nil {
			secret, err = k.ECDH(pub)
		}
		if v.shared == "" {
			if !errors.Is(err, v.kind) || secret != nil {
				t.Errorf("%s tcId %d (%s): secret %x, err %v; want %v", v.curve, v.tcID, v.comment, secret, err, v.kind)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s tcId %d (%s): %v", v.curve, v.tcID, v.comment, err)
			continue
		}
		if want := mustHex(t, v.shared); !bytes.Equal(secret, want) {
			t.Errorf("%s tcId %d (%s): secret %x, want %x", v.curve, v.tcID, v.comment, secret, want)
		}
	}
}
