package client_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collab-editor/collab/client"
	"github.com/collab-editor/collab/internal/server"
)

// TestPublicAPISpeaksItsOwnTypes: no exported declaration of the package
// names a type of an internal package (outside the module, nobody could
// name it).
func TestPublicAPISpeaksItsOwnTypes(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	imports := 0 // of internal packages: the files the test looks into
	for _, f := range pkgs["client"].Files {
		internal := map[string]bool{}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(path, "/internal/") {
				name := filepath.Base(path)
				if imp.Name != nil {
					name = imp.Name.Name
				}
				internal[name] = true
				imports++
			}
		}
		uses := func(where string, n ast.Node) {
			if n == nil {
				return
			}
			ast.Inspect(n, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if id, ok := sel.X.(*ast.Ident); ok && internal[id.Name] {
						found = append(found, where+" "+id.Name+"."+sel.Sel.Name)
					}
				}
				return true
			})
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				where := d.Name.Name
				if d.Recv != nil {
					recv := d.Recv.List[0].Type
					if s, ok := recv.(*ast.StarExpr); ok {
						recv = s.X
					}
					if !recv.(*ast.Ident).IsExported() {
						continue
					}
					where = recv.(*ast.Ident).Name + "." + where
				}
				uses(where, d.Type)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, fld := range st.Fields.List {
								if len(fld.Names) == 0 || fld.Names[0].IsExported() {
									uses(s.Name.Name, fld.Type)
								}
							}
							continue
						}
						uses(s.Name.Name, s.Type)
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								uses(n.Name, s.Type)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(found)
	found = slices.Compact(found)
	for _, f := range found {
		t.Errorf("the exported API names an internal type: %s", f)
	}
	if imports == 0 {
		t.Error("no file imports an internal package: is the test still looking?")
	}
}

// TestAnotherModuleUsesTheClient builds testdata/outside, a program of
// another module, and runs it against a real server with someone else
// present: it inserts, deletes, applies a whole operation, sets its cursor,
// reads the other's, and uses app events and data. The other sees its
// edits, its cursor and its event.
func TestAnotherModuleUsesTheClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("testdata", "outside", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	mod := "module example.com/outside\n\ngo 1.26\n\nrequire github.com/collab-editor/collab v0.0.0\n\nreplace github.com/collab-editor/collab => " + root + "\n"
	for name, data := range map[string][]byte{"main.go": src, "go.sum": sum, "go.mod": []byte(mod)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "outside")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building a program of another module: %v\n%s", err, out)
	}

	base, doc, _ := serve(t, server.Config{}) // the document holds "e"
	events := newInbox()
	var mu sync.Mutex
	var remotes []client.Remote
	peer := dial(t, client.Config{URL: base, Doc: doc, Name: "peer", OnEvent: events.event, OnRemote: func(r client.Remote) {
		mu.Lock()
		remotes = append(remotes, r)
		mu.Unlock()
	}})
	if !peer.SetCursor([]client.Range{{Anchor: 0, Head: 0}}) {
		t.Fatal("the peer's cursor was not sent")
	}
	run := exec.Command(bin)
	run.Env = append(os.Environ(), "COLLAB_URL="+base, "COLLAB_DOC="+doc)
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("running the program of another module: %v\n%s", err, out)
	}
	t.Logf("outside:\n%s", out)
	for _, want := range []string{
		"text: \"hello, world\" at revision ",
		"cursor: peer at 0..0\n",
		"delivered to 1\n",
		`data: {"role":"bot"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the program's output lacks %q", want)
		}
	}

	// The program's edits were acknowledged before it ended: the peer
	// gets them soon, as one to three operations (edits made while one
	// is in flight are sent together).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := peer.WaitUntil(ctx, func() bool { return peer.Text() == "hello, world" }); err != nil {
		t.Fatalf("the peer's text: %q (%v)", peer.Text(), err)
	}
	mu.Lock()
	text := "e"
	for _, r := range remotes {
		if text, err = r.Op.Apply(text); err != nil {
			t.Fatalf("the peer's remote operation %s: %v", r.Op, err)
		}
	}
	mu.Unlock()
	if text != "hello, world" {
		t.Errorf("the peer's remote operations make %q", text)
	}
	if e := events.wait(t, 1); e[0].Name != "hello" || string(e[0].Data) != `{"from":"outside"}` {
		t.Errorf("the peer's event: %+v", e[0])
	}
}
