package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"strconv"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
)

// EventKind says what an Event records. Each kind's comment names the
// fields it uses; the others are zero.
type EventKind uint8

// The kinds of event. The text each renders to is in the comment.
const (
	// EventNote is free text: "Proc Detail", or "Detail" without a Proc.
	EventNote EventKind = iota
	// EventSpawn: "spawn Proc".
	EventSpawn
	// EventStart: "start Proc inc=N"; N is the incarnation, so N > 0 is a
	// restart.
	EventStart
	// EventKill: "kill Proc inc=N: Detail" (Detail is the reason).
	EventKill
	// EventPause: "pause Proc inc=N".
	EventPause
	// EventResume: "resume Proc inc=N held=M" (M messages held while paused).
	EventResume
	// EventLinkBroken: "link Proc-Peer broken" (a process at one end died).
	EventLinkBroken
	// EventPartition: "partition Proc|Peer" (both directions cut).
	EventPartition
	// EventCut: "cut Proc->Peer" (one direction cut).
	EventCut
	// EventHeal: "heal Proc|Peer".
	EventHeal
	// EventSlow: "slow Proc|Peer +Dur" (Dur 0: back to normal).
	EventSlow
	// EventKafkaTopic: "kafka topic Name partitions=N".
	EventKafkaTopic
	// EventKafkaFault: "kafka fault Name err=Err count=N" (Name lists the
	// request kinds the broker fails).
	EventKafkaFault
	// EventKafkaSent: "kafka#N Proc -> Detail": call N sent by Proc; Op is
	// the request kind ("EndTxn"), Commit an EndTxn's decision, Detail the
	// request in logical terms.
	EventKafkaSent
	// EventKafkaRequestLost: "kafka#N request lost" (Proc sent it).
	EventKafkaRequestLost
	// EventKafkaApplied: "kafka#N applied: Detail" (Proc sent it; Detail is
	// the response).
	EventKafkaApplied
	// EventKafkaResponseLost: "kafka#N response lost" (Proc sent it).
	EventKafkaResponseLost
	// EventKafkaRule: `kafka#N rule "Name": Detail` (Detail is the fate;
	// M is the rule's KafkaRule.Fault).
	EventKafkaRule
	// EventKafkaTxnAborted: "kafka broker aborted transaction Name: Detail
	// (err=Err)".
	EventKafkaTxnAborted
	// EventStoreFailed: "store Op Name failed: Err".
	EventStoreFailed
	// EventStoreCorrupt: "store corrupt Name at N".
	EventStoreCorrupt
	// EventStoreLost: "store lost Name (deleted by fault N)".
	EventStoreLost
	// EventProtocol is a step of the engine's protocol: "Proc Phase cp=N
	// Task Detail" (cp only for N > 0). An EndTxnSent step also carries
	// Commit (false: abort), Recover (it commits what the restored
	// checkpoint pre-committed) and Lost (the broker refused a
	// pre-committed transaction).
	EventProtocol
	// EventDeploy: "Proc deploy attempt N on Detail" (Detail is the
	// placement).
	EventDeploy
	// EventFaultFired: "fault N fired: Detail" (N is the plan index, Name
	// the fault's name, Detail its action).
	EventFaultFired
	// EventFaultSkipped: "Op Name: Err" or "Op: Detail": the action Op of a
	// fault could not be done on Name.
	EventFaultSkipped
	// EventMessageFault: "Proc message fault: Op Name Task->Peer cp=N": a
	// message rule did Op to a message of type Name from Task to Peer.
	EventMessageFault
	// EventDiskError: "Proc disk read error (fault N, M left): Name".
	EventDiskError
	// EventHealAll: "heal: faults lifted, liveness phase".
	EventHealAll
	// EventFinished: "Proc Detail finished" (a process finished its work).
	EventFinished
	// EventEnd: "end Detail" (the run's summary).
	EventEnd
)

