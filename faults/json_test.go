package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/example-plan.json from examplePlan")

func TestRoundTripEveryKind(t *testing.T) {
	for _, f := range examplePlan().Faults {
		t.Run(string(f.Action.Kind), func(t *testing.T) {
			in := Plan{Faults: []Fault{f}}
			data := in.JSON()
			out, err := Parse(data, 3)
			if err != nil {
				t.Fatalf("Parse(%s) = %v", data, err)
			}
			if !reflect.DeepEqual(out, in) {
				t.Errorf("got %#v, want %#v\njson: %s", out, in, data)
			}
			// Through encoding/json too, as a value inside a larger document.
			var again Plan
			if err := json.Unmarshal(data, &again); err != nil || !reflect.DeepEqual(again, in) {
				t.Errorf("json.Unmarshal: got %#v, %v; want %#v", again, err, in)
			}
		})
	}
}

func TestRoundTripOddValues(t *testing.T) {
	odd := 1*time.Hour + 2*time.Minute + 3*time.Second + 4*time.Nanosecond
	in := Plan{Faults: []Fault{
		{Trigger: At(0), Action: Action{Kind: KillWorker, Worker: "w0", Duration: odd}},
		{Trigger: At(odd), Action: Action{Kind: StorageSlow, Extra: 1, Duration: 1<<62 + 1}},
		{Trigger: After("InitProducerID", 1000), Action: Action{Kind: RestartBroker}},
	}}
	out, err := Parse(in.JSON(), 1)
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("got %v, want %v", out, in)
	}
	if *out.Faults[0].Trigger.At != 0 {
		t.Errorf("at 0s read back as %v, want 0", *out.Faults[0].Trigger.At)
	}
}

func TestJSONForm(t *testing.T) {
	p := Plan{Faults: []Fault{{Trigger: At(150 * time.Millisecond), Action: Action{Kind: KillWorker, Worker: "w1", Duration: 200 * time.Millisecond}}}}
	var compact bytes.Buffer
	if err := json.Compact(&compact, p.JSON()); err != nil {
		t.Fatal(err)
	}
	want := `{"faults":[{"trigger":{"at":"150ms"},"action":{"kind":"kill-worker","worker":"w1","duration":"200ms"}}]}`
	if got := compact.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, want := string(Plan{}.JSON()), "{\n  \"faults\": []\n}\n"; got != want {
		t.Errorf("empty plan: got %q, want %q", got, want)
	}
}

// heapExamplePlan is examplePlan without the faults that need state
// files (pebble): one fault of every other kind, for the scenarios whose
// state is on the heap. It is testdata/example-heap-plan.json.
func heapExamplePlan() Plan {
	var p Plan
	for _, f := range examplePlan().Faults {
		if f.Action.Kind != DiskReadError && f.Action.Kind != DeleteCheckpointFile {
			p.Faults = append(p.Faults, f)
		}
	}
	return p
}

func TestExamplePlanFile(t *testing.T) {
	for path, want := range map[string]Plan{
		"testdata/example-plan.json":      examplePlan(),
		"testdata/example-heap-plan.json": heapExamplePlan(),
	} {
		checkExamplePlanFile(t, path, want)
	}
}

func checkExamplePlanFile(t *testing.T, path string, want Plan) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, want.JSON(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data, 3)
	if err != nil {
		t.Fatalf("Parse(%s) = %v", path, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got\n%v\nwant\n%v", path, got, want)
	}
	if !bytes.Equal(data, want.JSON()) {
		t.Errorf("%s is not examplePlan().JSON(); run go test ./faults -run ExamplePlanFile -update", path)
	}
	if _, err := Parse(data, 2); err == nil {
		t.Errorf("Parse(%s, 2 workers) = nil error, want w2 rejected", path)
	}
}

