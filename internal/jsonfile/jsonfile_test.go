package jsonfile

import (
	"strings"
	"testing"
	"time"
)

type result struct {
	Run *struct {
		Records  int           `json:"records"`
		Interval time.Duration `json:"interval_ns"`
		Tags     []string      `json:"tags"`
	} `json:"run"`
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, json, want string
	}{
		{"empty", "  \n", "the file is empty"},
		{"cut short", "{\"run\": {\n  \"records\": 5,", `line 2, column 16: the JSON ends early`},
		{"syntax", "{\"run\": {\n  \"records\": 5,}}", `line 2, column 16: invalid character '}'`},
		{"type", "{\"run\": {\n  \"records\": \"x\"}}", `line 2, column 14: run.records: must be a whole number, not a string`},
		{"duration", "{\"run\": {\"interval_ns\": \"1s\"}}", `line 1, column 25: run.interval_ns: must be a duration in nanoseconds (a whole number), not a string`},
		{"list", "{\"run\": {\"tags\": {}}}", `run.tags: must be a list [...], not an object`},
		{"document", "[1]", `line 1, column 1: must be an object {...}, not an array`},
		{"unknown field", "{\"run\": {\n \"recrods\": 1}}", `line 2, column 2: recrods: unknown field`},
		{"trailing", "{} {}", "line 1, column 4: unexpected data after the JSON value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r result
			err := Decode([]byte(tc.json), &r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			for _, bad := range []string{"json:", "Go ", "int64", "jsonfile."} {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("got %q, which shows Go internals (%q)", err, bad)
				}
			}
		})
	}
}

func TestFind(t *testing.T) {
	data := []byte("{\"faults\": [\n  {\"a\": 1},\n  {\"trigger\": {\"at\": \"soon\"}}\n]}")
	off, ok := Find(data, "faults", "1", "trigger", "at")
	if !ok {
		t.Fatal("not found")
	}
	if line, col := Position(data, off); line != 3 || col != 22 {
		t.Errorf("got line %d column %d, want 3 and 22", line, col)
	}
	if _, ok := Find(data, "faults", "2"); ok {
		t.Error("found faults[2], which does not exist")
	}
}
