package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const modulePath = "github.com/onceproof/onceproof"

// listPkg is the part of `go list -json` output the lint uses.
type listPkg struct {
	ImportPath string
	Dir        string
	Export     string
	GoFiles    []string
	CgoFiles   []string
	Deps       []string
	DepOnly    bool
}

// requireGo skips t when the go command is missing: the lint finds packages
// and export data through `go list`.
func requireGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not on PATH; the lint needs `go list` to find packages and export data")
	}
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("finding module root: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("finding module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// goList runs `go list -e -json args...` in dir. With -e, packages that do
// not load or compile come back with Error set rather than failing the call.
func goList(t *testing.T, dir string, args ...string) []listPkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-e", "-json"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var pkgs []listPkg
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listPkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list %s: %v", strings.Join(args, " "), err)
		}
		pkgs = append(pkgs, p)
	}
	if runErr != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), runErr, stderr.String())
	}
	return pkgs
}

// gcImporter imports packages from the export data `go list -export` built,
// so the lint needs nothing outside the standard library.
func gcImporter(fset *token.FileSet, pkgs []listPkg) types.Importer {
	exports := map[string]string{}
	for _, p := range pkgs {
		if p.Export != "" {
			exports[p.ImportPath] = p.Export
		}
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %q (go list -export could not build it)", path)
		}
		return os.Open(f)
	})
}

// parseFiles parses dir's files, naming each by its module-relative,
// slash-separated path so findings and allowlist keys are stable.
func parseFiles(fset *token.FileSet, root, dir string, names []string) ([]*ast.File, error) {
	var files []*ast.File
	for _, name := range names {
		abs := filepath.Join(dir, name)
		rel, err := filepath.Rel(root, abs)
		if err != nil {
			return nil, fmt.Errorf("naming %s: %w", abs, err)
		}
		src, err := os.ReadFile(abs)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", abs, err)
		}
		f, err := parser.ParseFile(fset, filepath.ToSlash(rel), src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parsing: %w", err)
		}
		files = append(files, f)
	}
	return files, nil
}

// typeCheck type-checks one package from source. It keeps going after the
// first error and returns them all: a package with type errors is a package
// the lint cannot fully see, which the caller must treat as a failure.
func typeCheck(fset *token.FileSet, imp types.Importer, path string, files []*ast.File) (*types.Info, []error) {
	var errs []error
	conf := types.Config{
		Importer:    imp,
		Sizes:       types.SizesFor("gc", runtime.GOARCH),
		FakeImportC: true,
		Error:       func(err error) { errs = append(errs, err) },
	}
	info := &types.Info{
		Types: map[ast.Expr]types.TypeAndValue{},
		Uses:  map[*ast.Ident]types.Object{},
		Defs:  map[*ast.Ident]types.Object{},
	}
	conf.Check(path, fset, files, info) // errors arrive through conf.Error
	return info, errs
}

// importsOf returns the distinct import paths of files, in order of appearance.
func importsOf(files []*ast.File) []string {
	seen := map[string]bool{}
	var paths []string
	for _, f := range files {
		for _, spec := range f.Imports {
			p := strings.Trim(spec.Path.Value, `"`)
			if p != "C" && p != "unsafe" && !seen[p] {
				seen[p] = true
				paths = append(paths, p)
			}
		}
	}
	return paths
}
