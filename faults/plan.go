package faults

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
)

// Plan is a fault schedule: every fault a run injects, as data. A plan is
// what a failure bundle saves, what replay loads and what a shrinker cuts
// down, so nothing about a fault may live outside it.
type Plan struct {
	Faults []Fault `json:"faults"`
}

// Fault is one action taken when its trigger fires. A fault fires at most
// once; a plan that wants a worker killed twice lists two faults.
type Fault struct {
	// Name is an optional label, shown in errors, String and the trace.
	Name    string  `json:"name,omitempty"`
	Trigger Trigger `json:"trigger"`
	Action  Action  `json:"action"`
}

// Trigger says when a fault fires. Exactly one of its forms is set; Validate
// rejects none and several. The forms are pointers so that "at 0s" (from
// the start) differs from "not a time trigger". In JSON a trigger is one of
// {"at": "150ms"}, {"phase": {"checkpoint": 3, "phase": "aligned", "task":
// "w1"}} and {"after_requests": {"kind": "EndTxn", "count": 2}}.
type Trigger struct {
	// At fires at this simulated time since the start of the run.
	At *time.Duration
	// Phase fires when a checkpoint reaches a phase of the protocol.
	Phase *PhaseTrigger
	// AfterRequests fires on the Count-th Kafka request of a kind.
	AfterRequests *RequestTrigger
}

// PhaseTrigger fires when checkpoint Checkpoint reaches Phase, on Task if
// one is named (otherwise the first task to reach it). The fault acts in the
// same simulated step as the phase, before anything else happens: "kill at
// metadata-written" kills after the commit point and before any task hears
// that the checkpoint completed.
type PhaseTrigger struct {
	// Checkpoint is the checkpoint's number, from 1.
	Checkpoint int64          `json:"checkpoint"`
	Phase      protocol.Phase `json:"phase"`
	// Task narrows the phase to one task ("sink/0": operator/subtask) or to
	// the tasks of one worker ("w1"). Empty matches any task. The
	// coordinator's own phases (triggered, metadata-written) take no task.
	Task string `json:"task,omitempty"`
}

// RequestTrigger fires as the Count-th Kafka request of kind Kind (counted
// over the whole run, every process together) is sent, before the broker
// sees it. A Kafka action it arms therefore applies to that very request:
// "after 2nd EndTxn: drop response of EndTxn" loses the answer to the second
// EndTxn.
type RequestTrigger struct {
	// Kind is a Kafka request name as kmsg spells it (see KafkaRequests).
	Kind  string `json:"kind"`
	Count int    `json:"count"`
}

// At returns a trigger that fires at simulated time d.
func At(d time.Duration) Trigger { return Trigger{At: &d} }

// AtPhase returns a trigger that fires when checkpoint n reaches phase on
// task (empty: any task).
func AtPhase(n int64, phase protocol.Phase, task string) Trigger {
	return Trigger{Phase: &PhaseTrigger{Checkpoint: n, Phase: phase, Task: task}}
}

// After returns a trigger that fires on the count-th request of kind.
func After(kind string, count int) Trigger {
	return Trigger{AfterRequests: &RequestTrigger{Kind: kind, Count: count}}
}

// ActionKind names what a fault does.
type ActionKind string

