package scenarios

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/internal/judge"
	"github.com/onceproof/onceproof/sim/cluster"
)

// Judgement is what the checkers say about one simulated run.
type Judgement struct {
	// Verdicts are the checkers' results, in a fixed order: liveness (or
	// the run's own failure), the output checks, the input check, state at
	// checkpoint, porcupine, the engine's lost transactions.
	Verdicts []checkers.Result
	// OutputDigest is the SHA-256 of the committed output as a sorted list
	// of key/value pairs: two runs that committed the same records, in any
	// partitions and offsets, have the same digest.
	OutputDigest string
	// Attachments are files worth keeping with a failure (porcupine's
	// visualization), by name.
	Attachments map[string][]byte
}

// Verdict is the worst of the checkers' verdicts.
func (j *Judgement) Verdict() checkers.Verdict { return checkers.Worst(j.Verdicts...) }

// judgeReadTimeout bounds each read of a topic after the run.
const judgeReadTimeout = 30 * time.Second

// Judge judges the run of c that ended with res. c must still be open: the
// input and the committed output are read back from its broker with
// consumers of their own (package observe), never through the simulator.
func Judge(ctx context.Context, c *cluster.Cluster, res *cluster.Result) *Judgement {
	h := res.History
	j := &Judgement{}
	switch {
	case res.Err != nil:
		j.add(checkers.Result{Checker: "run", Verdict: checkers.Unknown, Anomaly: "run-error", Explanation: res.Err.Error()})
	case !res.Drained:
		j.add(checkers.Result{Checker: "liveness", Verdict: checkers.NoProgress, Anomaly: "undrained-input",
			Explanation: fmt.Sprintf("the job did not consume and commit all its input within %v of simulated time", res.RunLimit)})
	default:
		j.add(checkers.Result{Checker: "liveness", Verdict: checkers.Ok,
			Explanation: fmt.Sprintf("input drained and committed at %v", res.SimTime)})
	}
	if res.Err == nil {
		j.add(judgeProgress(h))
	}
	opts := c.Kafka().ClientOpts()
	in, err := judge.ReadInput(ctx, opts, judgeReadTimeout, func(t string) string { return t }, h.Input, h.InputTopics...)
	if err != nil {
		// Without the input as the broker kept it there is no oracle.
		j.add(checkers.Result{Checker: "input", Verdict: checkers.Unknown, Anomaly: "unread-input", Explanation: err.Error()})
		return j
	}
	out, observed := judge.Output(ctx, opts, judgeReadTimeout, h.Spec, h.OutputTopic, in.Committed)
	noProgressIfPending(out, observed, h, in.Committed, res.Drained)
	j.add(out...)
	j.add(in.Check)
	j.OutputDigest = outputDigest(observed)
	j.add(judgeCheckpoints(h, in.Committed)...)
	if h.Register != nil {
		r, files := judgeRegister(h)
		j.add(r)
		j.Attachments = files
	}
	if res.LostTxns > 0 {
		j.add(checkers.Result{Checker: "engine", Verdict: checkers.Violation, Anomaly: "lost-transaction",
			Explanation: fmt.Sprintf("the engine reported %d pre-committed transactions the broker refused to commit", res.LostTxns)})
	}
	return j
}

func (j *Judgement) add(rs ...checkers.Result) { j.Verdicts = append(j.Verdicts, rs...) }

// judgeProgress checks the checkpoints' ids and that one completed after
// the faults healed.
func judgeProgress(h *cluster.History) checkers.Result {
	at := func(es []cluster.CheckpointEvent) []checkers.CheckpointAt {
		out := make([]checkers.CheckpointAt, len(es))
		for i, e := range es {
			out[i] = checkers.CheckpointAt{Checkpoint: e.Checkpoint, At: int64(e.At)}
		}
		return out
	}
	return checkers.Progress(checkers.ProgressHistory{Triggered: at(h.Triggered), Completed: at(h.Completed),
		HealAt: int64(h.HealAt), Bound: int64(h.ProgressBound), End: int64(h.End)})
}

