package main

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/internal/badinputtest"
)

var update = flag.Bool("update", false, "rewrite docs/bad-input.md's chaosrun section from the table")

// badInputFiles are the files the cases read, by name, written to the
// test's directory (the cases run there, so that messages name them as a
// user would have typed them).
var badInputFiles = map[string]string{
	"plan.json":         `{"faults": []}`,
	"empty.json":        "",
	"truncated.json":    `{"faults": [`,
	"syntax.json":       "{\"faults\": [\n  {\"trigger\": {\"at\": \"1s\"},\n   \"action\": {\"kind\": \"kill-worker\", \"worker\": \"w1\",}}\n]}\n",
	"list.json":         `[{"trigger": {"at": "1s"}, "action": {"kind": "restart-broker"}}]`,
	"at-number.json":    "{\"faults\": [\n  {\"trigger\": {\"at\": 1500},\n   \"action\": {\"kind\": \"restart-broker\"}}\n]}\n",
	"at-soon.json":      "{\"faults\": [\n  {\"trigger\": {\"at\": \"soon\"},\n   \"action\": {\"kind\": \"restart-broker\"}}\n]}\n",
	"typo.json":         `{"faults": [{"trigger": {"at": "1s"}, "action": {"kind": "kill-worker", "worker": "w1", "durration": "5ms"}}]}`,
	"count.json":        `{"faults": [{"trigger": {"at": "1s"}, "action": {"kind": "storage-write-fail", "count": "two"}}]}`,
	"w5.json":           "{\"faults\": [\n  {\"trigger\": {\"at\": \"1s\"},\n   \"action\": {\"kind\": \"kill-worker\", \"worker\": \"w5\"}}\n]}\n",
	"task-w9.json":      `{"faults": [{"trigger": {"phase": {"checkpoint": 1, "phase": "aligned", "task": "w9"}}, "action": {"kind": "restart-broker"}}]}`,
	"kind.json":         `{"faults": [{"trigger": {"at": "1s"}, "action": {"kind": "explode"}}]}`,
	"phase.json":        `{"faults": [{"trigger": {"phase": {"checkpoint": 1, "phase": "done"}}, "action": {"kind": "restart-broker"}}]}`,
	"trailing.json":     `{"faults": []} {"faults": []}`,
	"notbundle/x.txt":   "x",
	"cut/run.json":      `{"format": 1, "scenario": "count-crash-before-commit",`,
	"unknown/run.json":  `{"format": 1, "scenario": "nope", "seed": 1, "digest": "00112233445566778899aabbccddeeff", "plan": {"faults": []}, "plan_source": "scenario"}`,
	"nodigest/run.json": `{"format": 1, "scenario": "count-crash-before-commit", "seed": 1, "plan": {"faults": []}, "plan_source": "scenario"}`,
	"plandir/.keep":     "",
	"sched-kind.json":   `{"seed": 1, "faults": [{"at": "1s", "kind": "explode"}]}`,
	"sched-inst.json":   `{"seed": 1, "faults": [{"at": "1s", "kind": "kill", "instance": 7}]}`,
	"sched-cut.json":    `{"seed": 1, "faults": [`,
	"input-bad.jsonl":   "{\"key\": \"k\", \"value\": \"v\"}\n{\"key\": \"k\"}\n",
}