// The action kinds, by what they hit. The fields each kind uses are listed;
// Validate rejects any other field set. A Duration of 0 means "until the
// liveness phase heals everything".
const (
	// KillWorker kills Worker: memory, timers and in-flight messages are
	// lost, its disk keeps what was synced. It restarts after Duration.
	KillWorker ActionKind = "kill-worker"
	// KillCoordinator kills the checkpoint coordinator; it restarts after
	// Duration.
	KillCoordinator ActionKind = "kill-coordinator"
	// PauseWorker freezes Worker for Duration, then lets it carry on as if
	// nothing happened: a zombie, since the job may have moved on.
	PauseWorker ActionKind = "pause-worker"
	// Partition cuts the link between Worker and Peer both ways for
	// Duration.
	Partition ActionKind = "partition"
	// PartitionOneWay stops messages from Worker to Peer for Duration.
	PartitionOneWay ActionKind = "partition-one-way"
	// Isolate cuts every link of Worker for Duration.
	Isolate ActionKind = "isolate"
	// SlowLink adds Extra latency between Worker and Peer for Duration.
	SlowLink ActionKind = "slow-link"
	// KafkaError makes the broker answer the next Count requests of kind
	// Request with the Kafka error Error (kfake's Fault).
	KafkaError ActionKind = "kafka-error"
	// DropRequest loses the next Count requests of kind Request before the
	// broker: never applied, the caller sees a timeout.
	DropRequest ActionKind = "drop-request"
	// DropResponse applies the next Count requests of kind Request and
	// loses their responses: the ambiguous case.
	DropResponse ActionKind = "drop-response"
	// RestartBroker restarts the broker cleanly: connections break,
	// committed data and transaction state survive.
	RestartBroker ActionKind = "restart-broker"
	// ExpireTxn aborts and fences transaction TxnID (empty: the sink's
	// current one) as a broker does when its timeout passes.
	ExpireTxn ActionKind = "expire-txn"
	// DiskCrash kills Worker and drops the unsynced part of its local disk
	// (pebble's CrashClone); it restarts after Duration.
	DiskCrash ActionKind = "disk-crash"
	// DiskReadError fails reads of Worker's state files, Count times; each
	// read fails with probability Percent (0 means every read).
	DiskReadError ActionKind = "disk-read-error"
	// StorageWriteFail fails the next Count writes to checkpoint storage.
	StorageWriteFail ActionKind = "storage-write-fail"
	// StorageSlow adds Extra to every checkpoint storage write for Duration.
	StorageSlow ActionKind = "storage-slow"
	// CorruptCheckpoint corrupts Object in checkpoint storage ("latest":
	// the newest completed checkpoint's first task snapshot;
	// "latest-shared": the first shared state file it references).
	CorruptCheckpoint ActionKind = "corrupt-checkpoint"
	// DeleteCheckpointFile deletes Object from checkpoint storage, as a
	// clean-up script or a bucket lifecycle rule that gets it wrong would
	// ("latest": the newest completed checkpoint's first task snapshot;
	// "latest-shared": the first shared state file it references). A file
	// of a retained completed checkpoint that goes is lost state, and the
	// run must fail saying so.
	DeleteCheckpointFile ActionKind = "delete-checkpoint-file"
	// DropMessage loses the next Count control messages of the engine
	// (0: one) that match Message (a type such as "notify-complete"), From,
	// To ("coordinator", "executor" or a task such as "sink/0") and
	// Checkpoint; an empty or zero field matches any.
	DropMessage ActionKind = "drop-message"
	// DelayMessage holds such messages for Extra before they are sent, so
	// that later ones overtake them.
	DelayMessage ActionKind = "delay-message"
	// DuplicateMessage delivers such messages twice, the copy Extra later
	// (0: at once), as a retransmission would.
	DuplicateMessage ActionKind = "duplicate-message"
)

// Coordinator is the name of the checkpoint coordinator's process, allowed
// as Worker or Peer in link faults.
const Coordinator = "coordinator"

// LatestCheckpoint is the Object of a CorruptCheckpoint or
// DeleteCheckpointFile action that hits the newest completed checkpoint:
// its first task snapshot.
const LatestCheckpoint = "latest"

// LatestShared is the Object of a storage action that hits the first
// shared state file (sorted by name) the newest completed checkpoint
// references: an SST of an incremental (pebble) checkpoint, which later
// checkpoints reference too.
const LatestShared = "latest-shared"

