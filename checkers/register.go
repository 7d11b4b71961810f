package checkers

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/onceproof/onceproof/internal/atomicfile"
)

// OpKind is the kind of a RegisterOp.
type OpKind int

const (
	// Commit is a sink transaction that made Value the key's committed
	// value; its interval is [EndTxn sent, EndTxn acknowledged]. Kinds start
	// at 1 so that an op whose kind was never set is rejected, not read as a
	// commit.
	Commit OpKind = iota + 1
	// Read is a read_committed poll that saw Value as the key's latest
	// committed value; its interval is [poll sent, poll returned].
	Read
)

// String returns "commit" or "read".
func (k OpKind) String() string {
	switch k {
	case Commit:
		return "commit"
	case Read:
		return "read"
	}
	return fmt.Sprintf("opkind(%d)", int(k))
}

// NoReturn is the Return of a commit whose acknowledgement never arrived
// (the sink crashed, or the ack was lost): the commit may take effect at any
// time after its Call. Any Return at or above math.MaxInt64/2 is treated the
// same way; simulated nanoseconds never get near it.
const NoReturn int64 = math.MaxInt64

// noReturnFrom is the smallest Return treated as NoReturn.
const noReturnFrom = math.MaxInt64 / 2

// defaultRegisterTimeout is porcupine's budget when RegisterOptions.Timeout
// is not set.
const defaultRegisterTimeout = 10 * time.Second

// RegisterOp is one operation on a per-key register: the committed output
// seen as a register per key.
type RegisterOp struct {
	// Kind says whether the op is a commit or a read.
	Kind OpKind `json:"kind"`
	// Key is the register.
	Key string `json:"key"`
	// Value is the value committed, or the value read.
	Value int64 `json:"value"`
	// Call is when the op started, in simulated nanoseconds.
	Call int64 `json:"call"`
	// Return is when the op finished, in simulated nanoseconds, or NoReturn
	// for a commit whose outcome the client never learned. Register clamps
	// NoReturn to just after the history's last timestamp.
	Return int64 `json:"return"`
	// Client is the zero-based client that issued the op; it only chooses
	// the row in the visualization.
	Client int `json:"client"`
}

// Annotation marks a fault or other event on the visualization.
type Annotation struct {
	// At is when it happened, in simulated nanoseconds.
	At int64 `json:"at"`
	// Tag is the row it is drawn in, such as "fault"; empty means "fault".
	Tag string `json:"tag"`
	// Description is the text shown.
	Description string `json:"description"`
}

// RegisterOptions tunes Register.
type RegisterOptions struct {
	// Timeout is porcupine's wall-clock budget; zero or negative means 10s.
	// Register may spend up to twice this: once on the whole history and,
	// if that does not pass, once more finding the key that fails.
	Timeout time.Duration `json:"timeout"`
	// VisualizePath, if set, is where porcupine's HTML visualization of the
	// failing key is written when the verdict is Violation or Unknown. It
	// is written atomically (temporary file, sync, rename), so a reader
	// never sees half a file.
	VisualizePath string `json:"visualize_path,omitempty"`
	// Annotations are faults to show on the visualization.
	Annotations []Annotation `json:"annotations,omitempty"`
}

// regInput is a porcupine operation's input. The output of a read is its
// value as an int64; a commit has no output.
type regInput struct {
	kind  OpKind
	key   string
	value int64
}

// registerModel is a register per key whose committed value only grows:
// state is the committed value, initially 0. A commit of a smaller value is
// a regression, and a read must return the state at its linearization point,
// which rules out reading an aborted or not-yet-committed value, or an old
// value after a newer commit was acknowledged.
var registerModel = porcupine.Model{
	Partition: partitionByKey,
	Init:      func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		s := state.(int64)
		in := input.(regInput)
		if in.kind == Commit {
			if in.value < s {
				return false, s
			}
			return true, in.value
		}
		return output.(int64) == s, s
	},
	// The state is an int64 and states are compared with ==, so the
	// identity hash agrees with Equal and spares porcupine's cache most
	// comparisons.
	Hash: func(state any) uint64 { return uint64(state.(int64)) },
	DescribeOperation: func(input, output any) string {
		in := input.(regInput)
		if in.kind == Commit {
			return fmt.Sprintf("commit(%q, %d)", in.key, in.value)
		}
		return fmt.Sprintf("read(%q) -> %d", in.key, output.(int64))
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%d", state.(int64)) },
}

