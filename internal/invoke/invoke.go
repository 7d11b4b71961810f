// Package invoke says how to run one of onceproof's commands again, and
// what build is running: the reproduce lines of failure bundles and the
// --version of the CLIs come from here.
//
// A reproduce line must work when pasted in any directory of the machine
// that printed it, whether the command ran as an installed binary or with
// "go run" from a checkout; a line that only works from the repository's
// root is a trap for the person it is meant to help.
package invoke

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
)

// Module is onceproof's module path.
const Module = "github.com/onceproof/onceproof"

// Command returns the shell words that run onceproof's command name
// ("chaosrun" or "bench") from any directory of this machine, in the
// first of these forms that applies:
//
//   - the running binary, by its absolute path, when it is that command
//     built or installed (not a "go run" build, which lives in the
//     temporary build directory or the build cache);
//   - "go run -C ROOT ./cmd/NAME", when the working directory is inside a
//     checkout of onceproof (ROOT), as with "go run ./cmd/NAME" there;
//   - "go run github.com/onceproof/onceproof/cmd/NAME@V", when the build
//     knows its module version or VCS revision V;
//   - "go run ./cmd/NAME", to be run from a checkout's root.
func Command(name string) string {
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		base := strings.TrimSuffix(filepath.Base(exe), ".exe")
		if base == name && !temporaryBuild(exe) {
			return Quote(exe)
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if root, ok := ModuleRoot(wd); ok {
			return "go run -C " + Quote(root) + " ./cmd/" + name
		}
	}
	// A build of a modified tree has no version that "go run" can fetch.
	if b := Read(); !b.Modified {
		switch {
		case b.Version != "":
			return "go run " + Module + "/cmd/" + name + "@" + b.Version
		case b.Revision != "":
			return "go run " + Module + "/cmd/" + name + "@" + b.Revision
		}
	}
	return "go run ./cmd/" + name
}

// temporaryBuild reports whether exe is a binary that "go run" or "go
// test" built: linked into the temporary build directory, or (since Go
// 1.24, for "go run") kept in the build cache, which "go clean -cache" and
// the cache's own trimming delete.
func temporaryBuild(exe string) bool {
	tmp := os.TempDir()
	if v := os.Getenv("GOTMPDIR"); v != "" {
		tmp = v
	}
	if rel, err := filepath.Rel(tmp, exe); err == nil && strings.HasPrefix(rel, "go-build") {
		return true
	}
	cache := os.Getenv("GOCACHE")
	if cache == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(dir, "go-build")
		}
	}
	if cache == "" || cache == "off" {
		return false
	}
	rel, err := filepath.Rel(cache, exe)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// ModuleRoot returns the directory at or above dir whose go.mod declares
// onceproof's module.
func ModuleRoot(dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		if moduleOf(filepath.Join(dir, "go.mod")) == Module {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// moduleOf returns the module path a go.mod declares, or "".
func moduleOf(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// Build is what the running binary knows of the code it was built from.
type Build struct {
	// Version is the module version of a "go install MODULE@VERSION"
	// build; empty for a build from a checkout ("(devel)").
	Version string
	// Revision, Time and Modified are the VCS stamps of a build from a
	// checkout ("go build", "go install ./..."); "go run", "go test" and
	// -buildvcs=false builds have none.
	Revision string
	Time     string
	Modified bool
	// GoVersion is the toolchain that built it.
	GoVersion string
}

// Read returns the running binary's build.
func Read() Build {
	b := Build{GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		b.Version = v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the build in one line, as --version prints it:
// "v1.2.0 (revision 0123456789ab, 2026-12-01T10:00:00Z) go1.26.8",
// "devel (revision 0123456789ab+dirty, ...) go1.26.8", or "devel (no VCS
// revision stamped: go run, go test and -buildvcs=false builds carry none)
// go1.26.8".
func (b Build) String() string {
	v := b.Version
	if v == "" {
		v = "devel"
	}
	if b.Revision == "" {
		return fmt.Sprintf("%s (no VCS revision stamped: go run, go test and -buildvcs=false builds carry none) %s", v, b.GoVersion)
	}
	rev := b.Revision
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if b.Modified {
		rev += "+dirty"
	}
	// A pseudo-version (v0.0.0-TIME-REVISION) names the revision itself.
	what := "revision " + rev
	if strings.Contains(v, rev) {
		what = ""
	}
	if b.Time != "" {
		what = strings.TrimPrefix(what+", "+b.Time, ", ")
	}
	if what == "" {
		return v + " " + b.GoVersion
	}
	return fmt.Sprintf("%s (%s) %s", v, what, b.GoVersion)
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:=+@%-]+$`)

// Quote quotes s for a POSIX shell when it needs it.
func Quote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
