package scenarios

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/sim"
)

// A trace in the simulator's vocabulary, with one of everything the
// picture draws: the events, and the text they render to.
var reportTrace = []sim.Event{
	{At: 0, Kind: sim.EventSpawn, Proc: "jm"},
	{At: 0, Kind: sim.EventSpawn, Proc: "w0"},
	{At: 0, Kind: sim.EventSpawn, Proc: "w10"},
	{At: 0, Kind: sim.EventSpawn, Proc: "w2"},
	{At: 0, Kind: sim.EventSpawn, Proc: "reader"},
	{At: 0, Kind: sim.EventStart, Proc: "jm"},
	{At: 0, Kind: sim.EventStart, Proc: "w0"},
	{At: 10e6, Kind: sim.EventDeploy, Proc: "jm", N: 1, Detail: "src/0@w0 sink/0@w2"},
	{At: 20e6, Kind: sim.EventProtocol, Proc: "jm", Phase: protocol.Triggered, N: 1},
	{At: 21e6, Kind: sim.EventKafkaSent, N: 7, Proc: "w2", Op: "EndTxn", Commit: true, Detail: "EndTxn txn=t pid=1 e=0 commit=true"},
	{At: 22e6, Kind: sim.EventKafkaResponseLost, N: 7, Proc: "w2"},
	{At: 30e6, Kind: sim.EventProtocol, Proc: "jm", Phase: protocol.MetadataWritten, N: 1, Detail: "size=10 duration=10ms"},
	{At: 30e6, Kind: sim.EventFaultFired, N: 0, Op: "kill-worker", Detail: "kill w2 (restart after 50ms)"},
	{At: 30e6, Kind: sim.EventKill, Proc: "w2", Detail: "kill-worker"},
	{At: 30e6, Kind: sim.EventProtocol, Proc: "jm", Phase: protocol.EventFailover, Detail: "attempt 1: lost worker w2; restart in 50ms"},
	{At: 31e6, Kind: sim.EventProtocol, Proc: "w0", Phase: protocol.EndTxnSent, N: 1, Task: "sink/1", Commit: true, Detail: "complete t(pid=1,e=0) commit=true"},
	{At: 40e6, Kind: sim.EventFaultFired, N: 1, Op: "partition", Detail: "partition w0|w10 for 20ms"},
	{At: 40e6, Kind: sim.EventPartition, Proc: "w0", Peer: "w10"},
	{At: 45e6, Kind: sim.EventPause, Proc: "w10"},
	{At: 50e6, Kind: sim.EventSlow, Proc: "w0", Peer: "jm", Dur: 5 * time.Millisecond},
	{At: 55e6, Kind: sim.EventResume, Proc: "w10", M: 3},
	{At: 60e6, Kind: sim.EventHeal, Proc: "w0", Peer: "w10"},
	{At: 70e6, Kind: sim.EventSlow, Proc: "w0", Peer: "jm"},
	{At: 80e6, Kind: sim.EventStart, Proc: "w2", N: 1},
	{At: 81e6, Kind: sim.EventProtocol, Proc: "w2", Phase: protocol.EndTxnSent, N: 1, Task: "sink/0", Commit: true, Recover: true, Detail: "recover t(pid=1,e=0) commit=true"},
	{At: 82e6, Kind: sim.EventProtocol, Proc: "w2", Phase: protocol.EndTxnSent, N: 1, Task: "sink/0", Recover: true, Detail: "recover t(pid=1,e=0) commit=false"},
	{At: 83e6, Kind: sim.EventProtocol, Proc: "w2", Phase: protocol.EndTxnSent, N: 1, Commit: true, Lost: true, Detail: "LOST pre-committed transaction <t> (3 records): gone"},
	{At: 90e6, Kind: sim.EventProtocol, Proc: "jm", Phase: protocol.EventCheckpointFailed, N: 2, Detail: "timed out"},
	{At: 95e6, Kind: sim.EventStoreCorrupt, Name: "checkpoints/chk-1/x", N: 3},
	{At: 100e6, Kind: sim.EventHealAll},
	{At: 120e6, Kind: sim.EventEnd, Detail: "drained=true restarts=1"},
}