// Action is what a fault does. Kind decides which other fields are used (see
// the ActionKind constants); the rest stay zero. In JSON the fields are
// kind, worker, peer, duration, extra, request, error, count, txn_id,
// object, percent, message, from, to and checkpoint, durations as strings,
// zero fields omitted.
type Action struct {
	Kind ActionKind
	// Worker is "w0".."wN", or Coordinator where the kind allows it.
	Worker string
	// Peer is the other end of a link.
	Peer string
	// Duration is how long the fault lasts, or a kill's restart delay; 0
	// lasts until the liveness phase heals everything.
	Duration time.Duration
	// Extra is latency added by a slow link or slow storage.
	Extra time.Duration
	// Request is a Kafka request name (see KafkaRequests).
	Request string
	// Error is a Kafka error name (see KafkaErrors).
	Error string
	// Count is how many requests, reads or writes the fault hits.
	Count int
	// TxnID is a transactional id.
	TxnID string
	// Object is a checkpoint storage object path, or LatestCheckpoint.
	Object string
	// Percent is a probability in percent.
	Percent int
	// Message, From, To and Checkpoint choose the control messages a
	// message fault hits: a message type, its sender and receiver, the
	// checkpoint it is about.
	Message  string
	From, To string
	// Checkpoint is a checkpoint number, from 1.
	Checkpoint int64
}

// need says whether a kind uses a field.
type need uint8

const (
	unused need = iota
	optional
	required
)

// kindSpec is the field table of one kind: what Validate checks, and what
// String and the swarm use.
type kindSpec struct {
	worker, peer, duration, extra, request, errorName, count, txnID, object, percent need
	// message covers the four fields that choose a control message.
	message need
	// coordinator allows Coordinator as Worker and Peer.
	coordinator bool
}

// specs is in the order AllKinds returns: processes, links, Kafka, disks and
// storage.
var specs = []struct {
	kind ActionKind
	kindSpec
}{
	{KillWorker, kindSpec{worker: required, duration: optional}},
	{KillCoordinator, kindSpec{duration: optional}},
	{PauseWorker, kindSpec{worker: required, duration: optional}},
	{Partition, kindSpec{worker: required, peer: required, duration: optional, coordinator: true}},
	{PartitionOneWay, kindSpec{worker: required, peer: required, duration: optional, coordinator: true}},
	{Isolate, kindSpec{worker: required, duration: optional, coordinator: true}},
	{SlowLink, kindSpec{worker: required, peer: required, extra: required, duration: optional, coordinator: true}},
	{KafkaError, kindSpec{request: required, errorName: required, count: required}},
	{DropRequest, kindSpec{request: required, count: required}},
	{DropResponse, kindSpec{request: required, count: required}},
	{RestartBroker, kindSpec{}},
	{ExpireTxn, kindSpec{txnID: optional}},
	{DiskCrash, kindSpec{worker: required, duration: optional}},
	{DiskReadError, kindSpec{worker: required, count: required, percent: optional}},
	{StorageWriteFail, kindSpec{count: required}},
	{StorageSlow, kindSpec{extra: required, duration: optional}},
	{CorruptCheckpoint, kindSpec{object: required}},
	{DeleteCheckpointFile, kindSpec{object: required}},
	{DropMessage, kindSpec{message: optional, count: optional}},
	{DelayMessage, kindSpec{message: optional, count: optional, extra: required}},
	{DuplicateMessage, kindSpec{message: optional, count: optional, extra: optional}},
}

func specOf(k ActionKind) (kindSpec, bool) {
	for _, s := range specs {
		if s.kind == k {
			return s.kindSpec, true
		}
	}
	return kindSpec{}, false
}

// Valid reports whether k is a known kind.
func (k ActionKind) Valid() bool {
	_, ok := specOf(k)
	return ok
}

// AllKinds returns every action kind: processes, links, Kafka, disks and
// storage, control messages, in that order.
func AllKinds() []ActionKind {
	out := make([]ActionKind, len(specs))
	for i, s := range specs {
		out[i] = s.kind
	}
	return out
}

// ProcessKinds returns the kinds that kill or pause processes.
func ProcessKinds() []ActionKind { return []ActionKind{KillWorker, KillCoordinator, PauseWorker} }

// LinkKinds returns the kinds that cut or slow links.
func LinkKinds() []ActionKind { return []ActionKind{Partition, PartitionOneWay, Isolate, SlowLink} }

// KafkaKinds returns the kinds that act on Kafka requests and the broker.
func KafkaKinds() []ActionKind {
	return []ActionKind{KafkaError, DropRequest, DropResponse, RestartBroker, ExpireTxn}
}

// MessageKinds returns the kinds that act on the engine's control messages.
func MessageKinds() []ActionKind { return []ActionKind{DropMessage, DelayMessage, DuplicateMessage} }

