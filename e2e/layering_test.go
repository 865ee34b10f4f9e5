package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/attestkms/attestkms/"

// goList runs go list in the repository root and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

// TestLayering holds the architecture docs/architecture.md describes, so
// that it cannot slip unnoticed: what ships to the enclave, what kms may
// know of evidence, and what the dialects may import.
func TestLayering(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	// Nothing of the server's dialects and no test signer in the enclave.
	for _, p := range goList(t, "-deps", "./enclave/...", "./cmd/enclavetool") {
		if strings.HasPrefix(p, module+"api") || regexp.MustCompile(`/(nitrotest|snptest|tpmtest|attesttest)$`).MatchString(p) {
			t.Errorf("the enclave side depends on %s", p)
		}
	}
	// kms knows no evidence format.
	for _, p := range goList(t, "-deps", "./kms/...") {
		if regexp.MustCompile(`/attest/(nitro|snp|tpm|envelope)`).MatchString(p) {
			t.Errorf("kms depends on %s", p)
		}
	}
	formatField := regexp.MustCompile(`\.(SNP|TPM|PCRs|ModuleID|Digest)\b|attest\.Format(Nitro|Qingtian|SEVSNP|TPM2)\b`)
	files, _ := filepath.Glob("../kms/*.go")
	more, _ := filepath.Glob("../kms/*/*.go")
	for _, f := range append(files, more...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := formatField.Find(b); m != nil {
			t.Errorf("%s reads a format's claims: %s", f, m)
		}
	}
	// Only the bbolt store imports bbolt: kms and the store's interface know
	// no implementation's types (kms imports the bolt and postgres packages
	// only to open their stores, in open.go).
	for _, line := range goList(t, "-f", `{{.ImportPath}}|{{join .Imports ","}}`, "./...") {
		pkg, imports, _ := strings.Cut(line, "|")
		for _, imp := range strings.Split(imports, ",") {
			if strings.HasPrefix(imp, "go.etcd.io/bbolt") && pkg != module+"kms/internal/store/bolt" {
				t.Errorf("%s imports %s: only kms/internal/store/bolt may", pkg, imp)
			}
			// Likewise PostgreSQL's driver: the store, and the tests' helper.
			if strings.HasPrefix(imp, "github.com/jackc/") && pkg != module+"kms/internal/store/postgres" && pkg != module+"internal/pgtest" {
				t.Errorf("%s imports %s: only kms/internal/store/postgres (and internal/pgtest) may", pkg, imp)
			}
		}
	}
	for _, line := range goList(t, "-deps", "-f", `{{.ImportPath}}`, "./kms/internal/store") {
		if strings.HasPrefix(line, "go.etcd.io/bbolt") || strings.HasPrefix(line, "github.com/jackc/") || strings.HasPrefix(line, module+"kms/internal/store/") {
			t.Errorf("kms/internal/store depends on %s: the interface knows no implementation", line)
		}
	}
	// The dialects import kms, their own signature package and api/internal;
	// the signature packages the shared verifier and signer, and the
	// allocation-free HMAC (internal/hmacsha256).
	for _, line := range goList(t, "-f", `{{.ImportPath}}|{{join .Imports ","}}`, "./api/...") {
		pkg, imports, _ := strings.Cut(line, "|")
		pkg = strings.TrimPrefix(pkg, module)
		for _, imp := range strings.Split(imports, ",") {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			imp = strings.TrimPrefix(imp, module)
			ok := imp == "kms" && !strings.HasSuffix(pkg, "sigv4") && !strings.HasSuffix(pkg, "tc3") && !strings.HasSuffix(pkg, "sdkhmac") ||
				strings.HasPrefix(imp, "api/internal/") ||
				imp == "internal/httpsig" ||
				imp == "internal/hmacsha256" && (strings.HasSuffix(pkg, "tc3") || strings.HasSuffix(pkg, "sdkhmac")) || // their HMAC
				imp == "internal/sigv4" && pkg == "api/aws/sigv4" ||
				imp == "api/aws/sigv4" && pkg == "api/admin" || // the admin API is signed as KMS requests are
				imp == "kms/audit" && pkg == "api/internal/pipeline" ||
				imp == "internal/sourceaddr" && pkg == "api/internal/pipeline" || // one source grouping with serve's connection limit
				strings.HasPrefix(imp, pkg+"/") || // a dialect's own signature package
				pkg == "api" && (imp == "api/aws" || imp == "api/huawei" || imp == "api/tencent" || imp == "api/admin")
			if !ok {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
}