// reportTraceText is reportTrace as the trace renders it.
var reportTraceText = strings.Split(strings.TrimSpace(`
           0 spawn jm
           0 spawn w0
           0 spawn w10
           0 spawn w2
           0 spawn reader
           0 start jm inc=0
           0 start w0 inc=0
    10000000 jm deploy attempt 1 on src/0@w0 sink/0@w2
    20000000 jm triggered cp=1
    21000000 kafka#7 w2 -> EndTxn txn=t pid=1 e=0 commit=true
    22000000 kafka#7 response lost
    30000000 jm metadata-written cp=1 size=10 duration=10ms
    30000000 fault 0 fired: kill w2 (restart after 50ms)
    30000000 kill w2 inc=0: kill-worker
    30000000 jm failover attempt 1: lost worker w2; restart in 50ms
    31000000 w0 endtxn-sent cp=1 sink/1 complete t(pid=1,e=0) commit=true
    40000000 fault 1 fired: partition w0|w10 for 20ms
    40000000 partition w0|w10
    45000000 pause w10 inc=0
    50000000 slow w0|jm +5ms
    55000000 resume w10 inc=0 held=3
    60000000 heal w0|w10
    70000000 slow w0|jm +0s
    80000000 start w2 inc=1
    81000000 w2 endtxn-sent cp=1 sink/0 recover t(pid=1,e=0) commit=true
    82000000 w2 endtxn-sent cp=1 sink/0 recover t(pid=1,e=0) commit=false
    83000000 w2 endtxn-sent cp=1 LOST pre-committed transaction <t> (3 records): gone
    90000000 jm checkpoint-failed cp=2 timed out
    95000000 store corrupt checkpoints/chk-1/x at 3
   100000000 heal: faults lifted, liveness phase
   120000000 end drained=true restarts=1
`), "\n")

// TestReportTraceText: the fixture's events render to the simulator's text.
func TestReportTraceText(t *testing.T) {
	got := sim.Lines(reportTrace)
	if len(got) != len(reportTraceText) {
		t.Fatalf("%d lines, want %d", len(got), len(reportTraceText))
	}
	for i := range got {
		if strings.TrimSpace(got[i]) != strings.TrimSpace(reportTraceText[i]) {
			t.Errorf("line %d:\n got %q\nwant %q", i, got[i], reportTraceText[i])
		}
	}
}

func TestParseTimeline(t *testing.T) {
	tl := parseTimeline(reportTrace)
	if got, want := strings.Join(tl.lanes, " "), "faults jm w0 w2 w10 storage"; got != want {
		t.Errorf("lanes: got %s, want %s", got, want)
	}
	if tl.end != 120_000_000 || tl.healAt != 100_000_000 {
		t.Errorf("end %d heal %d", tl.end, tl.healAt)
	}
	count := map[markKind]int{}
	for _, m := range tl.marks {
		count[m.kind]++
	}
	for k, want := range map[markKind]int{
		markDeploy: 1, markTriggered: 1, markCompleted: 1, markFault: 2, markKill: 1, markFailover: 1,
		markCommit: 1, markRecoverCommit: 1, markAbort: 1, markLost: 1, markRequestLost: 1, markRestart: 1,
		markCheckpointFailed: 1, markStorage: 1,
	} {
		if count[k] != want {
			t.Errorf("%s: %d marks, want %d", markStyle[k].name, count[k], want)
		}
	}
	for _, m := range tl.marks {
		if m.kind == markRequestLost && m.lane != "w2" {
			t.Errorf("lost response on lane %s, want its sender w2", m.lane)
		}
	}
	type span struct {
		lane     string
		kind     bandKind
		from, to int64
	}
	want := map[span]bool{
		{"jm", bandCheckpoint, 20e6, 30e6}: true,
		{"w2", bandDown, 30e6, 80e6}:       true,
		{"w0", bandCut, 40e6, 60e6}:        true,
		{"w10", bandCut, 40e6, 60e6}:       true,
		{"w10", bandPaused, 45e6, 55e6}:    true,
		{"w0", bandSlow, 50e6, 70e6}:       true,
		{"jm", bandSlow, 50e6, 70e6}:       true,
	}
	for _, b := range tl.bands {
		s := span{b.lane, b.kind, b.from, b.to}
		if !want[s] {
			t.Errorf("unexpected band %+v", s)
		}
		delete(want, s)
	}
	for s := range want {
		t.Errorf("missing band %+v", s)
	}
}

