package lint

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"regexp"
	"sort"
	"strings"
)

// The rules TestDeterminism enforces. An allowlist key is "file:rule".
const (
	ruleGo       = "go"       // go statements
	ruleSelect   = "select"   // select statements
	ruleTime     = "time"     // wall-clock functions of package time
	ruleRand     = "rand"     // the global source of math/rand, math/rand/v2
	ruleMapRange = "maprange" // ranging over a map without lint:sorted
)

var rules = map[string]bool{ruleGo: true, ruleSelect: true, ruleTime: true, ruleRand: true, ruleMapRange: true}

// wallClock lists the package-level functions of package time that read or
// wait on the wall clock. Types, constants and methods (Time.After,
// Duration.Seconds) are deterministic and allowed.
var wallClock = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
	"AfterFunc": true, "Tick": true, "NewTimer": true, "NewTicker": true,
}

// randConstructors are the package-level functions of math/rand and
// math/rand/v2 that build a seeded source instead of drawing from the global
// one. Every other package-level function draws from the global source.
var randConstructors = map[string]bool{
	"New": true, "NewPCG": true, "NewChaCha8": true, "NewSource": true, "NewZipf": true,
}

// unorderedIters are the functions of package maps whose iterators yield in
// map order: ranging over them is ranging over the map.
var unorderedIters = map[string]bool{"All": true, "Keys": true, "Values": true}

// sortedAnnotation is the escape hatch for a map range whose order cannot
// leak (the keys are sorted afterwards, or the body is commutative). It must
// say why.
var sortedAnnotation = regexp.MustCompile(`lint:sorted:?\s+\S`)

// A finding is one rule violation. File is module-relative and
// slash-separated, as the files were parsed.
type finding struct {
	File   string
	Line   int
	Col    int
	Rule   string
	Detail string
}

func (f finding) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Rule, f.Detail)
}

// analyze reports every determinism violation in files, which must have been
// type-checked into info (Types and Uses are needed). A finding whose
// "file:rule" key is in allow is dropped. Findings come back sorted.
func analyze(fset *token.FileSet, files []*ast.File, info *types.Info, allow map[string]string) []finding {
	var out []finding
	report := func(pos token.Pos, rule, format string, args ...any) {
		p := fset.Position(pos)
		if _, ok := allow[p.Filename+":"+rule]; ok {
			return
		}
		out = append(out, finding{File: p.Filename, Line: p.Line, Col: p.Column, Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	for _, f := range files {
		annotated, bare := sortedLines(fset, f)
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				report(n.Go, ruleGo, "go statement: the deterministic core runs on its driver's goroutine; return work to the driver instead")
			case *ast.SelectStmt:
				report(n.Select, ruleSelect, "select statement: the runtime picks among ready cases at random")
			case *ast.Ident:
				fn, ok := info.Uses[n].(*types.Func)
				if !ok || fn.Pkg() == nil || fn.Type().(*types.Signature).Recv() != nil {
					return true // not a package-level function
				}
				fn = fn.Origin()
				switch path := fn.Pkg().Path(); {
				case path == "time" && wallClock[fn.Name()]:
					report(n.Pos(), ruleTime, "time.%s uses the wall clock; take time from the injected clock", fn.Name())
				case (path == "math/rand" || path == "math/rand/v2") && !randConstructors[fn.Name()]:
					report(n.Pos(), ruleRand, "%s.%s draws from the global random source; use the seeded *rand.Rand passed in", path, fn.Name())
				}
			case *ast.RangeStmt:
				what := unorderedRange(info, n.X)
				if what == "" {
					return true
				}
				line := fset.Position(n.For).Line
				switch {
				case annotated[line] || annotated[line-1]:
				case bare[line] || bare[line-1]:
					report(n.For, ruleMapRange, "lint:sorted annotation on range over %s needs a reason: // lint:sorted <why order cannot leak>", what)
				default:
					report(n.For, ruleMapRange, "range over %s iterates in random order; sort the keys first, or annotate // lint:sorted <reason>", what)
				}
			}
			return true
		})
	}
	sortFindings(out)
	return out
}

// sortFindings orders findings by file, line, column and rule.
func sortFindings(fs []finding) {
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Rule < b.Rule
	})
}

// sortedLines returns the lines of f that carry a lint:sorted comment with a
// reason (annotated) and without one (bare).
func sortedLines(fset *token.FileSet, f *ast.File) (annotated, bare map[int]bool) {
	annotated, bare = map[int]bool{}, map[int]bool{}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			line := fset.Position(c.Slash).Line
			switch {
			case sortedAnnotation.MatchString(c.Text):
				annotated[line] = true
			case strings.Contains(c.Text, "lint:sorted"):
				bare[line] = true
			}
		}
	}
	return annotated, bare
}

// unorderedRange describes x if ranging over it yields in map order: a value
// whose type is (or, for a type parameter, may be) a map, or a call to
// maps.All, maps.Keys or maps.Values. Otherwise it returns "".
func unorderedRange(info *types.Info, x ast.Expr) string {
	qual := func(p *types.Package) string { return p.Name() }
	if t := info.TypeOf(x); t != nil && mayBeMap(t, 0) {
		return "map type " + types.TypeString(t, qual)
	}
	call, ok := ast.Unparen(x).(*ast.CallExpr)
	if !ok {
		return ""
	}
	fun := ast.Unparen(call.Fun)
	switch f := fun.(type) { // strip an explicit instantiation
	case *ast.IndexExpr:
		fun = f.X
	case *ast.IndexListExpr:
		fun = f.X
	}
	var id *ast.Ident
	switch f := fun.(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		id = f.Sel
	}
	if fn, ok := info.Uses[id].(*types.Func); ok && fn.Pkg() != nil && fn.Pkg().Path() == "maps" && unorderedIters[fn.Name()] {
		return "maps." + fn.Name() + "(...)"
	}
	return ""
}

// mayBeMap reports whether t's underlying type is a map, or t is a type
// parameter whose constraint admits a map.
func mayBeMap(t types.Type, depth int) bool {
	if depth > 10 {
		return false
	}
	if _, ok := t.Underlying().(*types.Map); ok {
		return true
	}
	var iface *types.Interface
	switch t := t.(type) {
	case *types.TypeParam:
		iface, _ = t.Constraint().Underlying().(*types.Interface)
	case *types.Interface:
		iface = t
	}
	if iface == nil {
		return false
	}
	for i := range iface.NumEmbeddeds() {
		switch e := iface.EmbeddedType(i).(type) {
		case *types.Union:
			for j := range e.Len() {
				if mayBeMap(e.Term(j).Type(), depth+1) {
					return true
				}
			}
		default:
			if mayBeMap(e.Underlying(), depth+1) {
				return true
			}
		}
	}
	return false
}