// RunCluster builds a cluster from opts, runs it, judges it and closes it.
func RunCluster(ctx context.Context, opts cluster.Options) (*cluster.Result, *Judgement, error) {
	c, err := cluster.New(opts)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	res := c.Run()
	return res, Judge(ctx, c, res), nil
}

// noProgressIfPending turns the exactly-once checker's lost-write into no
// progress when the run never drained and every missing output may still be
// on its way. Other anomalies (a duplicate, an aborted read, a wrong value)
// stay violations: no amount of waiting undoes them.
func noProgressIfPending(results []checkers.Result, observed []checkers.Observed, h *cluster.History, in []jobs.Committed, drained bool) {
	eo, open := &results[0], checkers.Result{Verdict: checkers.Unknown}
	for _, r := range results {
		if r.Checker == "open-transactions" {
			open = r
		}
	}
	if drained || eo.Verdict != checkers.Violation || eo.Anomaly != "lost-write" || lostForGood(observed, open, h, in) {
		return
	}
	eo.Verdict = checkers.NoProgress
	eo.Explanation = "the input never drained, and every missing output may still be on its way: " + eo.Explanation
}

// lostForGood reports whether some missing output can never appear: it
// derives from input below the latest completed checkpoint's offsets (the
// oracle of that prefix of the input produces it), so it was pre-committed
// there, and no transaction is left open that could still commit it.
func lostForGood(observed []checkers.Observed, open checkers.Result, h *cluster.History, in []jobs.Committed) bool {
	if open.Verdict != checkers.Ok || h.Latest == nil {
		return false
	}
	var prefix []jobs.Committed
	for _, r := range in {
		if r.Offset < h.Latest.Offsets[fmt.Sprintf("%s/%d", r.Topic, r.Partition)] {
			prefix = append(prefix, r)
		}
	}
	seen := make(map[string]bool, len(observed))
	for _, o := range observed {
		seen[o.Lineage] = true
	}
	for _, o := range h.Spec.Oracle(prefix) {
		if !seen[o.Lineage] {
			return true
		}
	}
	return false
}

// outputDigest hashes the committed output as sorted key/value pairs.
func outputDigest(observed []checkers.Observed) string {
	pairs := make([]string, 0, len(observed))
	for _, o := range observed {
		pairs = append(pairs, o.Key+"\x00"+o.Value)
	}
	sort.Strings(pairs)
	sum := sha256.Sum256([]byte(strings.Join(pairs, "\n")))
	return hex.EncodeToString(sum[:])
}

// checkpointState is what the state checker judges of one read.
func checkpointState(cp cluster.CheckpointRead) checkers.CheckpointState {
	s := checkers.CheckpointState{ID: cp.Checkpoint, Offsets: cp.Offsets, State: cp.State, Read: cp.Read}
	for _, l := range cp.Lost {
		s.Lost = append(s.Lost, checkers.LostFile{Object: l.Object, Reason: l.Reason})
	}
	return s
}

// judgeCheckpoints judges every read of a completed checkpoint: against the
// job's state oracle when it has one, else only that each is still whole. A
// read that failed for a reason that says nothing about the data makes the
// check inconclusive.
func judgeCheckpoints(h *cluster.History, in []jobs.Committed) []checkers.Result {
	reads := append(slices.Clone(h.Checkpoints), h.Retained...)
	for _, cp := range reads {
		if cp.Err != nil {
			return []checkers.Result{{Checker: "state-at-checkpoint", Verdict: checkers.Unknown,
				Explanation: fmt.Sprintf("a completed checkpoint could not be read back: checkpoint %d (read %s): %v", cp.Checkpoint, cp.Read, cp.Err)}}
		}
	}
	switch {
	case h.Spec.State != nil:
		return []checkers.Result{judgeState(h, in)}
	case len(reads) > 0:
		states := make([]checkers.CheckpointState, len(reads))
		for i, cp := range reads {
			states[i] = checkpointState(cp)
		}
		return []checkers.Result{checkers.CheckpointsIntact(states)}
	}
	return nil
}