func TestRenderReport(t *testing.T) {
	b := &Bundle{
		Dir: "chaosrun-failures/x-seed1", Scenario: "count-crash-before-commit", Seed: 1, Build: "devel go1.x",
		Verdict:  checkers.Violation,
		Verdicts: []checkers.Result{{Checker: "exactly-once", Verdict: checkers.Violation, Anomaly: "lost-write", FirstBad: `lineage "<k>"`}},
		FirstBad: &FirstBad{Checker: "exactly-once", Anomaly: "lost-write", Record: `lineage "<k>"`},
		Digest:   "ab", PlanSource: PlanFromScenario, Options: map[string]string{"workers": "3"},
	}
	page, err := RenderReport(b, reportTrace, []string{"porcupine.html"})
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		"<svg", "simulated time (ms)", ">jm</text>", ">w10</text>", "heal: faults lifted", "VIOLATION", "class=\"badge violation\"",
		"go run ./cmd/chaosrun replay chaosrun-failures/x-seed1", `href="porcupine.html"`, `href="trace.txt"`,
		"lineage &#34;&lt;k&gt;&#34;", "LOST pre-committed transaction &lt;t&gt;", "fault fired", "process killed",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Self-contained: nothing to fetch, nothing to run.
	for _, re := range []string{`<script`, `<link`, `src=`, `url\(`, `@import`, `href="https?:`} {
		if regexp.MustCompile(re).MatchString(html) {
			t.Errorf("report has %s: not self-contained", re)
		}
	}
	// The trace's "<t>" must not reach the page unescaped.
	if strings.Contains(html, "<t>") {
		t.Error("report has unescaped trace text")
	}
}

func TestNiceStepAndTicks(t *testing.T) {
	for _, tc := range []struct{ span, want float64 }{{1000, 100}, {60000, 10000}, {255, 50}, {3, 0.5}, {1500, 200}} {
		if got := niceStep(tc.span); got != tc.want {
			t.Errorf("niceStep(%v): got %v, want %v", tc.span, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v, step float64
		want    string
	}{{60000, 10000, "60\u2009000"}, {500, 100, "500"}, {1.5, 0.5, "1.5"}, {0, 1, "0"}} {
		if got := formatMs(tc.v, tc.step); got != tc.want {
			t.Errorf("formatMs(%v, %v): got %q, want %q", tc.v, tc.step, got, tc.want)
		}
	}
}

// TestEndTxnFieldsMatchText: the typed fields of a sink's EndTxn events say
// what their text says, on runs that recover commits and lose a transaction.
func TestEndTxnFieldsMatchText(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range []string{"count-crash-before-commit", "txn-expired-during-outage"} {
		s, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		o, err := s.Run(context.Background(), RunOptions{Seed: 1, KeepTrace: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range o.TraceEvents {
			if e.Kind != sim.EventProtocol || e.Phase != protocol.EndTxnSent {
				continue
			}
			lost := strings.HasPrefix(e.Detail, "LOST ")
			recov := strings.HasPrefix(e.Detail, "recover ")
			commit := lost || strings.HasSuffix(e.Detail, " commit=true")
			if e.Lost != lost || e.Recover != recov || e.Commit != commit {
				t.Errorf("%s: %s: Lost=%v Recover=%v Commit=%v", name, e.Line(), e.Lost, e.Recover, e.Commit)
			}
			seen[fmt.Sprint("lost=", lost, " recover=", recov)] = true
		}
	}
	for _, want := range []string{"lost=true recover=false", "lost=false recover=true", "lost=false recover=false"} {
		if !seen[want] {
			t.Errorf("no EndTxn event with %s", want)
		}
	}
}