func TestParseRejects(t *testing.T) {
	wrap := func(fault string) string { return `{"faults":[` + fault + `]}` }
	tests := []struct {
		name  string
		json  string
		fault int
		field string
		msg   string
	}{
		{"unknown kind", wrap(`{"trigger":{"at":"1s"},"action":{"kind":"explode"}}`), 0, "action.kind", `unknown kind "explode"`},
		{"unknown phase", wrap(`{"trigger":{"phase":{"checkpoint":1,"phase":"done"}},"action":{"kind":"restart-broker"}}`), 0, "trigger.phase.phase", `unknown phase "done"`},
		{"worker out of range", wrap(`{"name":"kill sink","trigger":{"at":"1s"},"action":{"kind":"kill-worker","worker":"w3"}}`), 0, "action.worker", `fault 0 ("kill sink"): action.worker: "w3" does not exist (workers: w0..w2)`},
		{"negative duration", wrap(`{"trigger":{"at":"1s"},"action":{"kind":"isolate","worker":"w0","duration":"-5ms"}}`), 0, "action.duration", "-5ms is negative"},
		{"unknown field in action", wrap(`{"name":"typo","trigger":{"at":"1s"},"action":{"kind":"kill-worker","wroker":"w1"}}`), 0, "action.wroker", `fault 0 ("typo"): action.wroker: unknown field`},
		{"unknown field in fault", wrap(`{"trigger":{"at":"1s"},"action":{"kind":"restart-broker"},"when":"now"}`), 0, "when", "when: unknown field"},
		{"unknown field in phase", wrap(`{"trigger":{"phase":{"checkpoint":1,"phase":"aligned","tsak":"w0"}},"action":{"kind":"restart-broker"}}`), 0, "trigger.phase.tsak", "unknown field"},
		{"unknown field in plan", `{"fautls":[]}`, -1, "fautls", "plan: fautls: unknown field"},
		{"two triggers", wrap(`{"trigger":{"at":"1s","after_requests":{"kind":"EndTxn","count":1}},"action":{"kind":"restart-broker"}}`), 0, "trigger", "at, after_requests set at once"},
		{"missing trigger", wrap(`{"action":{"kind":"restart-broker"}}`), 0, "trigger", "none set"},
		{"null trigger", wrap(`{"trigger":null,"action":{"kind":"restart-broker"}}`), 0, "trigger", "none set"},
		{"unknown Kafka error", wrap(`{"trigger":{"at":"1s"},"action":{"kind":"kafka-error","request":"EndTxn","error":"OOPS","count":1}}`), 0, "action.error", `unknown Kafka error "OOPS"`},
		{"count < 0", wrap(`{"trigger":{"at":"1s"},"action":{"kind":"storage-write-fail","count":-2}}`), 0, "action.count", "-2 is negative"},
		{"count of the wrong type", wrap(`{"trigger":{"at":"1s"},"action":{"kind":"storage-write-fail","count":"2"}}`), 0, "action.count", "must be a whole number, not a string"},
		{"duration as number", wrap(`{"trigger":{"at":150},"action":{"kind":"restart-broker"}}`), 0, "trigger.at", `must be a duration such as "1.5s" or "150ms", not a number`},
		{"duration misspelt", wrap(`{"trigger":{"at":"150 ms"},"action":{"kind":"restart-broker"}}`), 0, "trigger.at", `"150 ms" is not a duration`},
		{"second fault", wrap(`{"trigger":{"at":"1s"},"action":{"kind":"restart-broker"}},{"trigger":{"at":"1s"},"action":{"kind":"pause-worker"}}`), 1, "action.worker", "fault 1: action.worker: missing"},
		{"trailing data", `{"faults":[]} {}`, -1, "", "line 1, column 15: plan: unexpected data after the JSON value"},
		{"not JSON", `{"faults":[`, -1, "", "line 1, column 12: plan: the JSON ends early"},
		{"empty", ``, -1, "", "plan: the file is empty"},
		{"faults not a list", `{"faults":{}}`, -1, "faults", "plan: faults: must be a list [...], not an object"},
		{"a list, not a plan", `[]`, -1, "", "plan: must be an object {...}, not an array"},
		{"checkpoint of the wrong type", wrap(`{"trigger":{"phase":{"checkpoint":"one","phase":"aligned"}},"action":{"kind":"restart-broker"}}`), 0, "trigger.phase.checkpoint", "must be a whole number, not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json), 3)
			if err == nil {
				t.Fatalf("Parse = nil error, want one at %s", tt.field)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want a *FieldError", err)
			}
			if fe.Fault != tt.fault || fe.Field != tt.field {
				t.Errorf("got fault %d field %q, want fault %d field %q (error: %v)", fe.Fault, fe.Field, tt.fault, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}

// TestParseErrorPositions: Parse says where in the file each problem is:
// the field, or the fault around a field that is missing.
func TestParseErrorPositions(t *testing.T) {
	data := []byte(`{"faults": [
  {"trigger": {"at": "1s"}, "action": {"kind": "restart-broker"}},
  {"trigger": {"at": "soon"},
   "action": {"kind": "kill-worker", "worker": "w7"}},
  {"action": {"kind": "restart-broker"}}
]}
`)
	_, err := Parse(data, 3)
	if err == nil {
		t.Fatal("Parse = nil error, want three problems")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		`line 3, column 22: fault 1: trigger.at: "soon" is not a duration such as "1.5s" or "150ms"`,
	}
	if len(got) != 1 || got[0] != want[0] {
		t.Fatalf("decoding: got %q, want %q", got, want)
	}
	data = []byte(strings.Replace(string(data), `"soon"`, `"2s"`, 1))
	_, err = Parse(data, 3)
	got = strings.Split(fmt.Sprint(err), "\n")
	want = []string{
		`line 4, column 48: fault 1: action.worker: "w7" does not exist (workers: w0..w2)`,
		`line 5, column 3: fault 2: trigger: none set (want one of at, phase, after_requests)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("validating: got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestUnmarshalPartsStrict(t *testing.T) {
	var a Action
	if err := json.Unmarshal([]byte(`{"kind":"kill-worker","wroker":"w1"}`), &a); err == nil || !strings.Contains(err.Error(), `wroker: unknown field`) {
		t.Errorf("Action: got %v, want an unknown field error naming wroker", err)
	}
	var tr Trigger
	if err := json.Unmarshal([]byte(`{"after_requests":{"kind":"EndTxn","cnt":2}}`), &tr); err == nil || !strings.Contains(err.Error(), `after_requests.cnt: unknown field`) {
		t.Errorf("Trigger: got %v, want an unknown field error naming after_requests.cnt", err)
	}
}

// TestParseDeleteCheckpointFile: a storage fault typed by hand reads back as
// the action it spells, and a path that leaves checkpoint storage is an
// error naming the fault and the field.
func TestParseDeleteCheckpointFile(t *testing.T) {
	p, err := Parse([]byte(`{"faults": [{"trigger": {"phase": {"checkpoint": 4, "phase": "metadata-written"}},
		"action": {"kind": "delete-checkpoint-file", "object": "latest-shared"}}]}`), 3)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Faults[0].Action, (Action{Kind: DeleteCheckpointFile, Object: LatestShared}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	_, err = Parse([]byte(`{"faults": [{"trigger": {"at": "1s"}, "action": {"kind": "delete-checkpoint-file", "object": "/etc/passwd"}}]}`), 3)
	if want := `fault 0: action.object: "/etc/passwd" is not a file path in checkpoint storage`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error containing %q", err, want)
	}
}
