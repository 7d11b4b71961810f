package cluster

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/sim"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// injector applies a fault plan to a running cluster. Every fault fires at
// most once, and only before the heal time; at the heal time every fault
// still in force is lifted and the liveness phase begins.
type injector struct {
	c      *Cluster
	plan   faults.Plan
	fired  []bool
	healAt sim.Time
	healed bool
	// lifted undoes the faults in force, in the order they were applied.
	lifted   []func()
	requests map[string]int
	handles  []*kfake.FaultHandle
	rules    []*sim.KafkaRule
	txnCp    map[string]int64
}

// ErrUnsupportedFault is returned by Inject for a fault kind this engine has
// nothing to apply to.
var ErrUnsupportedFault = errors.New("unsupported fault")

// Inject arms plan. Faults fire at their triggers until healAt; then every
// fault still in force is lifted (links healed, processes restarted or
// resumed, Kafka and storage faults removed) and the job must converge.
func (c *Cluster) Inject(plan faults.Plan, healAt time.Duration) error {
	if err := plan.Validate(len(c.workers)); err != nil {
		return fmt.Errorf("fault plan: %w", err)
	}
	for i, f := range plan.Faults {
		if f.Action.Kind == faults.DiskReadError && !c.pebble() {
			return fmt.Errorf("fault %d: %w: %s needs a state backend that reads files (pebble); the heap backend has none", i, ErrUnsupportedFault, f.Action.Kind)
		}
		if f.Action.Object == faults.LatestShared && !c.pebble() {
			return fmt.Errorf("fault %d: %w: %s %s needs a state backend with shared state files (pebble); the heap backend has none", i, ErrUnsupportedFault, f.Action.Kind, f.Action.Object)
		}
	}
	in := &injector{c: c, plan: plan, fired: make([]bool, len(plan.Faults)), healAt: sim.Time(healAt),
		requests: map[string]int{}, txnCp: map[string]int64{}}
	c.inj = in
	c.HoldFaultsUntil(in.healAt)
	for i, f := range plan.Faults {
		if f.Trigger.At != nil {
			c.w.At(sim.Time(*f.Trigger.At), func() { in.fire(i) })
		}
	}
	c.OnEvent(in.onEvent)
	c.k.OnSend(in.onSend)
	c.k.OnApply(in.onApply)
	c.w.At(in.healAt, in.heal)
	return nil
}

func (in *injector) onEvent(p *sim.Proc, e engine.Event) {
	if e.Phase == protocol.EndTxnSent {
		if id := txnOf(e.Detail); id != "" {
			in.txnCp[id] = e.Checkpoint
		}
	}
	for i, f := range in.plan.Faults {
		pt := f.Trigger.Phase
		if pt == nil || in.fired[i] || string(pt.Phase) != string(e.Phase) || pt.Checkpoint != e.Checkpoint {
			continue
		}
		if pt.Task != "" && pt.Task != e.Task && pt.Task != p.Name() {
			continue
		}
		in.fire(i)
	}
}

// txnOf extracts the transactional id from an endtxn-sent detail, which
// names the producer as "id(pid=...,e=...)".
func txnOf(detail string) string {
	for _, f := range strings.Fields(detail) {
		if i := strings.Index(f, "(pid="); i > 0 {
			return f[:i]
		}
	}
	return ""
}

func (in *injector) onSend(call *sim.KafkaCall) {
	name := call.Key.Name()
	in.requests[name]++
	for i, f := range in.plan.Faults {
		rt := f.Trigger.AfterRequests
		if rt != nil && !in.fired[i] && rt.Kind == name && rt.Count == in.requests[name] {
			in.fire(i)
		}
	}
}

// onApply reports the endtxn-applied phase, which only the broker's side
// sees: the EndTxn reached Kafka and took effect.
func (in *injector) onApply(call *sim.KafkaCall, _ kmsg.Response, err error) {
	r, ok := call.Req.(*kmsg.EndTxnRequest)
	if !ok || err != nil {
		return
	}
	n := in.txnCp[r.TransactionalID]
	task := ""
	if parts := strings.Split(r.TransactionalID, "-"); len(parts) >= 3 {
		task = fmt.Sprintf("%s/%s", parts[len(parts)-3], parts[len(parts)-2])
	}
	in.c.event(in.c.w.Proc(in.procID(call.From)), engine.Event{Phase: protocol.EndTxnApplied, Checkpoint: n, Task: task, Detail: r.TransactionalID})
}

func (in *injector) procID(name string) sim.ProcID {
	for _, p := range in.c.w.Procs() {
		if p.Name() == name {
			return p.ID()
		}
	}
	return 0
}

// proc resolves a worker name of a plan ("w1", "coordinator").
func (in *injector) proc(name string) *sim.Proc {
	if name == faults.Coordinator {
		return in.c.jmProc
	}
	i, _ := strconv.Atoi(strings.TrimPrefix(name, "w"))
	return in.c.workers[i]
}

