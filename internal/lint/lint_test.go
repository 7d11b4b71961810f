package lint

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// allow exempts one file from one rule. The key is the module-relative file
// path and the rule, "engine/live_clock.go:time"; the value says why the
// exemption cannot leak nondeterminism into a run. Prefer fixing the code or
// annotating a map range with "// lint:sorted <reason>"; an entry here is for
// a whole file that genuinely needs the exemption. TestDeterminism fails on
// entries with no reason, an unknown rule, or nothing left to exempt.
var allow = map[string]string{}

// inScope reports whether the determinism rules apply to the package at
// importPath: everything under engine/ and sim/ except the live runner and
// testdata.
func inScope(importPath string) bool {
	rel, ok := strings.CutPrefix(importPath, modulePath+"/")
	if !ok {
		return false
	}
	if rel != "engine" && rel != "sim" && !strings.HasPrefix(rel, "engine/") && !strings.HasPrefix(rel, "sim/") {
		return false
	}
	return !strings.Contains("/"+rel+"/", "/live/") && !strings.Contains(rel, "testdata")
}

// TestDeterminism enforces that engine/ and sim/ depend only on their inputs:
// no goroutines, select, wall clock, global randomness or unsorted map
// iteration. See the package comment.
func TestDeterminism(t *testing.T) {
	requireGo(t)
	root := moduleRoot(t)

	// A cheap listing first, so `go list -export` builds only what the
	// packages in scope need (not engine/live's Kafka client, say).
	var targets []string
	for _, p := range goList(t, root, "./engine/...", "./sim/...") {
		if inScope(p.ImportPath) {
			targets = append(targets, p.ImportPath)
		}
	}
	if len(targets) == 0 {
		t.Skip("no packages under engine/ or sim/ yet")
	}
	pkgs := goList(t, root, append([]string{"-export", "-deps"}, targets...)...)
	fset := token.NewFileSet()
	imp := gcImporter(fset, pkgs)

	var findings, unfiltered []finding
	var checked []string
	for _, p := range pkgs {
		if p.DepOnly || !inScope(p.ImportPath) {
			continue
		}
		names := append(slices.Clone(p.GoFiles), p.CgoFiles...)
		if len(names) == 0 {
			t.Logf("%s: no non-test Go files; skipped", p.ImportPath)
			continue
		}
		files, err := parseFiles(fset, root, p.Dir, names)
		if err != nil {
			t.Errorf("%s: %v", p.ImportPath, err)
			continue
		}
		info, errs := typeCheck(fset, imp, p.ImportPath, files)
		if len(errs) > 0 {
			var msgs []string
			for _, err := range errs {
				msgs = append(msgs, err.Error())
			}
			t.Errorf("%s does not type-check, so the determinism lint cannot see it:\n\t%s",
				p.ImportPath, strings.Join(msgs, "\n\t"))
			continue
		}
		findings = append(findings, analyze(fset, files, info, allow)...)
		unfiltered = append(unfiltered, analyze(fset, files, info, nil)...)
		checked = append(checked, p.ImportPath)
	}
	sortFindings(findings)
	t.Logf("checked %d package(s): %s", len(checked), strings.Join(checked, " "))

	for _, f := range findings {
		t.Errorf("%s", f)
	}
	if len(findings) > 0 {
		t.Errorf("%d determinism violation(s). Fix: take time and randomness from what the driver injects, "+
			"return work to the driver instead of starting goroutines, sort map keys before ranging (then mark "+
			"the loop // lint:sorted <reason> on its line or the line above). Last resort: add "+
			`"file.go:rule": "why" to allow in internal/lint/lint_test.go.`, len(findings))
	}
	for _, problem := range checkAllow(allow, unfiltered) {
		t.Error(problem)
	}
}

// checkAllow returns what is wrong with the allowlist given every finding it
// could exempt: missing reasons, unknown rules, and stale entries.
func checkAllow(allow map[string]string, all []finding) []string {
	used := map[string]bool{}
	for _, f := range all {
		used[f.File+":"+f.Rule] = true
	}
	var problems []string
	for key, why := range allow { // lint:sorted problems are sorted below
		i := strings.LastIndex(key, ":")
		switch {
		case i < 0 || !rules[key[i+1:]]:
			problems = append(problems, fmt.Sprintf("allow[%q]: key must be \"file.go:rule\" with rule one of go, select, time, rand, maprange", key))
		case strings.TrimSpace(why) == "":
			problems = append(problems, fmt.Sprintf("allow[%q]: say why the exemption is safe", key))
		case !used[key]:
			problems = append(problems, fmt.Sprintf("allow[%q]: exempts nothing any more; remove it", key))
		}
	}
	sort.Strings(problems)
	return problems
}