// partitionByKey splits a history into one sub-history per key, in sorted
// key order so that the partitions, and so the reports, are deterministic.
// Keys are independent registers, so the history is linearizable exactly
// when every key's sub-history is (linearizability is compositional), and
// porcupine checks the keys in parallel.
func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := make(map[string][]porcupine.Operation)
	for _, op := range history {
		k := op.Input.(regInput).key
		byKey[k] = append(byKey[k], op)
	}
	parts := make([][]porcupine.Operation, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		parts = append(parts, byKey[k])
	}
	return parts
}

// Register checks with porcupine that the committed output, seen as one
// register per key, is linearizable: each read returns the value of the
// latest commit linearized before it, and commits never go backwards.
//
// A non-linearizable history gives Violation with anomaly
// "nonlinearizable-read" and FirstBad naming the first failing key in sorted
// order. porcupine running out of time gives Unknown ("inconclusive"), never
// Ok. A malformed history (an unknown kind, a negative client, a Return
// before its Call, a read that never returned) gives Unknown too, since
// porcupine's visualization panics on a Return before its Call.
//
// The verdict depends on wall-clock time only through the timeout: a
// history that porcupine decides within the budget always gets the same
// verdict.
func Register(ops []RegisterOp, opts RegisterOptions) Result {
	const name = "register"
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = defaultRegisterTimeout
	}
	history, stats, err := registerHistory(ops)
	if err != nil {
		return invalid(name, err)
	}
	parts := partitionByKey(history)
	keys := make([]string, len(parts))
	for i, p := range parts {
		keys[i] = p[0].Input.(regInput).key
	}
	stats["keys"] = len(keys)

	// The whole history first, all keys in parallel and stopping at the
	// first illegal key: the common case is a pass, and this is the fast way
	// to it.
	whole := porcupine.CheckOperationsTimeout(registerModel, history, timeout)
	if whole == porcupine.Ok {
		return Result{
			Checker: name,
			Verdict: Ok,
			Explanation: fmt.Sprintf("%d operations over %d keys are linearizable as per-key registers (%d commits, %d ambiguous; %d reads)",
				len(ops), len(keys), stats["commits"], stats["ambiguous-commits"], stats["reads"]),
			Stats: stats,
		}
	}

	// Then one key at a time, in sorted order, to name the first key that
	// fails (deterministically, unlike "whichever goroutine lost first") and
	// to get the linearization info the visualization needs for that key
	// alone: a visualization of every key would be unreadably large.
	deadline := time.Now().Add(timeout)
	found := -1
	var foundResult porcupine.CheckResult
	var foundInfo porcupine.LinearizationInfo
	exhausted := false
	for i, part := range parts {
		remaining := time.Until(deadline)
		if remaining <= 0 {
			exhausted = true
			break
		}
		res, info := porcupine.CheckOperationsVerbose(registerModel, part, remaining)
		if res != porcupine.Ok {
			found, foundResult, foundInfo = i, res, info
			break
		}
	}

	var r Result
	switch {
	case found >= 0 && foundResult == porcupine.Illegal:
		longest := 0
		for _, p := range foundInfo.PartialLinearizations() {
			for _, lin := range p {
				longest = max(longest, len(lin))
			}
		}
		r = Result{
			Checker:  name,
			Verdict:  Violation,
			Anomaly:  "nonlinearizable-read",
			FirstBad: fmt.Sprintf("key %q: its %d operations have no linearization (the longest linearizable prefix has %d)", keys[found], len(parts[found]), longest),
			Explanation: fmt.Sprintf("%d operations over %d keys are not linearizable as per-key registers: on key %q a read returned a value that was never committed, was overwritten by an acknowledged commit, or a commit went backwards",
				len(ops), len(keys), keys[found]),
		}
	case found >= 0:
		r = Result{
			Checker:     name,
			Verdict:     Unknown,
			FirstBad:    fmt.Sprintf("key %q: undecided", keys[found]),
			Explanation: fmt.Sprintf("inconclusive: porcupine timed out after %s; key %q (%d operations) is undecided", timeout, keys[found], len(parts[found])),
		}
	case whole == porcupine.Illegal:
		r = Result{
			Checker:     name,
			Verdict:     Violation,
			Anomaly:     "nonlinearizable-read",
			Explanation: fmt.Sprintf("%d operations over %d keys are not linearizable as per-key registers, but finding the failing key ran out of its %s budget", len(ops), len(keys), timeout),
		}
	case exhausted:
		r = Result{
			Checker:     name,
			Verdict:     Unknown,
			Explanation: fmt.Sprintf("inconclusive: porcupine timed out after %s", timeout),
		}
	default:
		// The whole history timed out, but every key passed on its own
		// within the second budget; keys are independent, so the history
		// is linearizable.
		r = Result{
			Checker: name,
			Verdict: Ok,
			Explanation: fmt.Sprintf("%d operations over %d keys are linearizable as per-key registers, checked key by key after the whole history timed out after %s",
				len(ops), len(keys), timeout),
		}
	}
	r.Stats = stats

	if opts.VisualizePath != "" && r.Verdict != Ok && found >= 0 {
		foundInfo.AddAnnotations(porcupineAnnotations(opts.Annotations))
		err := atomicfile.Write(opts.VisualizePath, func(w io.Writer) error {
			return porcupine.Visualize(registerModel, foundInfo, w)
		})
		if err != nil {
			r.Explanation += fmt.Sprintf("; visualization not written: %v", err)
		} else {
			r.Explanation += fmt.Sprintf("; visualization of key %q written to %s", keys[found], opts.VisualizePath)
		}
	}
	return r
}

