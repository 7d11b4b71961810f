package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func execute(args ...string) (string, int) {
	root := NewRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	code := 0
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
			out.WriteString(ee.msg)
		} else {
			code = exitUsage
			out.WriteString(err.Error())
		}
	}
	return out.String(), code
}

func TestRunSmoke(t *testing.T) {
	out, code := execute("run", "smoke-copier", "--seed", "3", "--check-determinism")
	if code != exitOK {
		t.Fatalf("got exit %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{"seed 3", "timeline", "exactly-once", "determinism", "verdict: OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "nope"}, `unknown scenario "nope"`},
		{[]string{"run"}, "expected a scenario name"},
		{[]string{"run", "smoke-copier", "--seed", "x"}, "invalid argument"},
		{[]string{"frobnicate"}, "unknown command"},
	} {
		out, code := execute(tc.args...)
		if code != exitUsage || !strings.Contains(out, tc.want) {
			t.Errorf("%v: got exit %d and %q, want exit 2 and %q", tc.args, code, out, tc.want)
		}
	}
}

func TestList(t *testing.T) {
	out, code := execute("list")
	if code != 0 || !strings.Contains(out, "smoke-copier") {
		t.Fatalf("got exit %d:\n%s", code, out)
	}
}