// until schedules undo after d, or at the heal time when d is 0; undo also
// runs at the heal time if it has not yet.
func (in *injector) until(d time.Duration, undo func()) {
	done := false
	once := func() {
		if !done {
			done = true
			undo()
		}
	}
	in.lifted = append(in.lifted, once)
	if d > 0 {
		in.c.w.After(d, once)
	}
}

func (in *injector) fire(i int) {
	if in.fired[i] || in.healed {
		return
	}
	in.fired[i] = true
	f := in.plan.Faults[i]
	c, w, a := in.c, in.c.w, f.Action
	c.hist.fire(i, f)
	switch a.Kind {
	case faults.KillWorker, faults.DiskCrash, faults.KillCoordinator:
		// A kill keeps only the synced part of the disk in every case;
		// disk-crash names the intent.
		p := c.jmProc
		if a.Kind != faults.KillCoordinator {
			p = in.proc(a.Worker)
		}
		w.Kill(p, string(a.Kind))
		in.until(a.Duration, func() { w.Restart(p) })
	case faults.PauseWorker:
		p := in.proc(a.Worker)
		w.Pause(p)
		in.until(a.Duration, func() { w.Resume(p) })
	case faults.Partition:
		x, y := in.proc(a.Worker), in.proc(a.Peer)
		w.Net().Partition(x.ID(), y.ID())
		in.until(a.Duration, func() { w.Net().Heal(x.ID(), y.ID()) })
	case faults.PartitionOneWay:
		x, y := in.proc(a.Worker), in.proc(a.Peer)
		w.Net().CutOneWay(x.ID(), y.ID())
		in.until(a.Duration, func() { w.Net().Heal(x.ID(), y.ID()) })
	case faults.Isolate:
		x := in.proc(a.Worker)
		w.Net().Isolate(x.ID())
		in.until(a.Duration, func() {
			for _, p := range w.Procs() {
				if p != x {
					w.Net().Heal(x.ID(), p.ID())
				}
			}
		})
	case faults.SlowLink:
		x, y := in.proc(a.Worker), in.proc(a.Peer)
		w.Net().Slow(x.ID(), y.ID(), a.Extra)
		in.until(a.Duration, func() { w.Net().Slow(x.ID(), y.ID(), 0) })
	case faults.KafkaError:
		key, _ := faults.KafkaRequestKey(a.Request)
		code, _ := faults.KafkaErrorCode(a.Error)
		h := c.k.InjectFault(kfake.Fault{Keys: []kmsg.Key{kmsg.Key(key)}, Err: kerr.ErrorForCode(code).(*kerr.Error), Count: a.Count})
		in.handles = append(in.handles, h)
	case faults.DropRequest, faults.DropResponse:
		key, _ := faults.KafkaRequestKey(a.Request)
		fate := sim.DropRequest
		if a.Kind == faults.DropResponse {
			fate = sim.DropResponse
		}
		r := c.k.Intercept(&sim.KafkaRule{Name: fmt.Sprintf("fault %d", i), Fault: i + 1, Fate: fate, Count: a.Count,
			Match: func(call *sim.KafkaCall) bool { return int16(call.Key) == key }})
		in.rules = append(in.rules, r)
	case faults.RestartBroker:
		// A clean restart keeps every committed record and every
		// transaction's state; what clients see is an outage. It is
		// modelled as one: requests sent during the next 200ms are lost
		// before the broker (the callers time out), then it answers again.
		r := c.k.Intercept(&sim.KafkaRule{Name: "broker restarting", Fate: sim.DropRequest, Count: -1})
		in.rules = append(in.rules, r)
		in.until(200*time.Millisecond, func() { c.k.RemoveRule(r) })
	case faults.ExpireTxn:
		in.expire(a.TxnID)
	case faults.StorageWriteFail:
		left := a.Count
		w.Store().SetFault(func(op sim.StoreOp, name string) error {
			if op != sim.StorePut || left == 0 {
				return nil
			}
			left--
			return errors.New("injected storage write failure")
		})
		in.lifted = append(in.lifted, func() { w.Store().SetFault(nil) })
	case faults.StorageSlow:
		c.storageExtra = a.Extra
		in.until(a.Duration, func() { c.storageExtra = 0 })
	case faults.CorruptCheckpoint:
		in.corrupt(a.Object)
	case faults.DeleteCheckpointFile:
		in.delete(i, a.Object)
	case faults.DiskReadError:
		// The next reads of the worker's state files (SSTs, WALs) fail:
		// a restore or a get fails its task, which restarts from the
		// latest checkpoint.
		wi, _ := strconv.Atoi(strings.TrimPrefix(a.Worker, "w"))
		c.armDiskReadError(i, wi, a.Count, a.Percent)
		in.lifted = append(in.lifted, c.disarmDiskReadErrors)
	case faults.DropMessage, faults.DelayMessage, faults.DuplicateMessage:
		r := &MessageRule{From: a.From, To: a.To, Checkpoint: a.Checkpoint, Delay: a.Extra, Times: max(a.Count, 1)}
		r.Type, _ = protocol.ParseMsgType(a.Message) // 0 (any) when empty; the plan was validated
		r.Action = map[faults.ActionKind]MessageAction{faults.DropMessage: MessageDrop, faults.DelayMessage: MessageDelay, faults.DuplicateMessage: MessageDuplicate}[a.Kind]
		if err := c.InterceptMessages(r); err != nil {
			panic(fmt.Sprintf("fault %d: %v (the plan was validated)", i, err))
		}
		in.lifted = append(in.lifted, func() { c.removeMessageRule(r) })
	}
}