// registerHistory validates ops and turns them into porcupine operations,
// clamping NoReturn to one past the history's last real timestamp: porcupine
// only cares about order, and a finite end keeps the visualization's time
// axis usable.
func registerHistory(ops []RegisterOp) ([]porcupine.Operation, map[string]int, error) {
	stats := map[string]int{"ops": len(ops), "commits": 0, "reads": 0, "ambiguous-commits": 0}
	var end int64
	for i, op := range ops {
		switch {
		case op.Kind != Commit && op.Kind != Read:
			return nil, nil, fmt.Errorf("op %d: unknown kind %d", i, int(op.Kind))
		case op.Client < 0:
			return nil, nil, fmt.Errorf("op %d (%s key %q): negative client %d", i, op.Kind, op.Key, op.Client)
		case op.Call >= noReturnFrom:
			return nil, nil, fmt.Errorf("op %d (%s key %q): call %d is past the end of time", i, op.Kind, op.Key, op.Call)
		case op.Return < op.Call:
			return nil, nil, fmt.Errorf("op %d (%s key %q): return %d before call %d", i, op.Kind, op.Key, op.Return, op.Call)
		case op.Kind == Read && op.Return >= noReturnFrom:
			// A read that never returned saw nothing; recording a value
			// for it would be inventing one.
			return nil, nil, fmt.Errorf("op %d (read key %q): never returned, so it has no value; leave it out", i, op.Key)
		}
		end = max(end, op.Call)
		if op.Return < noReturnFrom {
			end = max(end, op.Return)
		}
		if op.Kind == Commit {
			stats["commits"]++
		} else {
			stats["reads"]++
		}
	}
	history := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		ret := op.Return
		if ret >= noReturnFrom {
			ret = end + 1
			stats["ambiguous-commits"]++
		}
		var out any
		if op.Kind == Read {
			out = op.Value
		}
		history[i] = porcupine.Operation{
			ClientId: op.Client,
			Input:    regInput{kind: op.Kind, key: op.Key, value: op.Value},
			Call:     op.Call,
			Output:   out,
			Return:   ret,
		}
	}
	return history, stats, nil
}

// porcupineAnnotations converts annotations for porcupine, defaulting the
// tag so that an untagged fault gets its own row instead of landing on
// client 0's.
func porcupineAnnotations(as []Annotation) []porcupine.Annotation {
	out := make([]porcupine.Annotation, 0, len(as))
	for _, a := range as {
		tag := a.Tag
		if tag == "" {
			tag = "fault"
		}
		out = append(out, porcupine.Annotation{Tag: tag, Start: a.At, Description: a.Description})
	}
	return out
}