// judgeState checks every completed checkpoint, as read at its completion
// and, if still retained, as read at the end of the run, against the
// oracle's fold of the input up to its offsets, leaving out the records the
// read found as channel state. Each checkpoint has its own set of such
// records, so each read is judged on its own. Lost state is reported first,
// then the first mismatch.
func judgeState(h *cluster.History, in []jobs.Committed) checkers.Result {
	reads := append(slices.Clone(h.Checkpoints), h.Retained...)
	withChannelState, lostReads := 0, 0
	var firstLost, firstBad *checkers.Result
	for _, cp := range reads {
		ex := cp.InFlight
		if len(ex) > 0 && cp.Read == cluster.ReadAtCompletion {
			withChannelState++
		}
		r := checkers.StateAtCheckpoint([]checkers.CheckpointState{checkpointState(cp)}, func(offsets map[string]int64) map[string]string {
			var kept []jobs.Committed
			for _, rec := range in {
				if !ex[fmt.Sprintf("%s/%d@%d", rec.Topic, rec.Partition, rec.Offset)] {
					kept = append(kept, rec)
				}
			}
			return h.Spec.State(kept, offsets)
		})
		switch {
		case r.Anomaly == "lost-state":
			lostReads++
			if firstLost == nil {
				firstLost = &r
			}
		case r.Verdict != checkers.Ok && firstBad == nil:
			firstBad = &r
		}
	}
	switch {
	case firstLost != nil:
		r := *firstLost
		r.Explanation = fmt.Sprintf("%d of %d reads of completed checkpoints (%d at completion, %d retained at the end) found files lost from checkpoint storage; first %s",
			lostReads, len(reads), len(h.Checkpoints), len(h.Retained), r.FirstBad)
		return r
	case firstBad != nil:
		return *firstBad
	case len(reads) == 0:
		return checkers.StateAtCheckpoint(nil, nil) // inconclusive: nothing to judge
	}
	return checkers.Result{Checker: "state-at-checkpoint", Verdict: checkers.Ok,
		Explanation: fmt.Sprintf("restored state equals the fold of the input at all %d checkpoints (%d with channel state), and the %d retained at the end read back whole and equal to it again",
			len(h.Checkpoints), withChannelState, len(h.Retained))}
}

// registerOps converts the run's register operations for porcupine.
func registerOps(ops []cluster.RegisterOp) []checkers.RegisterOp {
	out := make([]checkers.RegisterOp, len(ops))
	for i, op := range ops {
		kind := checkers.OpKind(0) // rejected by the checker: a kind the run never set
		switch op.Kind {
		case cluster.RegisterCommit:
			kind = checkers.Commit
		case cluster.RegisterRead:
			kind = checkers.Read
		}
		ret := op.Return
		if ret == cluster.NoReturn {
			ret = checkers.NoReturn
		}
		out[i] = checkers.RegisterOp{Kind: kind, Key: op.Key, Value: op.Value, Call: op.Call, Return: ret, Client: op.Client}
	}
	return out
}

// judgeRegister runs the porcupine check over the run's commits and reads,
// with the fired faults marked on its visualization, which it returns as an
// attachment when porcupine wrote one.
func judgeRegister(h *cluster.History) (checkers.Result, map[string][]byte) {
	var notes []checkers.Annotation
	for _, f := range h.Faults {
		notes = append(notes, checkers.Annotation{At: int64(f.At), Tag: "fault", Description: firedLine(f)})
	}
	dir, err := os.MkdirTemp("", "onceproof-porcupine-")
	if err != nil {
		return checkers.Result{Checker: "porcupine", Verdict: checkers.Unknown, Explanation: err.Error()}, nil
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "porcupine.html")
	r := checkers.Register(registerOps(h.Register), checkers.RegisterOptions{Timeout: 10 * time.Second, VisualizePath: path, Annotations: notes})
	data, err := os.ReadFile(path)
	if err != nil {
		return r, nil // porcupine writes it only for a failing history
	}
	return r, map[string][]byte{"porcupine.html": data}
}

// firedLine renders a fired fault as Outcome.Fired lists it: "30ms fault 0
// fired: kill w2 (restart after 50ms)".
func firedLine(f cluster.FiredFault) string { return fmt.Sprintf("%v %s", f.At, f) }
