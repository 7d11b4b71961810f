package invoke

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildString(t *testing.T) {
	for _, tc := range []struct {
		b    Build
		want string
	}{
		{Build{GoVersion: "go1.26.8"}, "devel (no VCS revision stamped: go run, go test and -buildvcs=false builds carry none) go1.26.8"},
		{Build{Revision: "0123456789abcdef", Time: "2026-12-01T10:00:00Z", GoVersion: "go1.26.8"}, "devel (revision 0123456789ab, 2026-12-01T10:00:00Z) go1.26.8"},
		{Build{Revision: "0123456789abcdef", Modified: true, GoVersion: "go1.26.8"}, "devel (revision 0123456789ab+dirty) go1.26.8"},
		{Build{Version: "v1.2.0", GoVersion: "go1.26.8"}, "v1.2.0 (no VCS revision stamped: go run, go test and -buildvcs=false builds carry none) go1.26.8"},
		{Build{Version: "v0.0.0-20261201100000-0123456789ab", Revision: "0123456789abcdef", Time: "2026-12-01T10:00:00Z", GoVersion: "go1.26.8"},
			"v0.0.0-20261201100000-0123456789ab (2026-12-01T10:00:00Z) go1.26.8"},
	} {
		if got := tc.b.String(); got != tc.want {
			t.Errorf("%+v:\ngot  %s\nwant %s", tc.b, got, tc.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/tmp/a-b/c.d":              "/tmp/a-b/c.d",
		"chaosrun-failures/a-seed1": "chaosrun-failures/a-seed1",
		"/tmp/with space":           "'/tmp/with space'",
		"it's":                      `'it'\''s'`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestModuleRoot(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, ok := ModuleRoot(wd)
	if want := filepath.Dir(filepath.Dir(wd)); !ok || root != want {
		t.Errorf("ModuleRoot(%s) = %s, %v; want %s", wd, root, ok, want)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if root, ok := ModuleRoot(filepath.Join(other)); ok {
		t.Errorf("ModuleRoot of another module: got %s", root)
	}
}

// TestCommandFromACheckout: a test binary is a temporary build, so the
// command is go run -C from the checkout this test runs in.
func TestCommandFromACheckout(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !temporaryBuild(exe) {
		t.Skipf("test binary %s is not in the temporary build directory (go test -o?)", exe)
	}
	wd, _ := os.Getwd()
	root, _ := ModuleRoot(wd)
	if got, want := Command("chaosrun"), "go run -C "+Quote(root)+" ./cmd/chaosrun"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	t.Chdir(t.TempDir())
	if got := Command("chaosrun"); !strings.HasPrefix(got, "go run ") || strings.Contains(got, " -C ") {
		t.Errorf("outside a checkout: got %s, want a go run of the module or of ./cmd/chaosrun", got)
	}
}

// TestTemporaryBuild: go run's binaries, in the temporary build directory
// or the build cache, are not paths to print; an installed one is.
func TestTemporaryBuild(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("GOCACHE", cache)
	for exe, want := range map[string]bool{
		filepath.Join(os.TempDir(), "go-build2073791345", "b001", "exe", "chaosrun"): true,
		filepath.Join(cache, "55", "555d7d41e0-d", "chaosrun"):                       true,
		"/root/go/bin/chaosrun": false,
		filepath.Join(filepath.Dir(cache), "elsewhere", "chaosrun"): false,
	} {
		if got := temporaryBuild(exe); got != want {
			t.Errorf("temporaryBuild(%s) = %v, want %v", exe, got, want)
		}
	}
}