// badInputs is every bad input chaosrun is tested with, in the order of
// docs/bad-input.md. Merging sweep summaries, --shard and interruption are
// covered by the sweep and merge tests.
var badInputs = []badinputtest.Case{
	{What: "unknown scenario", Args: []string{"run", "nope"}, Want: `unknown scenario "nope" (known: coordinator-crash-after-metadata,`},
	{What: "no scenario", Args: []string{"run"}, Want: "expected a scenario name (see chaosrun list), got 0 arguments"},
	{What: "two scenarios", Args: []string{"run", "smoke-copier", "count-crash-before-commit"}, Want: "expected a scenario name (see chaosrun list), got 2 arguments"},
	{What: "unknown command", Args: []string{"frobnicate"}, Want: `unknown command "frobnicate"`},
	{What: "unknown flag", Args: []string{"run", "smoke-copier", "--bogus"}, Want: "unknown flag: --bogus"},
	{What: "seed not a number", Args: []string{"run", "smoke-copier", "--seed", "x"}, Want: `--seed "x" is not a number (want a whole number, 0 or more)`},
	{What: "negative seed", Args: []string{"run", "smoke-copier", "--seed", "-1"}, Want: `--seed "-1" is not a number`},
	{What: "seed without a value", Args: []string{"run", "smoke-copier", "--seed"}, Want: "--seed needs a value: a number"},
	{What: "unknown mutant", Args: []string{"run", "count-crash-before-commit", "--mutant", "nope"}, Want: `--mutant: unknown mutant "nope" (known: abort-drops-precommitted, ack-before-durable,`},
	{What: "a mutant for the smoke scenario", Args: []string{"run", "smoke-copier", "--mutant", "no-recover-commit"}, Want: "takes no fault plan and no mutant"},
	{What: "a fault plan for the smoke scenario", Args: []string{"run", "smoke-copier", "--faults", "plan.json"}, Want: "--faults: scenario smoke-copier draws its own faults and takes no fault plan"},
	{What: "missing plan file", Args: []string{"run", "count-crash-before-commit", "--faults", "absent.json"}, Want: "--faults absent.json: no such file"},
	{What: "plan is a directory", Args: []string{"run", "count-crash-before-commit", "--faults", "plandir"}, Want: "--faults plandir is a directory, not a file"},
	{What: "empty plan file", Args: []string{"run", "count-crash-before-commit", "--faults", "empty.json"}, Want: "plan: the file is empty (want a JSON object)"},
	{What: "plan cut short", Args: []string{"run", "count-crash-before-commit", "--faults", "truncated.json"}, Want: "line 1, column 13: plan: the JSON ends early"},
	{What: "plan with a syntax error", Args: []string{"run", "count-crash-before-commit", "--faults", "syntax.json"}, Want: "line 3, column 53: plan: invalid character '}'"},
	{What: "plan is a list, not an object", Args: []string{"run", "count-crash-before-commit", "--faults", "list.json"}, Want: "line 1, column 1: plan: must be an object {...}, not an array"},
	{What: "time trigger as a number", Args: []string{"run", "count-crash-before-commit", "--faults", "at-number.json"}, Want: `line 2, column 22: fault 0: trigger.at: must be a duration such as "1.5s" or "150ms", not a number`},
	{What: "time trigger not a duration", Args: []string{"run", "count-crash-before-commit", "--faults", "at-soon.json"}, Want: `line 2, column 22: fault 0: trigger.at: "soon" is not a duration such as "1.5s"`},
	{What: "misspelt field", Args: []string{"run", "count-crash-before-commit", "--faults", "typo.json"}, Want: "fault 0: action.durration: unknown field"},
	{What: "count of the wrong type", Args: []string{"run", "count-crash-before-commit", "--faults", "count.json"}, Want: "fault 0: action.count: must be a whole number, not a string"},
	{What: "worker the scenario lacks", Args: []string{"run", "count-crash-before-commit", "--faults", "w5.json"}, Want: `(scenario count-crash-before-commit): line 3, column 48: fault 0: action.worker: "w5" does not exist (workers: w0..w2)`},
	{What: "worker the swarm scenario lacks", Args: []string{"run", "swarm-copier", "--faults", "w5.json"}, Want: `(scenario swarm-copier): line 3, column 48: fault 0: action.worker: "w5" does not exist (workers: w0..w2)`},
	{What: "phase trigger on a worker the scenario lacks", Args: []string{"run", "count-crash-before-commit", "--faults", "task-w9.json"}, Want: `trigger.phase.task: worker "w9" does not exist (workers: w0..w2)`},
	{What: "unknown fault kind", Args: []string{"run", "count-crash-before-commit", "--faults", "kind.json"}, Want: `action.kind: unknown kind "explode" (want one of kill-worker,`},
	{What: "unknown checkpoint phase", Args: []string{"run", "count-crash-before-commit", "--faults", "phase.json"}, Want: `trigger.phase.phase: unknown phase "done" (want one of triggered,`},
	{What: "data after the plan", Args: []string{"run", "count-crash-before-commit", "--faults", "trailing.json"}, Want: "line 1, column 16: plan: unexpected data after the JSON value"},
	{What: "seed range backwards", Args: []string{"sweep", "count-crash-before-commit", "--seeds", "5-1"}, Want: "seeds: 5-1 is empty (start after end)"},
	{What: "seed range not numbers", Args: []string{"sweep", "count-crash-before-commit", "--seeds", "a-b"}, Want: `seeds: "a-b" is not a seed or a range A-B of seeds`},
	{What: "seed range empty", Args: []string{"sweep", "count-crash-before-commit", "--seeds", ""}, Want: "seeds: none given (want a range A-B such as 1-100, or one seed N)"},
	{What: "seed range of three", Args: []string{"sweep", "count-crash-before-commit", "--seeds", "1-2-3"}, Want: `seeds: "1-2-3" is not a range A-B of seeds`},
	{What: "seeds without a value", Args: []string{"sweep", "count-crash-before-commit", "--seeds"}, Want: `--seeds needs a value (seeds to run: a range "A-B" (inclusive) or one seed "N")`},
	{What: "sweep of an unknown scenario", Args: []string{"sweep", "nope"}, Want: `unknown scenario "nope"`},
	{What: "sweep of nothing", Args: []string{"sweep"}, Want: `expected scenario names or "all" (see chaosrun list), got none`},
	{What: "all beside other names", Args: []string{"sweep", "all", "smoke-copier"}, Want: `"all" sweeps every scenario; give it alone`},
	{What: "no runs at once", Args: []string{"sweep", "all", "--parallel", "0"}, Want: "--parallel: 0, want at least 1"},
	{What: "parallel not a number", Args: []string{"sweep", "all", "--parallel", "two"}, Want: `--parallel "two" is not a number (want a whole number)`},
	{What: "negative failure cap", Args: []string{"sweep", "all", "--max-failures", "-1"}, Want: "--max-failures: negative (-1)"},
	{What: "sweep with an unknown mutant", Args: []string{"sweep", "all", "--mutant", "nope"}, Want: `--mutant: unknown mutant "nope"`},
	{What: "replay of nothing", Args: []string{"replay"}, Want: "expected a failure bundle's directory, got 0 arguments"},
	{What: "replay of a missing bundle", Args: []string{"replay", "absent"}, Want: "bundle absent: no such directory"},
	{What: "replay of a file", Args: []string{"replay", "plan.json"}, Want: "bundle plan.json: not a directory (give the bundle's directory)"},
	{What: "replay of a directory that is not a bundle", Args: []string{"replay", "notbundle"}, Want: "bundle notbundle: run.json is missing (not a failure bundle, or an incomplete one)"},
	{What: "replay of a bundle cut short", Args: []string{"replay", "cut"}, Want: "bundle cut: run.json: bad JSON at line 1"},
	{What: "replay of a bundle of an unknown scenario", Args: []string{"replay", "unknown"}, Want: `bundle unknown: run.json: field "scenario": unknown scenario "nope"`},
	{What: "replay of a bundle without a digest", Args: []string{"replay", "nodigest"}, Want: `bundle nodigest: run.json: field "digest" is missing`},
	{What: "explore of an unknown scenario", Args: []string{"explore", "nope"}, Want: `unknown scenario "nope"`},
	{What: "explore of the smoke scenario", Args: []string{"explore", "smoke-copier"}, Want: "explore: smoke-copier draws its own faults; pick an engine scenario"},
	{What: "explore of no schedules", Args: []string{"explore", "count-crash-before-commit", "--checks", "0"}, Want: "--checks: must be at least 1, got 0"},
	{What: "mutants from a bad base seed", Args: []string{"mutants", "--bases", "1,x"}, Want: `--bases: "x" is not a positive seed`},
	{What: "mutants with no seeds", Args: []string{"mutants", "--seeds-max", "0"}, Want: "--seeds-max: must be at least 1, got 0"},
	{What: "target: unknown contract", Args: []string{"target", "--expect", "sum", "--", "prog"}, Want: `--expect: unknown contract "sum" (want copy or count, or --oracle CMD)`},
	{What: "target: no contract", Args: []string{"target", "--", "prog"}, Want: "no contract: give --expect copy, --expect count or --oracle CMD"},
	{What: "target: malformed map rule", Args: []string{"target", "--expect", "copy", "--map", "prefix:", "--", "prog"}, Want: `--map "prefix:": prefix needs a string`},
	{What: "target: unknown map rule", Args: []string{"target", "--expect", "copy", "--map", "shout", "--", "prog"}, Want: `--map "shout": unknown rule "shout"`},
	{What: "target: map with count", Args: []string{"target", "--expect", "count", "--map", "upper", "--", "prog"}, Want: "--map applies to --expect copy only, not count"},
	{What: "target: no command after --", Args: []string{"target", "--expect", "copy", "--"}, Want: "missing the program to test after --"},
	{What: "target: command without --", Args: []string{"target", "--expect", "copy", "prog"}, Want: "the program to test goes after --: chaosrun target --expect copy -- prog"},
	{What: "target: unknown substitution", Args: []string{"target", "--expect", "copy", "--", "prog", "{{.Broker}}"}, Want: `argument "{{.Broker}}" uses an unknown substitution (known: {{.Brokers}},`},
	{What: "target: unknown fault kind to draw", Args: []string{"target", "--expect", "copy", "--kinds", "explode", "--", "prog"}, Want: `--kinds: unknown kind "explode"`},
	{What: "target: missing schedule", Args: []string{"target", "--expect", "copy", "--schedule", "absent.json", "--", "prog"}, Want: "--schedule absent.json: no such file"},
	{What: "target: schedule cut short", Args: []string{"target", "--expect", "copy", "--schedule", "sched-cut.json", "--", "prog"}, Want: "--schedule sched-cut.json: line 1, column 24: the JSON ends early"},
	{What: "target: unknown fault kind in a schedule", Args: []string{"target", "--expect", "copy", "--schedule", "sched-kind.json", "--", "prog"}, Want: `fault 0 (explode): unknown kind "explode"`},
	{What: "target: schedule hits a missing instance", Args: []string{"target", "--expect", "copy", "--schedule", "sched-inst.json", "--", "prog"}, Want: "fault 0 (kill): instance 7 does not exist (instances: 0..1)"},
	{What: "target: input line without a value", Args: []string{"target", "--expect", "copy", "--input", "input-bad.jsonl", "--", "prog"}, Want: `--input input-bad.jsonl line 2: needs both "key" and "value"`},
	{What: "target: no instances", Args: []string{"target", "--expect", "copy", "--instances", "0", "--", "prog"}, Want: "--instances: 0, want at least 1"},
	{What: "list with an argument", Args: []string{"list", "extra"}, Want: `unknown command "extra" for "chaosrun list"`},
}

// TestBadInputTable: every bad input exits 2 with one line that names the
// problem in the user's terms, and docs/bad-input.md lists them all.
func TestBadInputTable(t *testing.T) {
	doc, err := filepath.Abs(filepath.Join("..", "..", "docs", "bad-input.md"))
	if err != nil {
		t.Fatal(err)
	}
	badinputtest.Chdir(t, badInputFiles)
	var rs []badinputtest.Result
	for _, c := range badInputs {
		out, code := execute(c.Args...)
		r := badinputtest.Result{Case: c, Code: code, Message: strings.TrimSpace(out)}
		badinputtest.Check(t, "chaosrun", r)
		rs = append(rs, r)
	}
	badinputtest.CheckDoc(t, doc, "chaosrun", badinputtest.Section("chaosrun", rs), *update)
}
