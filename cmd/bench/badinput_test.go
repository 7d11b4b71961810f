package main

import (
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/internal/badinputtest"
)

var update = flag.Bool("update", false, "rewrite docs/bad-input.md's bench section from the table")

// badInputFiles are the files the cases read, written to the test's
// directory, where the cases run.
var badInputFiles = map[string]string{
	"truncated.json": "{\"kind\": \"run\",\n \"run\": {",
	"records.json":   "{\"kind\": \"run\",\n \"run\": {\"records\": \"many\"}}",
	"empty.json":     "",
	"other.json":     `{"kind": "nothing"}`,
	"results/.keep":  "",
	"killed/bench-run.json": `{"job_id": "k1", "job": "keyed-count", "parallelism": 2, "partitions": 4, "records": 200000, "keys": 10000,
  "seed": 1, "guarantee": "exactly-once", "backend": "heap", "input_topics": ["onceproof-bench-k1-in"],
  "output_topic": "onceproof-bench-k1-counts", "txn_prefix": "onceproof-bench-k1-", "runs": 1}`,
}

// badInputs is every bad input bench is tested with, in the order of
// docs/bad-input.md; the last case is a live run without a verdict (exit
// 4). None of them gets as far as running a job, but the last, which runs a
// small one.
var badInputs = []badinputtest.Case{
	{What: "unknown job", Args: []string{"run", "nope"}, Want: `unknown job "nope" (known: copier, join, keyed-count,`},
	{What: "no job", Args: []string{"run"}, Want: "run needs one job (known: copier,"},
	{What: "two jobs", Args: []string{"run", "copier", "join"}, Want: "run needs one job, got 2 arguments: copier join"},
	{What: "a true/false flag's value apart", Args: []string{"run", "copier", "--verify", "false"}, Want: "a true/false flag takes its value as --verify=false"},
	{What: "unknown command", Args: []string{"frob"}, Want: `unknown command "frob" (commands: broker, compare, completion, nexmark, plot, run, sim)`},
	{What: "unknown flag", Args: []string{"run", "copier", "--bogus"}, Want: "unknown flag: --bogus"},
	{What: "zero duration", Args: []string{"run", "copier", "--duration", "0"}, Want: "--duration 0s: must be positive (leave it out to preload --records instead)"},
	{What: "negative duration", Args: []string{"run", "copier", "--duration", "-1s"}, Want: "--duration -1s: must be positive"},
	{What: "duration not a duration", Args: []string{"run", "copier", "--duration", "10"}, Want: `--duration "10" is not a duration (such as "1.5s" or "200ms")`},
	{What: "records and duration", Args: []string{"run", "copier", "--records", "5", "--duration", "1s"}, Want: "--records and --duration: give one"},
	{What: "zero records", Args: []string{"run", "copier", "--records", "0"}, Want: "--records: must be at least 1, got 0"},
	{What: "zero partitions", Args: []string{"run", "copier", "--partitions", "0"}, Want: "--partitions: must be at least 1, got 0"},
	{What: "zero parallelism", Args: []string{"run", "copier", "--parallelism", "0"}, Want: "--parallelism: must be at least 1, got 0"},
	{What: "zero keys", Args: []string{"run", "keyed-count", "--keys", "0"}, Want: "--keys: must be at least 1, got 0"},
	{What: "unknown backend", Args: []string{"run", "copier", "--backend", "rocksdb"}, Want: `--backend: "rocksdb" is not heap or pebble`},
	{What: "unknown checkpoint mode", Args: []string{"run", "copier", "--checkpoints", "sideways"}, Want: `--checkpoints: "sideways" is not aligned, unaligned or off`},
	{What: "exactly-once without checkpoints", Args: []string{"run", "copier", "--checkpoints", "off"}, Want: "use --guarantee at-least-once"},
	{What: "unknown guarantee", Args: []string{"run", "copier", "--guarantee", "maybe"}, Want: `--guarantee: "maybe" is not exactly-once or at-least-once`},
	{What: "zero interval", Args: []string{"run", "copier", "--interval", "0"}, Want: "--interval: must be positive, got 0s"},
	{What: "interval without a value", Args: []string{"run", "copier", "--interval"}, Want: "--interval needs a value: a duration"},
	{What: "negative rate", Args: []string{"run", "copier", "--rate", "-5"}, Want: "--rate: must not be negative, got -5"},
	{What: "rate not a number", Args: []string{"run", "copier", "--rate", "fast"}, Want: `--rate "fast" is not a number (such as 1000 or 2.5)`},
	{What: "seed not a number", Args: []string{"run", "copier", "--seed", "x"}, Want: `--seed "x" is not a number (want a whole number, 0 or more)`},
	{What: "negative kill time", Args: []string{"run", "copier", "--kill-at", "-1s"}, Want: "--kill-at: must not be negative, got -1s"},
	{What: "unknown kill phase", Args: []string{"run", "copier", "--kill-at", "1s", "--kill-phase", "commit"}, Want: `--kill-phase: unknown phase "commit" (want one of triggered,`},
	{What: "kill phase without a kill time", Args: []string{"run", "copier", "--kill-phase", "ack-sent"}, Want: "--kill-phase: needs --kill-at"},
	{What: "unknown mutant", Args: []string{"run", "copier", "--mutant", "nope"}, Want: `--mutant: unknown mutant "nope" (known: abort-drops-precommitted, ack-before-durable,`},
	{What: "broker port not a number", Args: []string{"run", "copier", "--brokers", "localhost:kafka9"}, Want: `--brokers: "localhost:kafka9": port "kafka9" is not a number from 1 to 65535`},
	{What: "broker port out of range", Args: []string{"run", "copier", "--brokers", "127.0.0.1:99999"}, Want: `port "99999" is not a number from 1 to 65535`},
	{What: "broker without a port", Args: []string{"run", "copier", "--brokers", "kafka1"}, Want: `--brokers: "kafka1" is not host:port (such as 127.0.0.1:9092)`},
	{What: "broker without a host", Args: []string{"run", "copier", "--brokers", ":9092"}, Want: `--brokers: ":9092" has no host`},
	{What: "empty broker list", Args: []string{"run", "copier", "--brokers", ","}, Want: "--brokers: an empty address"},
	{What: "brokers that do not answer", Args: []string{"run", "copier", "--brokers", "127.0.0.1:1"}, Want: "brokers unreachable: 127.0.0.1:1"},
	{What: "SASL without brokers", Args: []string{"run", "copier", "--sasl-mechanism", "PLAIN"}, Want: "and --sasl-mechanism apply to --brokers; none given"},
	{What: "unknown SASL mechanism", Args: []string{"run", "copier", "--sasl-mechanism", "GSSAPI", "--brokers", "127.0.0.1:9092"}, Want: `--sasl-mechanism: "GSSAPI" is not PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER`},
	{What: "job id that no topic name can hold", Args: []string{"run", "copier", "--job-id", "my job"}, Want: `--job-id: "my job" holds a character a Kafka topic name cannot (use letters, digits, '.', '_' or '-')`},
	{What: "empty job id", Args: []string{"run", "copier", "--job-id", ""}, Want: "--job-id: empty"},
	{What: "too few input topics for the job", Args: []string{"run", "join", "--input-topic", "orders"}, Want: "--input-topic: job join reads 2 topics"},
	{What: "output topic name Kafka refuses", Args: []string{"run", "copier", "--output-topic", "out/1"}, Want: `--output-topic: "out/1" is not a Kafka topic name`},
	{What: "output topic that is also the input", Args: []string{"run", "copier", "--input-topic", "t", "--output-topic", "t"}, Want: "--output-topic: t is also an --input-topic"},
	{What: "zero replication factor", Args: []string{"run", "copier", "--replication-factor", "0"}, Want: "--replication-factor: must be at least 1, got 0"},
	{What: "more in-sync replicas than replicas", Args: []string{"run", "copier", "--replication-factor", "2", "--min-insync-replicas", "3"}, Want: "--min-insync-replicas 3: more than --replication-factor 2"},
	{What: "replication for topics the run does not create", Args: []string{"run", "copier", "--input-topic", "a", "--output-topic", "b", "--replication-factor", "3"}, Want: "apply to topics the run creates; with --input-topic and --output-topic it creates none (add --create-topics)"},
	{What: "create topics without naming any", Args: []string{"run", "copier", "--create-topics"}, Want: "--create-topics: applies to --input-topic and --output-topic"},
	{What: "zero transaction timeout", Args: []string{"run", "copier", "--txn-timeout", "0"}, Want: "--txn-timeout: must be positive, got 0s"},
	{What: "transaction timeout under a second", Args: []string{"run", "copier", "--txn-timeout", "100ms"}, Want: "--txn-timeout: 100ms is under a second"},
	{What: "resume from latest of no directory", Args: []string{"run", "--from-checkpoint", "latest"}, Want: "--from-checkpoint latest: latest in which directory? Give --job-id"},
	{What: "resume from an empty name", Args: []string{"run", "copier", "--from-checkpoint", ""}, Want: "--from-checkpoint: empty"},
	{What: "resume from a missing directory", Args: []string{"run", "--from-checkpoint", "absent"}, Want: "--from-checkpoint: absent: no such directory"},
	{What: "resume from a directory that is not a run's", Args: []string{"run", "--from-checkpoint", "results"}, Want: "not the checkpoint directory of a bench run (no bench-run.json)"},
	{What: "resume with another seed", Args: []string{"run", "--from-checkpoint", "killed", "--seed", "9"}, Want: "--seed 9: the run being resumed had --seed 1; a resume runs on the same input and state"},
	{What: "resume of another job", Args: []string{"run", "copier", "--from-checkpoint", "killed"}, Want: "--from-checkpoint: the run there is of job keyed-count, not copier"},
	{What: "resume in another directory", Args: []string{"run", "--from-checkpoint", "killed", "--checkpoint-dir", "elsewhere"}, Want: "a resume goes on in the killed run's directory; give one"},
	{What: "resume without brokers", Args: []string{"run", "--from-checkpoint", "killed"}, Want: "--from-checkpoint: needs --brokers"},
	{What: "client certificate without its key", Args: []string{"run", "copier", "--tls-cert", "client.pem", "--brokers", "127.0.0.1:9092"}, Want: "--tls-cert and --tls-key: give both"},
	{What: "client certificate that is missing", Args: []string{"run", "copier", "--tls-cert", "absent.pem", "--tls-key", "absent.key", "--brokers", "127.0.0.1:9092"}, Want: "--tls-cert absent.pem and --tls-key absent.key: absent.pem: no such file or directory"},
	{What: "client certificate that is not PEM", Args: []string{"run", "copier", "--tls-cert", "empty.json", "--tls-key", "empty.json", "--brokers", "127.0.0.1:9092"}, Want: "no PEM certificate in --tls-cert"},
	{What: "OAUTHBEARER without a token", Args: []string{"run", "copier", "--sasl-mechanism", "OAUTHBEARER", "--brokers", "127.0.0.1:9092"}, Want: "--sasl-mechanism OAUTHBEARER: no token: give --sasl-token-file or set BENCH_SASL_TOKEN"},
	{What: "OAUTHBEARER token file that is empty", Args: []string{"run", "copier", "--sasl-mechanism", "OAUTHBEARER", "--sasl-token-file", "empty.json", "--brokers", "127.0.0.1:9092"}, Want: "--sasl-token-file: empty.json is empty"},
	{What: "token file for another mechanism", Args: []string{"run", "copier", "--sasl-mechanism", "PLAIN", "--sasl-token-file", "empty.json", "--brokers", "127.0.0.1:9092"}, Want: "--sasl-token-file: applies to --sasl-mechanism OAUTHBEARER"},
	{What: "compare of a two-input job", Args: []string{"compare", "join"}, Want: "compare: join has two inputs"},
	{What: "compare of an unknown job", Args: []string{"compare", "nope"}, Want: `unknown job "nope"`},
	{What: "compare of no rounds", Args: []string{"compare", "copier", "--rounds", "0"}, Want: "--rounds: must be at least 1, got 0"},
	{What: "compare of an unknown contender", Args: []string{"compare", "copier", "--only", "flink"}, Want: `--only: "flink" is not one of engine, engine-off, ceiling, franz-go`},
	{What: "sim of an unknown scenario", Args: []string{"sim", "nope"}, Want: `unknown scenario "nope"`},
	{What: "sim of no seeds", Args: []string{"sim", "--seeds", "0"}, Want: "--seeds: must be at least 1, got 0"},
	{What: "sim seeds not a number", Args: []string{"sim", "--seeds", "ten"}, Want: `--seeds "ten" is not a number (want a whole number)`},
	{What: "plot of nothing", Args: []string{"plot"}, Want: "plot needs at least one result file"},
	{What: "plot of a missing file", Args: []string{"plot", "absent.json"}, Want: "absent.json: no such file"},
	{What: "plot of a directory", Args: []string{"plot", "results"}, Want: "results is a directory, not a result file"},
	{What: "plot of an empty file", Args: []string{"plot", "empty.json"}, Want: "empty.json: the file is empty (want a JSON object)"},
	{What: "plot of a result cut short", Args: []string{"plot", "truncated.json"}, Want: "truncated.json: line 2, column 10: the JSON ends early"},
	{What: "plot of a field of the wrong type", Args: []string{"plot", "records.json"}, Want: "records.json: line 2, column 21: run.records: must be a whole number, not a string"},
	{What: "plot of a file that is not a result", Args: []string{"plot", "other.json"}, Want: "other.json: not a bench result (no run, scaling, compare or sim section)"},
	{What: "unknown Nexmark query", Args: []string{"nexmark", "q99"}, Want: `unknown query "q99" (known: q0, q1, q2, q5, q7)`},
	{What: "Nexmark of no events", Args: []string{"nexmark", "q5", "--events", "0"}, Want: "--events: must be at least 1, got 0"},
	{What: "broker port out of range", Args: []string{"broker", "--port", "70000"}, Want: "--port: 70000 is not a TCP port"},
	{What: "broker fsync without a data directory", Args: []string{"broker", "--sync-writes"}, Want: "--sync-writes: applies to --data-dir"},
	{What: "profile in a missing directory", Args: []string{"run", "copier", "--cpuprofile", "absent/cpu.out"}, Want: "--cpuprofile: open absent/cpu.out: no such file or directory"},
	{What: "a live run without the exactly-once verdict", Args: []string{"run", "copier", "--records", "2000", "--verify=false"}, Code: 4,
		Want: "inconclusive, no exactly-once verdict: --verify=false skipped the check"},
}