// Event is one entry of the trace, with its data in fields. Its text
// (Line) is rendered only when asked for: for the digest, for Lines and
// for a tap.
type Event struct {
	At   Time
	Kind EventKind
	// Proc is the process the event is about or that recorded it; Peer
	// the other end of a link or of a message.
	Proc, Peer string
	// Name is the object, topic, transaction, rule or fault the event is
	// about; Op an operation, request kind or fault action.
	Name, Op string
	// Phase, Task: an EventProtocol step and the task that took it.
	Phase protocol.Phase
	Task  string
	// N and M are the event's numbers (incarnation, call, checkpoint,
	// fault index, attempt, ...; see the kind).
	N, M int64
	Dur  time.Duration
	Err  error
	// Commit, Recover, Lost: see EventKafkaSent and EventProtocol.
	Commit, Recover, Lost bool
	// Detail is the rest of the text.
	Detail string
}

// Restart reports whether e is the start of a process that had run before.
func (e Event) Restart() bool { return e.Kind == EventStart && e.N > 0 }

// Text is the event rendered without its time.
func (e Event) Text() string { return string(e.appendText(nil)) }

// Line is the event as the trace holds it: the time in nanoseconds, right
// aligned in 12 columns, then the text.
func (e Event) Line() string { return string(e.appendLine(nil)) }

func (e Event) appendLine(b []byte) []byte {
	var num [20]byte
	ts := strconv.AppendInt(num[:0], int64(e.At), 10)
	for i := len(ts); i < 12; i++ {
		b = append(b, ' ')
	}
	b = append(b, ts...)
	b = append(b, ' ')
	return e.appendText(b)
}

func (e Event) appendText(b []byte) []byte {
	str := func(ss ...string) {
		for _, s := range ss {
			b = append(b, s...)
		}
	}
	num := func(n int64) { b = strconv.AppendInt(b, n, 10) }
	inc := func(verb string) {
		str(verb, " ", e.Proc, " inc=")
		num(e.N)
	}
	call := func() {
		b = append(b, "kafka#"...)
		num(e.N)
	}
	switch e.Kind {
	case EventNote:
		if e.Proc != "" {
			str(e.Proc, " ")
		}
		str(e.Detail)
	case EventSpawn:
		str("spawn ", e.Proc)
	case EventStart:
		inc("start")
	case EventKill:
		inc("kill")
		str(": ", e.Detail)
	case EventPause:
		inc("pause")
	case EventResume:
		inc("resume")
		str(" held=")
		num(e.M)
	case EventLinkBroken:
		str("link ", e.Proc, "-", e.Peer, " broken")
	case EventPartition:
		str("partition ", e.Proc, "|", e.Peer)
	case EventCut:
		str("cut ", e.Proc, "->", e.Peer)
	case EventHeal:
		str("heal ", e.Proc, "|", e.Peer)
	case EventSlow:
		str("slow ", e.Proc, "|", e.Peer, " +", e.Dur.String())
	case EventKafkaTopic:
		str("kafka topic ", e.Name, " partitions=")
		num(e.N)
	case EventKafkaFault:
		str("kafka fault ", e.Name, " err=", errText(e.Err), " count=")
		num(e.N)
	case EventKafkaSent:
		call()
		str(" ", e.Proc, " -> ", e.Detail)
	case EventKafkaRequestLost:
		call()
		str(" request lost")
	case EventKafkaApplied:
		call()
		str(" applied: ", e.Detail)
	case EventKafkaResponseLost:
		call()
		str(" response lost")
	case EventKafkaRule:
		call()
		str(" rule ", strconv.Quote(e.Name), ": ", e.Detail)
	case EventKafkaTxnAborted:
		str("kafka broker aborted transaction ", e.Name, ": ", e.Detail, " (err=", errText(e.Err), ")")
	case EventStoreFailed:
		str("store ", e.Op, " ", e.Name, " failed: ", errText(e.Err))
	case EventStoreCorrupt:
		str("store corrupt ", e.Name, " at ")
		num(e.N)
	case EventStoreLost:
		str("store lost ", e.Name, " (deleted by fault ")
		num(e.N)
		str(")")
	case EventProtocol:
		str(e.Proc, " ", string(e.Phase))
		if e.N > 0 {
			str(" cp=")
			num(e.N)
		}
		if e.Task != "" {
			str(" ", e.Task)
		}
		if e.Detail != "" {
			str(" ", e.Detail)
		}
	case EventDeploy:
		str(e.Proc, " deploy attempt ")
		num(e.N)
		str(" on ", e.Detail)
	case EventFaultFired:
		str("fault ")
		num(e.N)
		str(" fired: ", e.Detail)
	case EventFaultSkipped:
		str(e.Op)
		if e.Name != "" {
			str(" ", e.Name)
		}
		if e.Err != nil {
			str(": ", e.Err.Error())
		} else {
			str(": ", e.Detail)
		}
	case EventMessageFault:
		str(e.Proc, " message fault: ", e.Op, " ", e.Name, " ", e.Task, "->", e.Peer, " cp=")
		num(e.N)
	case EventDiskError:
		str(e.Proc, " disk read error (fault ")
		num(e.N)
		str(", ")
		num(e.M)
		str(" left): ", e.Name)
	case EventHealAll:
		str("heal: faults lifted, liveness phase")
	case EventFinished:
		str(e.Proc, " ", e.Detail, " finished")
	case EventEnd:
		str("end ", e.Detail)
	default:
		str("event kind ")
		num(int64(e.Kind))
	}
	return b
}