// loadTestdata parses and type-checks internal/lint/testdata/src/<name> for
// each name, importing the standard library through `go list -export`.
func loadTestdata(t *testing.T, names ...string) (*token.FileSet, map[string][]*ast.File, map[string]*types.Info) {
	t.Helper()
	requireGo(t)
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := map[string][]*ast.File{}
	var imports []string
	for _, name := range names {
		dir, err := filepath.Abs(filepath.Join("testdata", "src", name))
		if err != nil {
			t.Fatal(err)
		}
		srcs, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(srcs) == 0 {
			t.Fatalf("testdata/src/%s: no Go files (%v)", name, err)
		}
		for i := range srcs {
			srcs[i] = filepath.Base(srcs[i])
		}
		parsed, err := parseFiles(fset, root, dir, srcs)
		if err != nil {
			t.Fatalf("testdata/src/%s: %v", name, err)
		}
		files[name] = parsed
		imports = append(imports, importsOf(parsed)...)
	}
	imp := gcImporter(fset, goList(t, root, append([]string{"-export", "-deps"}, imports...)...))
	infos := map[string]*types.Info{}
	for _, name := range names {
		info, errs := typeCheck(fset, imp, "testdata/"+name, files[name])
		if len(errs) > 0 {
			t.Fatalf("testdata/src/%s does not type-check: %v", name, errs)
		}
		infos[name] = info
	}
	return fset, files, infos
}

// TestLintCatchesViolations proves the analyzer can fail: testdata/src/bad
// plants each violation once, and testdata/src/good must come back clean.
func TestLintCatchesViolations(t *testing.T) {
	fset, files, infos := loadTestdata(t, "bad", "good")

	const bad = "internal/lint/testdata/src/bad/"
	want := []string{
		bad + "clock.go:7: time",
		bad + "clock.go:9: time",
		bad + "clock.go:11: time",
		bad + "dotclock.go:7: time",
		bad + "goroutine.go:9: go",
		bad + "goroutine.go:11: select",
		bad + "maps.go:14: maprange", // no annotation
		bad + "maps.go:25: maprange", // lint:sorted with no reason
		bad + "maps.go:28: maprange", // maps.Keys
		bad + "maps.go:40: maprange", // type parameter ~map[K]V
		bad + "random.go:13: rand",
		bad + "random.go:14: rand",
		bad + "random.go:15: rand",
		bad + "random.go:16: rand",
	}
	hits := func(fs []finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Rule))
		}
		sort.Strings(out)
		return out
	}
	sort.Strings(want)
	got := analyze(fset, files["bad"], infos["bad"], nil)
	if g := hits(got); !slices.Equal(g, want) {
		t.Errorf("bad: got hits\n\t%s\nwant\n\t%s", strings.Join(g, "\n\t"), strings.Join(want, "\n\t"))
	}
	for rule := range rules { // lint:sorted only checks membership
		if !slices.ContainsFunc(got, func(f finding) bool { return f.Rule == rule }) {
			t.Errorf("bad: rule %s never fired", rule)
		}
	}

	// An allowlist entry exempts exactly its file and rule.
	exempt := map[string]string{bad + "clock.go:time": "test"}
	var wantAllowed []string
	for _, w := range want {
		if !strings.HasPrefix(w, bad+"clock.go:") {
			wantAllowed = append(wantAllowed, w)
		}
	}
	if g := hits(analyze(fset, files["bad"], infos["bad"], exempt)); !slices.Equal(g, wantAllowed) {
		t.Errorf("bad with allow %v: got hits\n\t%s\nwant\n\t%s", exempt, strings.Join(g, "\n\t"), strings.Join(wantAllowed, "\n\t"))
	}
	if p := checkAllow(map[string]string{bad + "clock.go:time": "", "x.go:clock": "why", "y.go:go": "why"}, got); len(p) != 3 {
		t.Errorf("checkAllow: got %d problems, want 3 (empty reason, unknown rule, stale):\n\t%s", len(p), strings.Join(p, "\n\t"))
	}

	if got := analyze(fset, files["good"], infos["good"], nil); len(got) > 0 {
		t.Errorf("good: got %d findings, want none:\n\t%s", len(got), strings.Join(hits(got), "\n\t"))
	}
}

// pkg is one package and its transitive dependencies, as `go list -deps`
// reports them.
type pkg struct {
	ImportPath string
	Deps       []string
}

// A boundary forbids packages under from (module-relative, subpackages
// included, except those under except) to depend on anything under to.
type boundary struct {
	from, except, to, why string
}