// StorageKinds returns the kinds that act on local disks and checkpoint
// storage.
func StorageKinds() []ActionKind {
	return []ActionKind{DiskCrash, DiskReadError, StorageWriteFail, StorageSlow, CorruptCheckpoint, DeleteCheckpointFile}
}

// WorkerName returns the name of worker i: "w0", "w1", ...
func WorkerName(i int) string { return "w" + strconv.Itoa(i) }

// workerIndex returns i for a name WorkerName(i) spells, or -1.
func workerIndex(name string) int {
	digits, ok := strings.CutPrefix(name, "w")
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(digits)
	if err != nil || i < 0 || WorkerName(i) != name {
		return -1
	}
	return i
}

// FieldError is what is wrong with one field of one fault of a plan, or
// with the plan itself (Fault < 0). Validate and Parse return these, joined
// with errors.Join when there are several.
type FieldError struct {
	// Fault is the fault's index in Plan.Faults, or -1.
	Fault int
	// Name is the fault's label, if it has one.
	Name string
	// Field is the JSON path of the field, such as "action.worker".
	Field string
	Err   error
	// Line and Column are where the field is in the plan's file (from
	// 1), when Parse read one; 0 otherwise.
	Line, Column int
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	if e.Fault >= 0 {
		fmt.Fprintf(&b, "fault %d", e.Fault)
		if e.Name != "" {
			fmt.Fprintf(&b, " (%q)", e.Name)
		}
	} else {
		b.WriteString("plan")
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

// problem is a FieldError before it knows which fault it belongs to.
type problem struct {
	field string
	err   error
}

func problemf(field, format string, args ...any) problem {
	return problem{field, fmt.Errorf(format, args...)}
}

// Validate checks the plan against a topology of workers workers ("w0" ..
// "w{workers-1}"). It reports every problem it finds, each a *FieldError
// naming the fault and the field.
func (p Plan) Validate(workers int) error {
	var errs []error
	for i, f := range p.Faults {
		for _, pr := range f.problems(workers) {
			errs = append(errs, &FieldError{Fault: i, Name: f.Name, Field: pr.field, Err: pr.err})
		}
	}
	return errors.Join(errs...)
}

func (f Fault) problems(workers int) []problem {
	return append(f.Trigger.problems(workers), f.Action.problems(workers)...)
}

func (t Trigger) forms() []string {
	var set []string
	if t.At != nil {
		set = append(set, "at")
	}
	if t.Phase != nil {
		set = append(set, "phase")
	}
	if t.AfterRequests != nil {
		set = append(set, "after_requests")
	}
	return set
}

func (t Trigger) problems(workers int) []problem {
	switch set := t.forms(); len(set) {
	case 0:
		return []problem{problemf("trigger", "none set (want one of at, phase, after_requests)")}
	case 1:
	default:
		return []problem{problemf("trigger", "%s set at once (want exactly one)", strings.Join(set, ", "))}
	}
	var out []problem
	switch {
	case t.At != nil:
		if *t.At < 0 {
			out = append(out, problemf("trigger.at", "%v is negative", *t.At))
		}
	case t.Phase != nil:
		ph := t.Phase
		if ph.Checkpoint < 1 {
			out = append(out, problemf("trigger.phase.checkpoint", "%d is not a checkpoint number (want >= 1)", ph.Checkpoint))
		}
		switch {
		case ph.Phase == "":
			out = append(out, problemf("trigger.phase.phase", "missing (want one of %s)", phaseList()))
		case !ph.Phase.Valid():
			out = append(out, problemf("trigger.phase.phase", "unknown phase %q (want one of %s)", ph.Phase, phaseList()))
		case ph.Task != "" && !ph.Phase.TakesTask():
			out = append(out, problemf("trigger.phase.task", "%s is the coordinator's phase and takes no task (got %q)", ph.Phase, ph.Task))
		}
		if ph.Task != "" {
			if pr, ok := taskProblem(ph.Task, workers); !ok {
				out = append(out, pr)
			}
		}
	case t.AfterRequests != nil:
		rt := t.AfterRequests
		if _, ok := KafkaRequestKey(rt.Kind); !ok {
			out = append(out, problemf("trigger.after_requests.kind", "unknown Kafka request %q (want one of %s)", rt.Kind, strings.Join(KafkaRequests(), ", ")))
		}
		if rt.Count < 1 {
			out = append(out, problemf("trigger.after_requests.count", "%d (want >= 1)", rt.Count))
		}
	}
	return out
}

func phaseList() string {
	var names []string
	for _, p := range protocol.Phases() {
		names = append(names, string(p))
	}
	return strings.Join(names, ", ")
}

// taskProblem checks a task name: a worker that exists, or
// "operator/subtask" with a non-negative subtask index.
func taskProblem(task string, workers int) (problem, bool) {
	if strings.HasPrefix(task, "w") && !strings.Contains(task, "/") {
		if i := workerIndex(task); i < 0 || i >= workers {
			return problemf("trigger.phase.task", "worker %q does not exist (workers: %s)", task, workerRange(workers, false)), false
		}
		return problem{}, true
	}
	op, sub, ok := strings.Cut(task, "/")
	if n, err := strconv.Atoi(sub); !ok || op == "" || err != nil || n < 0 || strconv.Itoa(n) != sub {
		return problemf("trigger.phase.task", "%q is neither a worker nor operator/subtask like \"sink/0\"", task), false
	}
	return problem{}, true
}

func workerRange(workers int, coordinator bool) string {
	var s string
	switch {
	case workers <= 0:
		s = "none"
	case workers == 1:
		s = "w0"
	default:
		s = "w0.." + WorkerName(workers-1)
	}
	if coordinator {
		s += ", " + Coordinator
	}
	return s
}

func (a Action) problems(workers int) []problem {
	if a.Kind == "" {
		return []problem{problemf("action.kind", "missing (want one of %s)", kindList())}
	}
	s, ok := specOf(a.Kind)
	if !ok {
		return []problem{problemf("action.kind", "unknown kind %q (want one of %s)", a.Kind, kindList())}
	}
	var out []problem
	// use checks one field against its need: set when unused, or zero when
	// required.
	use := func(field string, n need, set bool) bool {
		switch {
		case n == unused && set:
			out = append(out, problemf("action."+field, "not used by %s", a.Kind))
		case n == required && !set:
			out = append(out, problemf("action."+field, "missing (required by %s)", a.Kind))
		default:
			return set
		}
		return false
	}
	proc := func(field, name string) {
		if name == Coordinator {
			if !s.coordinator {
				out = append(out, problemf("action."+field, "%s cannot be the coordinator (workers: %s)", a.Kind, workerRange(workers, false)))
			}
			return
		}
		if i := workerIndex(name); i < 0 || i >= workers {
			out = append(out, problemf("action."+field, "%q does not exist (workers: %s)", name, workerRange(workers, s.coordinator)))
		}
	}
	if use("worker", s.worker, a.Worker != "") {
		proc("worker", a.Worker)
	}
	if use("peer", s.peer, a.Peer != "") {
		proc("peer", a.Peer)
		if a.Peer == a.Worker {
			out = append(out, problemf("action.peer", "%q is the worker itself", a.Peer))
		}
	}
	if use("duration", s.duration, a.Duration != 0) && a.Duration < 0 {
		out = append(out, problemf("action.duration", "%v is negative", a.Duration))
	}
	if use("extra", s.extra, a.Extra != 0) && a.Extra < 0 {
		out = append(out, problemf("action.extra", "%v is negative", a.Extra))
	}
	if use("request", s.request, a.Request != "") {
		if _, ok := KafkaRequestKey(a.Request); !ok {
			out = append(out, problemf("action.request", "unknown Kafka request %q (want one of %s)", a.Request, strings.Join(KafkaRequests(), ", ")))
		}
	}
	if use("error", s.errorName, a.Error != "") {
		if _, ok := KafkaErrorCode(a.Error); !ok {
			out = append(out, problemf("action.error", "unknown Kafka error %q (want one of %s)", a.Error, strings.Join(KafkaErrors(), ", ")))
		}
	}
	if a.Count < 0 {
		out = append(out, problemf("action.count", "%d is negative", a.Count))
	} else {
		use("count", s.count, a.Count != 0)
	}
	use("txn_id", s.txnID, a.TxnID != "")
	if use("object", s.object, a.Object != "") {
		if err := objectProblem(a.Object); err != nil {
			out = append(out, problem{"action.object", err})
		}
	}
	if use("percent", s.percent, a.Percent != 0) && (a.Percent < 0 || a.Percent > 100) {
		out = append(out, problemf("action.percent", "%d is not a percentage (want 0..100)", a.Percent))
	}
	if use("message", s.message, a.Message != "") {
		if t, err := protocol.ParseMsgType(a.Message); err != nil || !t.Control() {
			out = append(out, problemf("action.message", "%q is not a control message (want one of %s)", a.Message, controlList()))
		}
	}
	for _, e := range []struct{ field, name string }{{"from", a.From}, {"to", a.To}} {
		if use(e.field, s.message, e.name != "") {
			if pr, ok := endpointProblem(e.field, e.name); !ok {
				out = append(out, pr)
			}
		}
	}
	if use("checkpoint", s.message, a.Checkpoint != 0) && a.Checkpoint < 0 {
		out = append(out, problemf("action.checkpoint", "%d is not a checkpoint number (want >= 1)", a.Checkpoint))
	}
	return out
}

// ControlMessages lists the control message types a message fault can
// name.
func ControlMessages() []string {
	var names []string
	for _, t := range protocol.MsgTypes() {
		if t.Control() {
			names = append(names, t.String())
		}
	}
	return names
}

func controlList() string { return strings.Join(ControlMessages(), ", ") }

// endpointProblem checks a message endpoint: the coordinator, the executor,
// or a task "operator/subtask".
func endpointProblem(field, name string) (problem, bool) {
	if name == Coordinator || name == "executor" {
		return problem{}, true
	}
	op, sub, ok := strings.Cut(name, "/")
	if n, err := strconv.Atoi(sub); !ok || op == "" || err != nil || n < 0 || strconv.Itoa(n) != sub {
		return problemf("action."+field, "%q is not coordinator, executor or a task like \"sink/0\"", name), false
	}
	return problem{}, true
}

// objectProblem checks a storage object: a selector, or a relative path
// that stays inside checkpoint storage and names a file.
func objectProblem(o string) error {
	if o == LatestCheckpoint || o == LatestShared {
		return nil
	}
	// An empty element is a leading, trailing or doubled slash.
	if parts := strings.Split(o, "/"); slices.Contains(parts, "..") || slices.Contains(parts, ".") || slices.Contains(parts, "") {
		return fmt.Errorf("%q is not a file path in checkpoint storage (want %q, %q or a relative path like \"checkpoints/keyed-count/chk-3/count-0\")", o, LatestCheckpoint, LatestShared)
	}
	return nil
}

func kindList() string {
	var names []string
	for _, s := range specs {
		names = append(names, string(s.kind))
	}
	return strings.Join(names, ", ")
}

// Sort orders the faults by trigger, stably: time triggers by At, then phase
// triggers by checkpoint and protocol order of the phase, then request
// triggers in their current order. A trigger with no form set sorts last.
// Sorting gives a plan one canonical order, which helps when shrinking and
// when comparing two plans by eye.
func (p *Plan) Sort() {
	slices.SortStableFunc(p.Faults, func(a, b Fault) int {
		ca, cb := a.Trigger.class(), b.Trigger.class()
		if c := cmp.Compare(ca, cb); c != 0 {
			return c
		}
		switch ca {
		case 0:
			return cmp.Compare(*a.Trigger.At, *b.Trigger.At)
		case 1:
			pa, pb := a.Trigger.Phase, b.Trigger.Phase
			if c := cmp.Compare(pa.Checkpoint, pb.Checkpoint); c != 0 {
				return c
			}
			return cmp.Compare(slices.Index(protocol.Phases(), pa.Phase), slices.Index(protocol.Phases(), pb.Phase))
		}
		return 0
	})
}

func (t Trigger) class() int {
	switch {
	case t.At != nil:
		return 0
	case t.Phase != nil:
		return 1
	case t.AfterRequests != nil:
		return 2
	}
	return 3
}
