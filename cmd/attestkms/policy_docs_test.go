package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms"
)

// The documents whose example policies must pass policy lint, relative to
// the repository root (tests run in cmd/attestkms).
const repoRoot = "../.."

var (
	// jsonFence opens a JSON code block: ```json or ~~~json, maybe indented.
	jsonFence = regexp.MustCompile("^\\s*(`{3,}|~{3,})\\s*json\\b")
	// lintSkip, within the 3 lines before a block's opening fence, exempts a
	// deliberately bad example; it must say why.
	lintSkip = regexp.MustCompile(`<!--\s*lint:\s*skip\s*\(\s*[^)\s][^)]*\)\s*-->`)
	// identityMark, within the 3 lines before a block's opening fence, says
	// the block is an identity policy (credential create --policy): it must
	// parse as one, and is not linted as a key policy.
	identityMark = regexp.MustCompile(`<!--\s*identity policy\s*-->`)
)

// docPolicy is a JSON code block of a Markdown file that holds a policy.
type docPolicy struct {
	where    string // file:line of the opening fence
	text     string
	skip     bool
	identity bool
}

// docPolicies returns the JSON code blocks of a Markdown document whose text
// contains "Statement".
func docPolicies(t *testing.T, path string) []docPolicy {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var out []docPolicy
	for i := 0; i < len(lines); i++ {
		m := jsonFence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		fence := m[1]
		start := i
		var body []string
		for i++; i < len(lines); i++ {
			if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, fence) && strings.Trim(l, fence[:1]) == "" {
				break
			}
			body = append(body, lines[i])
		}
		if i == len(lines) {
			t.Errorf("%s:%d: a JSON code block that is never closed", path, start+1)
		}
		text := strings.Join(body, "\n")
		if !strings.Contains(text, `"Statement"`) {
			continue
		}
		skip, identity := false, false
		for j := max(0, start-3); j < start; j++ {
			if lintSkip.MatchString(lines[j]) {
				skip = true
			}
			if identityMark.MatchString(lines[j]) {
				identity = true
			}
		}
		out = append(out, docPolicy{where: filepath.ToSlash(path) + ":" + strconv.Itoa(start+1), text: text, skip: skip, identity: identity})
	}
	return out
}

// TestDocumentedPoliciesLintClean: every example policy in README.md and
// docs/*.md passes policy lint with no finding, unless marked
// <!-- lint: skip (reason) --> as a deliberately bad example; one marked
// <!-- identity policy --> parses as an identity policy.
func TestDocumentedPoliciesLintClean(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append([]string{filepath.Join(repoRoot, "README.md")}, docs...)
	checked := map[string]int{}
	for _, doc := range docs {
		for _, p := range docPolicies(t, doc) {
			if p.skip {
				continue
			}
			checked[doc]++
			if p.identity {
				if err := kms.CheckIdentityPolicy(p.text); err != nil {
					t.Errorf("%s: identity policy: %v", p.where, err)
				}
				continue
			}
			for _, f := range kms.LintPolicy(p.text) {
				t.Errorf("%s: policy lint: %s", p.where, f)
			}
		}
	}
	// Not vacuous: the README's enclave-only and SEV-SNP policies at least.
	if n := checked[filepath.Join(repoRoot, "README.md")]; n < 2 {
		t.Fatalf("found %d policies in README.md, want at least 2", n)
	}
}

// TestDocPoliciesFinder: the finder sees policies in JSON blocks only, and
// honours a skip comment within 3 lines of the fence, with a reason.
func TestDocPoliciesFinder(t *testing.T) {
	md := strings.Join([]string{
		"# doc",
		"```json",
		`{"Version":"2012-10-17","Statement":[]}`,
		"```",
		"<!-- lint: skip (a bad example) -->",
		"",
		"```json",
		`{"Statement":"skipped"}`,
		"```",
		"<!-- lint: skip () -->",
		"```json",
		`{"Statement":"no reason, not skipped"}`,
		"```",
		"```sh",
		`echo '{"Statement":[]}'`,
		"```",
		"````json",
		"```",
		`{"Statement":"longer fence"}`,
		"````",
		"```json",
		`{"Version":"2012-10-17"}`,
		"```",
		"<!-- identity policy -->",
		"```json",
		`{"Statement":"an identity policy"}`,
		"```",
	}, "\n")
	path := filepath.Join(t.TempDir(), "doc.md")
	if err := os.WriteFile(path, []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	got := docPolicies(t, path)
	want := []struct {
		line string
		skip bool
	}{{":2", false}, {":7", true}, {":11", false}, {":17", false}, {":25", false}}
	if len(got) != len(want) {
		t.Fatalf("found %d policies, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if !strings.HasSuffix(got[i].where, w.line) || got[i].skip != w.skip {
			t.Errorf("policy %d: %s skip=%v; want line %s skip=%v", i, got[i].where, got[i].skip, w.line, w.skip)
		}
	}
	if !got[4].identity || got[3].identity {
		t.Error("the identity policy mark is not seen, or seen where it is not")
	}
	if !strings.Contains(got[3].text, "```\n") {
		t.Errorf("the longer fence's block was cut at a shorter fence: %q", got[3].text)
	}
}
