package faults

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
)

func dur(d time.Duration) *time.Duration { return &d }

// examplePlan has one fault of each kind, valid for three workers. It is
// also testdata/example-plan.json.
func examplePlan() Plan {
	ms := time.Millisecond
	return Plan{Faults: []Fault{
		{Name: "kill a worker", Trigger: At(150 * ms), Action: Action{Kind: KillWorker, Worker: "w1", Duration: 200 * ms}},
		{Trigger: AtPhase(3, protocol.MetadataWritten, ""), Action: Action{Kind: KillCoordinator, Duration: time.Second}},
		{Name: "zombie sink", Trigger: AtPhase(2, protocol.SnapshotTaken, "sink/0"), Action: Action{Kind: PauseWorker, Worker: "w2", Duration: 5 * time.Second}},
		{Trigger: AtPhase(1, protocol.Aligned, "w0"), Action: Action{Kind: Partition, Worker: "w0", Peer: "w1", Duration: 300 * ms}},
		{Trigger: At(0), Action: Action{Kind: PartitionOneWay, Worker: "w2", Peer: Coordinator, Duration: 250 * ms}},
		{Trigger: At(time.Second), Action: Action{Kind: Isolate, Worker: "w0"}},
		{Trigger: At(10 * ms), Action: Action{Kind: SlowLink, Worker: "w0", Peer: "w2", Extra: 40 * ms, Duration: 2 * time.Second}},
		{Trigger: After("Produce", 5), Action: Action{Kind: KafkaError, Request: "Produce", Error: "NOT_LEADER_FOR_PARTITION", Count: 2}},
		{Trigger: AtPhase(4, protocol.EndTxnSent, "sink/1"), Action: Action{Kind: DropRequest, Request: "EndTxn", Count: 1}},
		{Name: "ambiguous EndTxn", Trigger: After("EndTxn", 2), Action: Action{Kind: DropResponse, Request: "EndTxn", Count: 1}},
		{Trigger: AtPhase(2, protocol.EndTxnApplied, ""), Action: Action{Kind: RestartBroker}},
		{Trigger: At(700 * ms), Action: Action{Kind: ExpireTxn, TxnID: "onceproof-sink-0"}},
		{Trigger: AtPhase(2, protocol.SnapshotDurable, "w1"), Action: Action{Kind: DiskCrash, Worker: "w1", Duration: 100 * ms}},
		{Trigger: At(500 * ms), Action: Action{Kind: DiskReadError, Worker: "w2", Count: 3, Percent: 50}},
		{Trigger: AtPhase(3, protocol.SnapshotTaken, ""), Action: Action{Kind: StorageWriteFail, Count: 1}},
		{Trigger: At(1500 * ms), Action: Action{Kind: StorageSlow, Extra: 100 * ms, Duration: time.Second}},
		{Trigger: AtPhase(3, protocol.CompleteDelivered, "sink/0"), Action: Action{Kind: CorruptCheckpoint, Object: LatestCheckpoint}},
		{Name: "lose an SST", Trigger: AtPhase(4, protocol.MetadataWritten, ""), Action: Action{Kind: DeleteCheckpointFile, Object: LatestShared}},
		{Name: "lost notification", Trigger: At(0), Action: Action{Kind: DropMessage, Message: "notify-complete", To: "sink/0", Checkpoint: 2}},
		{Trigger: AtPhase(2, protocol.Triggered, ""), Action: Action{Kind: DelayMessage, Message: "ack", From: "sink/1", Extra: 300 * ms, Count: 2}},
		{Trigger: At(0), Action: Action{Kind: DuplicateMessage, Message: "trigger", Checkpoint: 3}},
	}}
}

func TestExamplePlanCoversEveryKind(t *testing.T) {
	seen := map[ActionKind]bool{}
	for _, f := range examplePlan().Faults {
		seen[f.Action.Kind] = true
	}
	for _, k := range AllKinds() {
		if !seen[k] {
			t.Errorf("examplePlan has no %s fault", k)
		}
	}
	if err := examplePlan().Validate(3); err != nil {
		t.Fatalf("examplePlan().Validate(3) = %v, want nil", err)
	}
}

