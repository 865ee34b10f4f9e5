package kms

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms/audit"
)

func TestInitRefusesInitialisedDir(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, dbFile))
	_, _, err := Init(Options{DataDir: dir})
	wantKind(t, err, ErrAlreadyInitialised)
	after, _ := os.ReadFile(filepath.Join(dir, dbFile))
	if !bytes.Equal(before, after) {
		t.Fatal("a refused init changed the store")
	}
	for _, f := range []string{dbFile, rootKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v; want 0700", fi.Mode().Perm())
	}
}

func TestOpenRefusesWrongRootKey(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.key")
	if _, err := createRootKey(other); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{DataDir: dir, RootKeyFile: other})
	wantKind(t, err, ErrRootKeyMismatch)

	os.Chmod(filepath.Join(dir, rootKeyFile), 0o644)
	if _, err := Open(Options{DataDir: dir}); err == nil {
		t.Fatal("opened a store whose root key file is world-readable")
	}
}

func TestOpenRefusesSecondProcess(t *testing.T) {
	s, _ := newTestService(t)
	_, err := Open(s.opts)
	wantKind(t, err, ErrStoreInUse)
}

func TestAuditLog(t *testing.T) {
	s, _ := newTestService(t)
	if err := s.AuditLog().Write(&audit.Record{RequestID: "r1", Dialect: "aws", Operation: "Encrypt", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(s.opts.DataDir, auditFile))
	if !bytes.Contains(b, []byte(`"request_id":"r1"`)) || !bytes.HasSuffix(b, []byte("}\n")) {
		t.Fatalf("audit log %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(s.opts.DataDir, auditFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit log mode %v", fi.Mode().Perm())
	}
}

// TestOperationShape: every method of Service but its plumbing is an
// operation of one shape, Op(ctx, *Call, *OpRequest) (*OpResponse, error);
// an answer that names a key names it both ways (KeyID and KeyARN, never an
// ARN in KeyID); a request that pages (Limit, Marker) gets its page's
// NextMarker in the answer.
func TestOperationShape(t *testing.T) {
	ctxType := reflect.TypeFor[context.Context]()
	callType := reflect.TypeFor[*Call]()
	errType := reflect.TypeFor[error]()
	st := reflect.TypeFor[*Service]()
	ops := 0
	for i := 0; i < st.NumMethod(); i++ {
		m := st.Method(i)
		if servicePlumbing[m.Name] {
			continue
		}
		ops++
		ft := m.Type // the receiver is In(0)
		if ft.NumIn() != 4 || ft.In(1) != ctxType || ft.In(2) != callType || ft.NumOut() != 2 || ft.Out(1) != errType {
			t.Errorf("Service.%s is %v; want func(context.Context, *Call, *%sRequest) (*%sResponse, error)", m.Name, ft, m.Name, m.Name)
			continue
		}
		req, resp := ft.In(3), ft.Out(0)
		if req.Kind() != reflect.Pointer || req.Elem().Name() != m.Name+"Request" || resp.Kind() != reflect.Pointer || resp.Elem().Name() != m.Name+"Response" {
			t.Errorf("Service.%s takes %v and answers %v; want *%sRequest and *%sResponse", m.Name, req, resp, m.Name, m.Name)
			continue
		}
		_, id := resp.Elem().FieldByName("KeyID")
		_, arn := resp.Elem().FieldByName("KeyARN")
		if id != arn {
			t.Errorf("%v names a key by KeyID %v, KeyARN %v: it must carry both", resp.Elem(), id, arn)
		}
		_, limit := req.Elem().FieldByName("Limit")
		_, marker := req.Elem().FieldByName("Marker")
		_, next := resp.Elem().FieldByName("NextMarker")
		if limit != marker || marker != next {
			t.Errorf("%v pages (Limit %v, Marker %v) but %v has NextMarker %v", req.Elem(), limit, marker, resp.Elem(), next)
		}
	}
	if ops == 0 {
		t.Fatal("no operations")
	}
}

// TestEveryOperationHasTestsAndABenchmark: each operation's file op.go has
// an op_test.go beside it holding BenchmarkOp.
func TestEveryOperationHasTestsAndABenchmark(t *testing.T) {
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	defined := map[string]string{} // operation -> file
	benchmarks := map[string]string{}
	for _, path := range paths {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if name, ok := strings.CutPrefix(fd.Name.Name, "Benchmark"); ok && fd.Recv == nil {
				benchmarks[name] = path
			}
			if fd.Recv == nil || len(fd.Recv.List) != 1 || !fd.Name.IsExported() || strings.HasSuffix(path, "_test.go") {
				continue
			}
			if star, ok := fd.Recv.List[0].Type.(*ast.StarExpr); ok {
				if id, ok := star.X.(*ast.Ident); ok && id.Name == "Service" {
					defined[fd.Name.Name] = path
				}
			}
		}
	}
	n := 0
	for op, file := range defined {
		if servicePlumbing[op] {
			continue
		}
		n++
		want := strings.TrimSuffix(file, ".go") + "_test.go"
		if got, ok := benchmarks[op]; !ok || got != want {
			t.Errorf("%s (%s): Benchmark%s is in %q; want it in %s", op, file, op, got, want)
		}
	}
	if want := reflect.TypeFor[*Service]().NumMethod() - len(servicePlumbing); n != want {
		t.Errorf("found %d operations in the source, reflection sees %d", n, want)
	}
}