// errText renders err as %v does.
func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// Trace records a run as a list of typed events and keeps a SHA-256 of
// their lines. Two runs are the same run exactly when their digests are
// equal. A line is rendered only when it is needed: for the digest (in
// batches, or when Digest is called), for Lines and for a tap.
type Trace struct {
	keep   bool
	events []Event // kept, or (without keep) not yet hashed
	hashed int     // events[:hashed] are in h
	lines  []string
	n      int
	h      hash.Hash
	buf    []byte
	tap    func(line string)
}

// hashBatch is how many events a trace that keeps nothing holds before it
// hashes them.
const hashBatch = 1024

func newTrace(keep bool) *Trace { return &Trace{keep: keep, h: sha256.New()} }

func (t *Trace) add(e Event) {
	t.n++
	t.events = append(t.events, e)
	if t.tap != nil {
		t.tap(e.Line())
	}
	if !t.keep && len(t.events) >= hashBatch {
		t.hash()
	}
}

// hash brings the digest up to date with every event recorded.
func (t *Trace) hash() {
	for _, e := range t.events[t.hashed:] {
		t.buf = append(e.appendLine(t.buf[:0]), '\n')
		t.h.Write(t.buf)
	}
	t.hashed = len(t.events)
	if !t.keep {
		t.events, t.hashed = t.events[:0], 0
	}
}

// Tap calls fn with every line recorded from now on (for live printing).
func (t *Trace) Tap(fn func(line string)) { t.tap = fn }

// Len is the number of events recorded.
func (t *Trace) Len() int { return t.n }

// Events returns the recorded events; it is empty unless Config.KeepTrace
// is set. The caller must not change them.
func (t *Trace) Events() []Event {
	if !t.keep {
		return nil
	}
	return t.events
}

// Lines returns the recorded events rendered, one line each; it is empty
// unless Config.KeepTrace is set.
func (t *Trace) Lines() []string {
	if !t.keep {
		return nil
	}
	for _, e := range t.events[len(t.lines):] {
		t.lines = append(t.lines, e.Line())
	}
	return t.lines
}

// Digest returns the hex SHA-256 of every line recorded so far.
func (t *Trace) Digest() string {
	t.hash()
	// Sum appends to its argument and does not change the running state.
	return hex.EncodeToString(t.h.Sum(nil))
}

// WriteTo writes the kept lines to wr, one per line.
func (t *Trace) WriteTo(wr io.Writer) (int64, error) {
	var b []byte
	for _, e := range t.Events() {
		b = append(e.appendLine(b), '\n')
	}
	n, err := wr.Write(b)
	return int64(n), err
}

// Lines renders events, one line each.
func Lines(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Line()
	}
	return out
}
