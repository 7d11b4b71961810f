// Package badinputtest holds what the CLIs' bad-input tables share: a case,
// the check that a message names the problem in the user's terms (no Go
// internals), and docs/bad-input.md, which lists every case with the
// message it gets and which the tables keep up to date.
package badinputtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Case is one bad input given to a command.
type Case struct {
	// What is wrong, in a few words, for the doc.
	What string
	// Args are the command's arguments.
	Args []string
	// Want is a part of the message that names the problem.
	Want string
	// Code is the exit code wanted: 0 means 2 (bad usage or input).
	Code int
}

// WantCode is the exit code c wants.
func (c Case) WantCode() int {
	if c.Code == 0 {
		return 2
	}
	return c.Code
}

// Internals are what a message for a user must not show: Go's parser and
// decoder errors, Go type and package names, pointers.
var Internals = []string{"strconv.", "json: cannot", "json: unknown", "Go struct", "Go value", "faults.", "scenarios.", "bench.",
	"*", "invalid syntax", "pflag", "%!", "[]", "int64", "uint64", "float64", "time.Duration", "RawMessage"}

// Chdir makes a temporary directory holding files (a name, which may have
// directories in it, to its content) the working directory for the rest of
// t, so that the cases can name them relative to it.
func Chdir(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
}

// Result is a case with what the command did.
type Result struct {
	Case
	Code    int
	Message string
}

// Check reports, on t, every way r falls short of its case: the exit
// code, the message naming the problem, Go internals in it, and (for bad
// usage) more than one line.
func Check(t *testing.T, prog string, r Result) {
	t.Helper()
	cmd := prog + " " + strings.Join(r.Args, " ")
	if r.Code != r.WantCode() || !strings.Contains(r.Message, r.Want) {
		t.Errorf("%s: got exit %d and %q, want exit %d and %q", cmd, r.Code, r.Message, r.WantCode(), r.Want)
	}
	for _, bad := range Internals {
		if strings.Contains(r.Message, bad) {
			t.Errorf("%s: the message shows Go internals (%q): %s", cmd, bad, r.Message)
		}
	}
	if r.WantCode() == 2 && strings.Contains(r.Message, "\n") {
		t.Errorf("%s: got several lines, want one:\n%s", cmd, r.Message)
	}
}

// Section renders the doc's section for prog: every case, its command,
// exit code and message.
func Section(prog string, rs []Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| | what is wrong | command | exit | message |\n|---|---|---|---|---|\n")
	for i, r := range rs {
		fmt.Fprintf(&b, "| %d | %s | %s | %d | %s |\n", i+1, cell(r.What, false), cell(prog+" "+quoteArgs(r.Args), true), r.Code, cell(r.Message, true))
	}
	return b.String()
}

func quoteArgs(args []string) string {
	var out []string
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " ,\"'") {
			a = "'" + a + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// cell escapes s for a Markdown table cell, as code when code is set.
func cell(s string, code bool) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
	s = strings.ReplaceAll(s, "|", `\|`)
	if code {
		return "`` " + s + " ``"
	}
	return s
}

// CheckDoc checks that the section of prog in the doc at path is body
// (between the markers "<!-- begin prog -->" and "<!-- end prog -->"); with
// update, it rewrites the section instead.
func CheckDoc(t *testing.T, path, prog, body string, update bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- begin "+prog+" -->\n", "<!-- end "+prog+" -->"
	i, j := strings.Index(string(data), begin), strings.Index(string(data), end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q and %q", path, strings.TrimSpace(begin), end)
	}
	got := string(data[i+len(begin) : j])
	if got == body {
		return
	}
	if update {
		out := string(data[:i+len(begin)]) + body + string(data[j:])
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the %s section is out of date with the table; run go test ./cmd/%s -run TestBadInputTable -update", path, prog, prog)
}