// TestBadInputTable: every bad input exits 2 with one line that names the
// problem in the user's terms, a run without a verdict exits 4, and
// docs/bad-input.md lists them all.
func TestBadInputTable(t *testing.T) {
	doc, err := filepath.Abs(filepath.Join("..", "..", "docs", "bad-input.md"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BENCH_SASL_TOKEN", "") // the OAUTHBEARER case needs no token from the environment
	badinputtest.Chdir(t, badInputFiles)
	var rs []badinputtest.Result
	for _, c := range badInputs {
		out, code := execute(t, c.Args...)
		// The message is the last line (a run prints its figures first).
		lines := strings.Split(strings.TrimSpace(out), "\n")
		msg := lines[len(lines)-1]
		if c.WantCode() == 2 {
			msg = strings.TrimSpace(out)
		}
		if c.WantCode() == 4 && !strings.Contains(out, "verdict      exactly-once       none") {
			t.Errorf("bench %s: the figures lack the missing verdict:\n%s", strings.Join(c.Args, " "), out)
		}
		r := badinputtest.Result{Case: c, Code: code, Message: msg}
		badinputtest.Check(t, "bench", r)
		rs = append(rs, r)
	}
	badinputtest.CheckDoc(t, doc, "bench", badinputtest.Section("bench", rs), *update)
}

// TestJudge: a live run passes only with an exactly-once verdict that is
// ok; without one, or with an unknown one, it is inconclusive (exit 4),
// never a pass.
func TestJudge(t *testing.T) {
	ok := checkers.Result{Checker: "exactly-once", Verdict: checkers.Ok}
	open := checkers.Result{Checker: "open-transactions", Verdict: checkers.Ok}
	for _, tc := range []struct {
		name string
		vs   []checkers.Result
		code int
		want string
	}{
		{"checked and ok", []checkers.Result{ok, open}, 0, ""},
		{"not checked", nil, 4, "exactly-once: no verdict: the output was not checked"},
		{"only open transactions", []checkers.Result{open}, 4, "exactly-once: no verdict"},
		{"unknown", []checkers.Result{{Checker: "exactly-once", Verdict: checkers.Unknown, Explanation: "no verdict: the output could not be read back: eof"}}, 4, "could not be read back"},
		{"violation", []checkers.Result{{Checker: "exactly-once", Verdict: checkers.Violation, Anomaly: "duplicate"}, open}, 1, "not exactly-once"},
		{"stuck transaction", []checkers.Result{ok, {Checker: "open-transactions", Verdict: checkers.NoProgress, Anomaly: "stuck-lso"}}, 1, "stuck-lso"},
	} {
		err := judge(tc.vs)
		if code := exitCode(err); code != tc.code || (tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want))) {
			t.Errorf("%s: got exit %d and %v, want exit %d and %q", tc.name, code, err, tc.code, tc.want)
		}
		if tc.code == 4 && !errors.As(err, new(inconclusiveError)) {
			t.Errorf("%s: got %T, want an inconclusiveError", tc.name, err)
		}
	}
}