func TestKindGroupsPartitionAllKinds(t *testing.T) {
	var groups []ActionKind
	for _, g := range [][]ActionKind{ProcessKinds(), LinkKinds(), KafkaKinds(), StorageKinds(), MessageKinds()} {
		groups = append(groups, g...)
	}
	if got, want := groups, AllKinds(); !reflect.DeepEqual(got, want) {
		t.Errorf("groups = %v, want AllKinds() = %v", got, want)
	}
}

// bad returns a one-fault plan with trigger t and action a.
func bad(name string, t Trigger, a Action) Plan {
	return Plan{Faults: []Fault{{Name: name, Trigger: t, Action: a}}}
}

func TestValidateRejects(t *testing.T) {
	kill := Action{Kind: KillWorker, Worker: "w1"}
	now := At(0)
	tests := []struct {
		name  string
		plan  Plan
		field string // the FieldError's Field
		msg   string // a substring of the message
	}{
		{"unknown kind", bad("", now, Action{Kind: "kill-everything"}), "action.kind", `unknown kind "kill-everything"`},
		{"missing kind", bad("", now, Action{}), "action.kind", "missing"},
		{"unknown phase", bad("", AtPhase(1, "aligning", ""), kill), "trigger.phase.phase", `unknown phase "aligning"`},
		{"missing phase", bad("", AtPhase(1, "", ""), kill), "trigger.phase.phase", "missing"},
		{"checkpoint 0", bad("", AtPhase(0, protocol.Aligned, ""), kill), "trigger.phase.checkpoint", "want >= 1"},
		{"task on coordinator phase", bad("", AtPhase(1, protocol.MetadataWritten, "sink/0"), kill), "trigger.phase.task", "takes no task"},
		{"task worker out of range", bad("", AtPhase(1, protocol.Aligned, "w3"), kill), "trigger.phase.task", `"w3" does not exist`},
		{"task malformed", bad("", AtPhase(1, protocol.Aligned, "sink/x"), kill), "trigger.phase.task", "operator/subtask"},
		{"worker out of range", bad("kill sink", now, Action{Kind: KillWorker, Worker: "w7"}), "action.worker", `"w7" does not exist (workers: w0..w2)`},
		{"worker misspelt", bad("", now, Action{Kind: KillWorker, Worker: "w01"}), "action.worker", "does not exist"},
		{"peer out of range", bad("", now, Action{Kind: Partition, Worker: "w0", Peer: "w3"}), "action.peer", `"w3" does not exist (workers: w0..w2, coordinator)`},
		{"peer is worker", bad("", now, Action{Kind: Partition, Worker: "w0", Peer: "w0"}), "action.peer", "the worker itself"},
		{"coordinator not allowed", bad("", now, Action{Kind: KillWorker, Worker: Coordinator}), "action.worker", "cannot be the coordinator"},
		{"missing worker", bad("", now, Action{Kind: KillWorker}), "action.worker", "missing (required by kill-worker)"},
		{"unused field", bad("", now, Action{Kind: Isolate, Worker: "w0", Peer: "w1"}), "action.peer", "not used by isolate"},
		{"negative duration", bad("", now, Action{Kind: KillWorker, Worker: "w0", Duration: -time.Second}), "action.duration", "-1s is negative"},
		{"negative extra", bad("", now, Action{Kind: StorageSlow, Extra: -time.Millisecond}), "action.extra", "negative"},
		{"negative at", bad("", At(-time.Millisecond), kill), "trigger.at", "-1ms is negative"},
		{"two triggers", bad("", Trigger{At: dur(0), Phase: &PhaseTrigger{Checkpoint: 1, Phase: protocol.Aligned}}, kill), "trigger", "at, phase set at once (want exactly one)"},
		{"missing trigger", bad("", Trigger{}, kill), "trigger", "none set"},
		{"unknown Kafka error", bad("", now, Action{Kind: KafkaError, Request: "Produce", Error: "NOT_LEADER", Count: 1}), "action.error", `unknown Kafka error "NOT_LEADER"`},
		{"unknown Kafka request", bad("", now, Action{Kind: DropRequest, Request: "Commit", Count: 1}), "action.request", `unknown Kafka request "Commit"`},
		{"count < 0", bad("", now, Action{Kind: DropResponse, Request: "EndTxn", Count: -1}), "action.count", "-1 is negative"},
		{"count missing", bad("", now, Action{Kind: DropResponse, Request: "EndTxn"}), "action.count", "missing"},
		{"percent > 100", bad("", now, Action{Kind: DiskReadError, Worker: "w0", Count: 1, Percent: 101}), "action.percent", "want 0..100"},
		{"object missing", bad("", now, Action{Kind: CorruptCheckpoint}), "action.object", "missing"},
		{"delete without object", bad("", now, Action{Kind: DeleteCheckpointFile}), "action.object", "missing (required by delete-checkpoint-file)"},
		{"delete outside storage", bad("", now, Action{Kind: DeleteCheckpointFile, Object: "checkpoints/../../etc"}), "action.object", "is not a file path in checkpoint storage"},
		{"delete a directory", bad("", now, Action{Kind: DeleteCheckpointFile, Object: "checkpoints/keyed-count/"}), "action.object", "is not a file path in checkpoint storage"},
		{"delete with a worker", bad("", now, Action{Kind: DeleteCheckpointFile, Object: LatestShared, Worker: "w0"}), "action.worker", "not used by delete-checkpoint-file"},
		{"after_requests count 0", bad("", After("EndTxn", 0), kill), "trigger.after_requests.count", "want >= 1"},
		{"after_requests unknown kind", bad("", After("Commit", 1), kill), "trigger.after_requests.kind", `unknown Kafka request "Commit"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.plan.Validate(3)
			if err == nil {
				t.Fatalf("Validate(3) = nil, want an error at %s", tt.field)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate(3) = %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || fe.Fault != 0 {
				t.Errorf("got fault %d field %q, want fault 0 field %q (error: %v)", fe.Fault, fe.Field, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}

func TestValidateErrorNamesFault(t *testing.T) {
	p := examplePlan()
	p.Faults[3].Name = "kill sink"
	p.Faults[3].Action = Action{Kind: KillWorker, Worker: "w7"}
	err := p.Validate(3)
	want := `fault 3 ("kill sink"): action.worker: "w7" does not exist (workers: w0..w2)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := Plan{Faults: []Fault{
		{Trigger: At(-1), Action: Action{Kind: KillWorker, Worker: "w9", Duration: -1}},
		{Trigger: At(0), Action: Action{Kind: RestartBroker}},
		{Trigger: Trigger{}, Action: Action{Kind: "nope"}},
	}}
	err := p.Validate(2)
	want := []string{
		"fault 0: trigger.at: -1ns is negative",
		`fault 0: action.worker: "w9" does not exist (workers: w0..w1)`,
		"fault 0: action.duration: -1ns is negative",
		"fault 2: trigger: none set (want one of at, phase, after_requests)",
		`fault 2: action.kind: unknown kind "nope"`,
	}
	if err == nil {
		t.Fatalf("Validate(2) = nil, want %d problems", len(want))
	}
	got := strings.Split(err.Error(), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(got), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d: got %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestValidateWorkerCount(t *testing.T) {
	p := bad("", At(0), Action{Kind: KillWorker, Worker: "w0"})
	if err := p.Validate(0); err == nil || !strings.Contains(err.Error(), "(workers: none)") {
		t.Errorf("Validate(0) = %v, want w0 rejected with (workers: none)", err)
	}
	if err := p.Validate(1); err != nil {
		t.Errorf("Validate(1) = %v, want nil", err)
	}
}

func TestString(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		f    Fault
		want string
	}{
		{Fault{Trigger: At(150 * ms), Action: Action{Kind: KillWorker, Worker: "w1", Duration: 200 * ms}}, "at 150ms: kill w1 (restart after 200ms)"},
		{Fault{Trigger: AtPhase(3, protocol.MetadataWritten, ""), Action: Action{Kind: KillCoordinator}}, "at checkpoint 3 metadata-written: kill coordinator (no restart until healed)"},
		{Fault{Trigger: After("EndTxn", 2), Action: Action{Kind: DropResponse, Request: "EndTxn", Count: 1}}, "after 2nd EndTxn: drop response of EndTxn"},
		{Fault{Name: "zombie", Trigger: AtPhase(2, protocol.SnapshotTaken, "sink/0"), Action: Action{Kind: PauseWorker, Worker: "w2", Duration: 5 * time.Second}}, "at checkpoint 2 snapshot-taken on sink/0: pause w2 for 5s [zombie]"},
		{Fault{Trigger: At(0), Action: Action{Kind: Partition, Worker: "w0", Peer: "w1"}}, "at 0s: partition w0|w1 until healed"},
		{Fault{Trigger: After("Produce", 11), Action: Action{Kind: KafkaError, Request: "Produce", Error: "REQUEST_TIMED_OUT", Count: 3}}, "after 11th Produce: fail Produce with REQUEST_TIMED_OUT (3 times)"},
		{Fault{Trigger: After("Fetch", 21), Action: Action{Kind: SlowLink, Worker: "w0", Peer: Coordinator, Extra: 40 * ms, Duration: time.Second}}, "after 21st Fetch: slow w0|coordinator by +40ms for 1s"},
		{Fault{Trigger: At(time.Second), Action: Action{Kind: ExpireTxn}}, "at 1s: expire the sink's current transaction"},
		{Fault{Trigger: At(time.Second), Action: Action{Kind: DiskReadError, Worker: "w1", Count: 2, Percent: 30}}, "at 1s: fail disk reads on w1 (2 times) with probability 30%"},
		{Fault{Trigger: AtPhase(4, protocol.MetadataWritten, ""), Action: Action{Kind: DeleteCheckpointFile, Object: LatestShared}}, "at checkpoint 4 metadata-written: delete checkpoint object latest-shared"},
		{Fault{Action: Action{Kind: "bogus"}}, `never (no trigger): unknown action "bogus"`},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
	if got, want := (Plan{}).String(), "no faults"; got != want {
		t.Errorf("empty plan: got %q, want %q", got, want)
	}
	if got, want := len(strings.Split(examplePlan().String(), "\n")), len(examplePlan().Faults); got != want {
		t.Errorf("example plan: got %d lines, want %d", got, want)
	}
}

func TestSort(t *testing.T) {
	p := Plan{Faults: []Fault{
		{Name: "r1", Trigger: After("EndTxn", 1)},
		{Name: "c2-ack", Trigger: AtPhase(2, protocol.AckSent, "")},
		{Name: "t300", Trigger: At(300 * time.Millisecond)},
		{Name: "c1-endtxn", Trigger: AtPhase(1, protocol.EndTxnSent, "")},
		{Name: "r0", Trigger: After("Produce", 9)},
		{Name: "none"},
		{Name: "t100", Trigger: At(100 * time.Millisecond)},
		{Name: "c2-triggered", Trigger: AtPhase(2, protocol.Triggered, "")},
		{Name: "t100b", Trigger: At(100 * time.Millisecond)},
	}}
	p.Sort()
	var got []string
	for _, f := range p.Faults {
		got = append(got, f.Name)
	}
	want := []string{"t100", "t100b", "t300", "c1-endtxn", "c2-triggered", "c2-ack", "r1", "r0", "none"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestKafkaTables(t *testing.T) {
	if code, ok := KafkaErrorCode("NOT_LEADER_FOR_PARTITION"); !ok || code != 6 {
		t.Errorf("KafkaErrorCode(NOT_LEADER_FOR_PARTITION) = %d, %v; want 6, true", code, ok)
	}
	if key, ok := KafkaRequestKey("EndTxn"); !ok || key != 26 {
		t.Errorf("KafkaRequestKey(EndTxn) = %d, %v; want 26, true", key, ok)
	}
	if _, ok := KafkaRequestKey("endtxn"); ok {
		t.Errorf("KafkaRequestKey(endtxn) ok, want names to be case-sensitive")
	}
}