// expire fences a transactional id the way a broker does when the
// transaction's timeout passes: InitProducerID aborts the open transaction
// and bumps the epoch, so the old producer can no longer commit it.
func (in *injector) expire(id string) {
	c := in.c
	if id == "" {
		var open []string
		for _, wp := range c.workerProgs {
			if wp == nil {
				continue
			}
			for _, t := range wp.tasks {
				if t != nil && t.OpenTxn() != "" {
					open = append(open, t.OpenTxn())
				}
			}
		}
		sort.Strings(open)
		if len(open) == 0 {
			c.w.Record(sim.Event{Kind: sim.EventFaultSkipped, Op: "expire-txn", Detail: "no open transaction"})
			return
		}
		id = open[0]
	}
	if err := c.k.ExpireTxn(id); err != nil {
		c.w.Record(sim.Event{Kind: sim.EventFaultSkipped, Op: "expire-txn", Name: id, Err: err})
	}
}

// corrupt damages a checkpoint object: "latest" is one task snapshot of the
// newest completed checkpoint, so that restoring it fails its checksum.
func (in *injector) corrupt(object string) {
	c := in.c
	object = in.object("corrupt-checkpoint", object)
	if object == "" {
		return
	}
	if err := c.w.Store().Corrupt(object, 7); err != nil {
		c.w.Record(sim.Event{Kind: sim.EventFaultSkipped, Op: "corrupt-checkpoint", Name: object, Err: err})
	}
}

// delete removes a checkpoint object outright; the trace names what was
// lost.
func (in *injector) delete(fault int, object string) {
	c := in.c
	object = in.object("delete-checkpoint-file", object)
	if object == "" {
		return
	}
	if _, err := c.w.Store().Peek(object); err != nil {
		c.w.Record(sim.Event{Kind: sim.EventFaultSkipped, Op: "delete-checkpoint-file", Name: object, Err: err})
		return
	}
	if err := c.w.Store().Delete(object); err != nil {
		c.w.Record(sim.Event{Kind: sim.EventFaultSkipped, Op: "delete-checkpoint-file", Name: object, Err: err})
		return
	}
	c.w.Record(sim.Event{Kind: sim.EventStoreLost, Name: object, N: int64(fault)})
}

// object resolves the Object of a storage fault: "latest" is the first
// task snapshot of the newest completed checkpoint, "latest-shared" the
// first shared state file it references; anything else is a path. It
// returns "" (and traces why) when there is nothing to hit yet.
func (in *injector) object(kind, object string) string {
	if object != faults.LatestCheckpoint && object != faults.LatestShared {
		return object
	}
	c := in.c
	var md engine.Metadata
	var err error = engine.ErrNoCheckpoint
	if c.jm != nil && c.jm.coord != nil {
		md, err = c.jm.coord.LatestCompleted()
	}
	if err != nil {
		c.w.Record(sim.Event{Kind: sim.EventFaultSkipped, Op: kind, Detail: "no completed checkpoint yet"})
		return ""
	}
	var names []string
	if object == faults.LatestShared {
		names = append(names, md.Shared...)
	} else {
		for _, h := range md.Handles { // lint:sorted sorted below
			names = append(names, h)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		c.w.Record(sim.Event{Kind: sim.EventFaultSkipped, Op: kind, Detail: fmt.Sprintf("checkpoint %d has no %s object", md.Checkpoint, object)})
		return ""
	}
	return names[0]
}

// heal lifts every fault still in force and restarts or resumes every
// process: the liveness phase begins.
func (in *injector) heal() {
	in.healed = true
	w := in.c.w
	w.Record(sim.Event{Kind: sim.EventHealAll})
	for _, undo := range in.lifted {
		undo()
	}
	for _, r := range in.rules {
		in.c.k.RemoveRule(r)
	}
	for _, h := range in.handles {
		h.Remove()
	}
	w.Net().HealAll()
	in.c.storageExtra = 0
	w.Store().SetFault(nil)
	for _, p := range w.Procs() {
		if p.Paused() {
			w.Resume(p)
		}
		if !p.Alive() {
			w.Restart(p)
		}
	}
}