// boundaries is the layering of DESIGN.md's Layout table.
var boundaries = []boundary{
	{from: "checkers", to: "sim", why: "checkers read recorded histories, not worlds"},
	{from: "faults", to: "checkers", why: "faults are data and injectors; judging is the checkers' job"},
	{from: "engine", except: "engine/live", to: "sim", why: "the engine is driven by the simulator and must not know it"},
	{from: "sim", to: "engine/live", why: "the live runner must not be needed by the simulator"},
	{from: "sim", to: "checkers", why: "the simulator records histories; the verdicts are built outside it (scenarios.Judge)"},
}

// under reports whether importPath is the module package rel or below it.
func under(importPath, rel string) bool {
	p := modulePath + "/" + rel
	return importPath == p || strings.HasPrefix(importPath, p+"/")
}

// boundaryViolations returns, sorted, every dependency that crosses one of
// boundaries.
func boundaryViolations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, b := range boundaries {
			if !under(p.ImportPath, b.from) || (b.except != "" && under(p.ImportPath, b.except)) {
				continue
			}
			for _, d := range p.Deps {
				if under(d, b.to) {
					out = append(out, fmt.Sprintf("%s depends on %s: %s", p.ImportPath, d, b.why))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// goFilesUnder returns the Go files anywhere below dir; none if dir is absent.
func goFilesUnder(dir string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == dir {
				return filepath.SkipDir
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") {
			found = append(found, path)
		}
		return nil
	})
	return found, err
}

// TestImportBoundaries enforces the package layering of DESIGN.md. Packages
// that do not exist yet have no dependencies and pass.
func TestImportBoundaries(t *testing.T) {
	requireGo(t)
	root := moduleRoot(t)
	var pkgs []pkg
	for _, p := range goList(t, root, "-deps", "./...") {
		if p.ImportPath == modulePath || strings.HasPrefix(p.ImportPath, modulePath+"/") {
			pkgs = append(pkgs, pkg{ImportPath: p.ImportPath, Deps: p.Deps})
		}
	}
	for _, v := range boundaryViolations(pkgs) {
		t.Error(v)
	}
	found, err := goFilesUnder(filepath.Join(root, "results"))
	if err != nil {
		t.Fatalf("walking results/: %v", err)
	}
	for _, f := range found {
		if rel, err := filepath.Rel(root, f); err == nil {
			f = filepath.ToSlash(rel)
		}
		t.Errorf("%s: results/ holds data only; move the code into a package", f)
	}
}

// TestBoundaryViolations checks the boundary function on a synthetic
// dependency list, so a boundary check that never fires is caught.
func TestBoundaryViolations(t *testing.T) {
	m := func(rel string) string { return modulePath + "/" + rel }
	pkgs := []pkg{
		{m("checkers"), []string{"fmt"}},
		{m("checkers/exactlyonce"), []string{"fmt", m("sim/clock")}},
		{m("checkersx"), []string{m("sim")}}, // a sibling, not a subpackage
		{m("faults"), []string{m("checkers")}},
		{m("engine/task"), []string{m("sim")}},
		{m("engine/live"), []string{m("sim")}},
		{m("engine/livewire"), []string{m("sim")}}, // not engine/live
		{m("sim"), []string{m("engine/live/runner")}},
		{m("sim/cluster"), []string{m("internal/judge"), m("checkers")}}, // through internal/judge
		{m("scenarios"), []string{m("sim"), m("checkers"), m("engine"), m("faults")}},
	}
	want := []string{
		m("checkers/exactlyonce") + " depends on " + m("sim/clock"),
		m("engine/livewire") + " depends on " + m("sim"),
		m("engine/task") + " depends on " + m("sim"),
		m("faults") + " depends on " + m("checkers"),
		m("sim") + " depends on " + m("engine/live/runner"),
		m("sim/cluster") + " depends on " + m("checkers"),
	}
	var got []string
	for _, v := range boundaryViolations(pkgs) {
		got = append(got, v[:strings.Index(v, ":")])
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}

	dir := t.TempDir()
	if found, err := goFilesUnder(filepath.Join(dir, "results")); err != nil || len(found) != 0 {
		t.Errorf("absent results/: got %v, %v; want nothing", found, err)
	}
	sub := filepath.Join(dir, "results", "plots")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "gen.go"), []byte("package plots\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if found, err := goFilesUnder(filepath.Join(dir, "results")); err != nil || len(found) != 1 {
		t.Errorf("results/ with a Go file: got %v, %v; want one file", found, err)
	}
}
