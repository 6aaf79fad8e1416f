package client

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// grandfathered are the places where the client's API named a type of
// collab's internal packages before it spoke its own types; nothing may
// be added to them.
var grandfathered = []string{
	"Client.Edit ot.Operation",
	"Client.EditFunc ot.Operation",
	"Client.SetCursor presence.Range",
	"Cursor presence.Range",
	"Cursor presence.User",
	"Remote ot.Operation",
}

// TestPublicAPISpeaksItsOwnTypes: no exported declaration of the package
// names a type of an internal package (outside the module, nobody could
// name it), except the grandfathered ones.
func TestPublicAPISpeaksItsOwnTypes(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
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
		if !slices.Contains(grandfathered, f) {
			t.Errorf("the exported API names an internal type: %s", f)
		}
	}
	if len(found) == 0 {
		t.Error("found no use of internal types at all: is the test still looking?")
	}
}

// TestAnotherModuleBuildsWithTheClient builds testdata/outside, a program
// of another module that uses app events and app data.
func TestAnotherModuleBuildsWithTheClient(t *testing.T) {
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
	cmd := exec.Command(gobin, "build", "-o", os.DevNull, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building a program of another module: %v\n%s", err, out)
	}
}
