package target

import (
	"context"
	"strings"
	"testing"
)

func TestParseOracleOutput(t *testing.T) {
	got, err := ParseOracleOutput([]byte("{\"key\":\"a\",\"value\":\"1\"}\n\n  {\"value\":\"2\",\"key\":\"b\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (OutputRecord{"a", "1"}) || got[1] != (OutputRecord{"b", "2"}) {
		t.Fatalf("got %+v", got)
	}
	for _, tc := range []struct{ out, err string }{
		{"a,1\n", `oracle output line 1: not a JSON object`},
		{"{\"key\":\"a\",\"value\":\"1\"}\n{\"key\":\"a\",\"value\":1}\n", `oracle output line 2: field "value" must be a string, got 1`},
		{"{\"key\":\"a\",\"value\":\"1\",\"partition\":\"0\"}\n", `line 1: unknown field "partition" (want key and value)`},
		{"{\"key\":\"a\"}\n", `oracle output line 1: no "value" field`},
	} {
		if _, err := ParseOracleOutput([]byte(tc.out)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseOracleOutput(%q): got %v, want an error containing %q", tc.out, err, tc.err)
		}
	}
}

// TestRunOracle runs a shell oracle over the protocol: it echoes each
// input line's key and value with the value upper-cased by tr.
func TestRunOracle(t *testing.T) {
	in := []InputRecord{{0, 0, "a", "x1"}, {1, 4, "b", "y2"}}
	script := `sed -e 's/.*"key":"\([^"]*\)","value":"\([^"]*\)".*/{"key":"\1","value":"\2"}/' | tr a-z A-Z | sed -e 's/"KEY"/"key"/; s/"VALUE"/"value"/'`
	got, err := RunOracle(context.Background(), []string{"sh", "-c", script}, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []OutputRecord{{"A", "X1"}, {"B", "Y2"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	e, err := Contract{Kind: Oracle, Oracle: []string{"sh", "-c", script}}.Expect(context.Background(), in)
	if err != nil || len(e.Expected) != 2 {
		t.Fatalf("Expect: %v %+v", err, e)
	}
	if _, err := RunOracle(context.Background(), []string{"sh", "-c", "echo broken >&2; exit 3"}, in); err == nil || !strings.Contains(err.Error(), "exit status 3; its stderr: broken") {
		t.Errorf("failing oracle: got %v", err)
	}
	if _, err := RunOracle(context.Background(), []string{"/nonexistent/oracle"}, in); err == nil {
		t.Error("missing oracle: no error")
	}
}
