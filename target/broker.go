package target

// Where kfake differs from a real Kafka cluster, for a run against it:
//
//   - The brokers share one process and one log: "moving a partition leader"
//     (MoveTopicPartition, ShufflePartitionLeaders) changes which broker
//     answers and bumps the leader epoch, but no data moves and nothing is
//     lost, so a leader move tests a client's handling of NOT_LEADER and
//     metadata refreshes, not replication.
//   - RehashCoordinators moves group and transaction coordinators without a
//     load phase: the new coordinator knows every group and transaction at
//     once (a real one answers COORDINATOR_LOAD_IN_PROGRESS for a while, which
//     the schedule injects separately).
//   - Injected errors (Cluster.Fault) answer before the broker acts, except
//     REQUEST_TIMED_OUT on requests a real broker can time out after applying.
//   - A control function sees the request, never the answer: the request log
//     records what was asked, not what the broker said.
//   - kfake answers OffsetForLeaderEpoch for an epoch that is not the current
//     one with UNDEFINED_EPOCH_OFFSET (-1) when no batch was written in a
//     later epoch, as after a leader move that no produce followed; a real
//     leader records where its epoch starts when it is elected and answers
//     with that offset. kgo, like the Java client, treats -1 as a log
//     truncation it cannot locate and resets the consumer to its reset
//     offset, so a group consumer reprocesses the partition from the start:
//     duplicates that are kfake's doing (docs/findings.md). The harness
//     moves leaders inside a control function, where no produce can run,
//     records each partition's epoch start offsets, and answers
//     OffsetForLeaderEpoch for its topics from them, as Kafka would.
//   - kfake can keep a consumer-group member whose process died while its
//     JoinGroup waited for a rebalance: it never heartbeats, yet it stays in a
//     stable group with the partitions the leader gave it, which then never
//     move (docs/findings.md). Kafka removes a member that has not been heard
//     from within its session timeout. The harness applies that rule from
//     outside: a member the request log has not heard from for its session
//     timeout plus a second is sent a LeaveGroup on its behalf, and the run
//     counts these evictions.
//   - Transaction timeouts and group session timeouts run on the wall clock,
//     as in Kafka; the group's minimum session timeout is lowered so that a
//     program with short timeouts (and a fast run) is accepted.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerTxnTimeoutMax is the broker's transaction.max.timeout.ms: far above
// a run, so that a program's own timeout is always accepted.
const brokerTxnTimeoutMax = time.Hour

// requestLogMax bounds the request log kept in memory.
const requestLogMax = 200_000

// RequestEntry is one request the broker received from a program instance
// or the harness, with what the harness did to it.
type RequestEntry struct {
	// At is the time since the run started.
	At time.Duration `json:"at"`
	// Node is the broker that received it.
	Node int32 `json:"node"`
	// API is the request's name, such as "EndTxn".
	API string `json:"api"`
	// Instance is the instance that sent it, when the request names a
	// transactional ID (or a group member learnt from one), else -1.
	Instance int `json:"instance"`
	// Detail is the request's transactional ID, producer, group member and
	// partitions, as far as it carries them.
	Detail string `json:"detail"`
	// ProducerID is the producer the request names, or -1.
	ProducerID int64 `json:"producer_id"`
	// Action is what the harness did: "" (nothing), or the fault that
	// answered, delayed or killed at it.
	Action string `json:"action,omitempty"`
}

// String formats e as one request-log line.
func (e RequestEntry) String() string {
	who := "harness/unknown"
	if e.Instance >= 0 {
		who = fmt.Sprintf("instance %d", e.Instance)
	}
	s := fmt.Sprintf("%10.3fs  node %d  %-18s %-16s %s", e.At.Seconds(), e.Node, e.API, who, e.Detail)
	if e.Action != "" {
		s += "  <<< " + e.Action
	}
	return s
}

// hook is a protocol-point fault armed on the broker: it acts on the next
// request of api from instance (or any instance, -1).
type hook struct {
	api      int16
	instance int
	// act decides what happens to the request; it returns the action's
	// name for the log and whether the request is answered by the hook
	// (not applied).
	act   func(node int32, req kmsg.Request, slot int) (action string, handled bool, err error)
	fired bool
	// disarmed hooks are skipped.
	disarmed bool
}

// cluster is kfake on loopback with the harness's control function, which
// logs every request and runs the armed hooks.
type cluster struct {
	c       *kfake.Cluster
	addrs   []string
	started time.Time
	prefix  string // transactional ID prefix stem; slot s uses prefix+"<s>-"

	mu      sync.Mutex
	log     []RequestEntry
	dropped int
	hooks   []*hook
	members map[string]int // group member ID -> slot, learnt from TxnOffsetCommit
	topics  map[[16]byte]string
	// epochs holds, per topic and partition, each leader epoch and the
	// offset it started at, in epoch order (see moveLeaders).
	epochs map[string]map[int32][]epochStart
	// txns tracks, per transactional ID, what its open transaction has
	// done, to find the implicit AddPartitionsToTxn and AddOffsetsToTxn.
	txns map[string]txnState
	// seen is when each group member ID last appeared in a request, and
	// its session timeout, for evicting members kfake keeps (evictDead).
	seen map[string]memberSeen
}

type memberSeen struct {
	last    time.Time
	session time.Duration
}

type txnState struct{ produced, offsets bool }

// epochStart is a leader epoch and the log end offset when it began.
type epochStart struct {
	epoch int32
	start int64
}

// createTopic creates a topic and remembers its ID, so that the request
// log names topics that recent request versions address by ID.
func (cl *cluster) createTopic(name string, partitions int) error {
	if err := cl.c.CreateTopic(name, int32(partitions), nil); err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	info := cl.c.TopicInfo(name)
	if info == nil {
		return fmt.Errorf("create topic %s: no topic info after creating it", name)
	}
	starts := map[int32][]epochStart{}
	for p := range int32(partitions) {
		pi := cl.c.PartitionInfo(name, p)
		if pi == nil {
			return fmt.Errorf("create topic %s: no partition %d after creating it", name, p)
		}
		starts[p] = []epochStart{{pi.Epoch, pi.HighWatermark}}
	}
	cl.mu.Lock()
	cl.topics[info.TopicID] = name
	cl.epochs[name] = starts
	cl.mu.Unlock()
	return nil
}

// moveLeaders moves every partition leader, recording where each new epoch
// starts. It must run inside a control function: the cluster handles no
// produce request until the function returns, so the high watermark read
// before the move is where the new epoch begins.
func (cl *cluster) moveLeaders() {
	before := map[string]map[int32]*kfake.PartitionInfo{}
	cl.mu.Lock()
	topics := sortedKeys(cl.epochs)
	cl.mu.Unlock()
	for _, t := range topics {
		before[t] = map[int32]*kfake.PartitionInfo{}
		for _, pi := range cl.c.PartitionInfos(t) {
			before[t][pi.Partition] = pi
		}
	}
	cl.c.ShufflePartitionLeaders()
	for _, t := range topics {
		for _, pi := range cl.c.PartitionInfos(t) {
			b := before[t][pi.Partition]
			if b == nil || pi.Epoch == b.Epoch {
				continue
			}
			cl.mu.Lock()
			cl.epochs[t][pi.Partition] = append(cl.epochs[t][pi.Partition], epochStart{pi.Epoch, b.HighWatermark})
			cl.mu.Unlock()
		}
	}
}

// offsetForLeaderEpoch answers req as a Kafka leader would, from the epoch
// starts moveLeaders recorded; ok is false for a request that names a topic
// the harness did not create, which kfake answers itself.
func (cl *cluster) offsetForLeaderEpoch(req *kmsg.OffsetForLeaderEpochRequest) (resp *kmsg.OffsetForLeaderEpochResponse, ok bool) {
	if req.ReplicaID >= 0 {
		return nil, false
	}
	cl.mu.Lock()
	for _, rt := range req.Topics {
		if _, known := cl.epochs[rt.Topic]; !known {
			cl.mu.Unlock()
			return nil, false
		}
	}
	cl.mu.Unlock()
	node := cl.c.CurrentNode()
	resp = req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			pi := cl.c.PartitionInfo(rt.Topic, rp.Partition)
			cl.mu.Lock()
			hist := append([]epochStart(nil), cl.epochs[rt.Topic][rp.Partition]...)
			cl.mu.Unlock()
			switch {
			case pi == nil || len(hist) == 0:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case pi.Leader != node:
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			case rp.CurrentLeaderEpoch != -1 && rp.CurrentLeaderEpoch < pi.Epoch:
				sp.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.CurrentLeaderEpoch != -1 && rp.CurrentLeaderEpoch > pi.Epoch:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			case rp.LeaderEpoch >= pi.Epoch:
				sp.LeaderEpoch, sp.EndOffset = pi.Epoch, pi.HighWatermark
			default:
				// The end of epoch E is the start of the first
				// later epoch; the epoch answered is the latest
				// one at or before E.
				sp.LeaderEpoch, sp.EndOffset = -1, -1
				for i, h := range hist {
					if h.epoch > rp.LeaderEpoch {
						if i > 0 {
							sp.LeaderEpoch, sp.EndOffset = hist[i-1].epoch, h.start
						}
						break
					}
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, true
}

// startCluster starts n brokers on loopback ports chosen by the system.
func startCluster(n int, txnPrefix string) (*cluster, error) {
	c, err := kfake.NewCluster(
		kfake.NumBrokers(n),
		kfake.BrokerConfigs(map[string]string{
			"transaction.max.timeout.ms": fmt.Sprint(brokerTxnTimeoutMax.Milliseconds()),
		}),
		kfake.GroupMinSessionTimeout(100*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	cl := &cluster{c: c, addrs: c.ListenAddrs(), started: time.Now(), prefix: txnPrefix, members: map[string]int{}, topics: map[[16]byte]string{}, epochs: map[string]map[int32][]epochStart{}, txns: map[string]txnState{}, seen: map[string]memberSeen{}}
	c.Control(cl.control)
	return cl, nil
}

func (cl *cluster) close() { cl.c.Close() }

// txnPrefixFor is slot's ONCEPROOF_TXN_PREFIX.
func (cl *cluster) txnPrefixFor(slot int) string { return fmt.Sprintf("%s%d-", cl.prefix, slot) }

// slotOfTxn maps a transactional ID to the slot whose prefix it starts
// with, or -1.
func (cl *cluster) slotOfTxn(txnID string) int {
	rest, ok := strings.CutPrefix(txnID, cl.prefix)
	if !ok {
		return -1
	}
	num, _, ok := strings.Cut(rest, "-")
	if !ok {
		return -1
	}
	var s int
	if _, err := fmt.Sscanf(num, "%d", &s); err != nil || fmt.Sprint(s) != num {
		return -1
	}
	return s
}

// arm adds a hook.
func (cl *cluster) arm(h *hook) {
	cl.mu.Lock()
	cl.hooks = append(cl.hooks, h)
	cl.mu.Unlock()
}

// disarmAll disarms every hook that has not fired: the faults are over.
func (cl *cluster) disarmAll() {
	cl.mu.Lock()
	for _, h := range cl.hooks {
		h.disarmed = true
	}
	cl.mu.Unlock()
}

// control is the cluster's one control function, for every request: it
// logs the request and lets the first armed hook that matches act on it.
// It runs on a goroutine kfake starts per request while the cluster waits,
// and must not block except through SleepControl.
func (cl *cluster) control(req kmsg.Request) (kmsg.Response, error, bool) {
	cl.c.KeepControl()
	if r, ok := req.(*kmsg.OffsetForLeaderEpochRequest); ok {
		if resp, ok := cl.offsetForLeaderEpoch(r); ok {
			return resp, nil, true
		}
	}
	cl.mu.Lock()
	var any *hook
	for _, x := range cl.hooks {
		if !x.fired && !x.disarmed && x.api == anyRequest {
			any = x
			any.fired = true
			break
		}
	}
	cl.mu.Unlock()
	if any != nil {
		any.act(cl.c.CurrentNode(), req, -1)
	}
	cl.mu.Lock()
	e, txnID, member := describe(req, cl.topics)
	if member != "" {
		ms := cl.seen[member]
		ms.last = time.Now()
		if j, ok := req.(*kmsg.JoinGroupRequest); ok {
			ms.session = time.Duration(j.SessionTimeoutMillis) * time.Millisecond
		}
		cl.seen[member] = ms
	}
	cl.mu.Unlock()
	if e.API == "" {
		return nil, nil, false // not worth logging: fetches, metadata, ...
	}
	e.At = time.Since(cl.started)
	e.Node = cl.c.CurrentNode()
	cl.mu.Lock()
	e.Instance = -1
	if txnID != "" {
		e.Instance = cl.slotOfTxn(txnID)
		if e.Instance >= 0 && member != "" {
			cl.members[member] = e.Instance
		}
	} else if s, ok := cl.members[member]; ok && member != "" {
		e.Instance = s
	}
	// KIP-890 clients add partitions and the group to a transaction
	// implicitly: the transaction's first Produce stands for its
	// AddPartitionsToTxn, its first TxnOffsetCommit for AddOffsetsToTxn.
	key, implicit := req.Key(), int16(-2)
	if txnID != "" {
		st := cl.txns[txnID]
		switch key {
		case kmsg.Produce.Int16():
			if !st.produced {
				implicit = kmsg.AddPartitionsToTxn.Int16()
			}
			st.produced = true
		case kmsg.TxnOffsetCommit.Int16():
			if !st.offsets {
				implicit = kmsg.AddOffsetsToTxn.Int16()
			}
			st.offsets = true
		case kmsg.AddPartitionsToTxn.Int16():
			st.produced = true
		case kmsg.AddOffsetsToTxn.Int16():
			st.offsets = true
		case kmsg.EndTxn.Int16(), kmsg.InitProducerID.Int16():
			st = txnState{}
		}
		cl.txns[txnID] = st
	}
	var h *hook
	for _, x := range cl.hooks {
		if !x.fired && !x.disarmed && (x.api == key || x.api == implicit) && (x.instance < 0 || x.instance == e.Instance) {
			h = x
			h.fired = true
			break
		}
	}
	cl.mu.Unlock()
	if h == nil {
		cl.record(e)
		return nil, nil, false
	}
	action, handled, err := h.act(e.Node, req, e.Instance)
	e.Action = action
	if h.api == implicit {
		e.Action += " (the implicit " + kmsg.NameForKey(implicit) + " of KIP-890)"
	}
	cl.record(e)
	if handled {
		// An error closes the connection: the request is never applied
		// and never answered.
		return nil, err, true
	}
	return nil, nil, false
}

func (cl *cluster) record(e RequestEntry) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if len(cl.log) >= requestLogMax {
		cl.dropped++
		return
	}
	cl.log = append(cl.log, e)
}

// requests returns the request log.
func (cl *cluster) requests() ([]RequestEntry, int) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return append([]RequestEntry(nil), cl.log...), cl.dropped
}

// describe names the requests worth logging and what they carry; API is
// empty for the others. It also returns the transactional ID and group
// member the request names.
func describe(req kmsg.Request, topics map[[16]byte]string) (e RequestEntry, txnID, member string) {
	topicName := func(name string, id [16]byte) string {
		if name != "" {
			return name
		}
		if n, ok := topics[id]; ok {
			return n
		}
		return fmt.Sprintf("topic-id-%x", id[:4])
	}
	e.ProducerID = -1
	var b strings.Builder
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		if r.TransactionID == nil {
			return e, "", "" // the harness's own input writes
		}
		txnID = *r.TransactionID
		fmt.Fprintf(&b, "txn %s", txnID)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				var batch kmsg.RecordBatch
				if err := batch.ReadFrom(p.Records); err == nil {
					e.ProducerID = batch.ProducerID
					fmt.Fprintf(&b, " %s/%d(pid %d epoch %d seq %d, %d records)", topicName(t.Topic, t.TopicID), p.Partition, batch.ProducerID, batch.ProducerEpoch, batch.FirstSequence, batch.NumRecords)
				} else {
					fmt.Fprintf(&b, " %s/%d", topicName(t.Topic, t.TopicID), p.Partition)
				}
			}
		}
		e.API = "Produce"
	case *kmsg.InitProducerIDRequest:
		if r.TransactionalID == nil {
			return e, "", ""
		}
		txnID = *r.TransactionalID
		e.API, e.ProducerID = "InitProducerID", r.ProducerID
		fmt.Fprintf(&b, "txn %s timeout %dms", txnID, r.TransactionTimeoutMillis)
	case *kmsg.AddPartitionsToTxnRequest:
		e.API = "AddPartitionsToTxn"
		if len(r.Transactions) > 0 {
			txnID, e.ProducerID = r.Transactions[0].TransactionalID, r.Transactions[0].ProducerID
			for _, t := range r.Transactions {
				fmt.Fprintf(&b, "txn %s pid %d epoch %d", t.TransactionalID, t.ProducerID, t.ProducerEpoch)
				for _, tp := range t.Topics {
					fmt.Fprintf(&b, " %s%v", tp.Topic, tp.Partitions)
				}
			}
		} else {
			txnID, e.ProducerID = r.TransactionalID, r.ProducerID
			fmt.Fprintf(&b, "txn %s pid %d epoch %d", r.TransactionalID, r.ProducerID, r.ProducerEpoch)
			for _, tp := range r.Topics {
				fmt.Fprintf(&b, " %s%v", tp.Topic, tp.Partitions)
			}
		}
	case *kmsg.AddOffsetsToTxnRequest:
		txnID, e.ProducerID = r.TransactionalID, r.ProducerID
		e.API = "AddOffsetsToTxn"
		fmt.Fprintf(&b, "txn %s pid %d epoch %d group %s", r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group)
	case *kmsg.TxnOffsetCommitRequest:
		txnID, e.ProducerID, member = r.TransactionalID, r.ProducerID, r.MemberID
		e.API = "TxnOffsetCommit"
		fmt.Fprintf(&b, "txn %s pid %d epoch %d group %s generation %d member %s", r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group, r.Generation, r.MemberID)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s/%d@%d", topicName(t.Topic, t.TopicID), p.Partition, p.Offset)
			}
		}
	case *kmsg.EndTxnRequest:
		txnID, e.ProducerID = r.TransactionalID, r.ProducerID
		e.API = "EndTxn"
		verb := "abort"
		if r.Commit {
			verb = "commit"
		}
		fmt.Fprintf(&b, "txn %s pid %d epoch %d %s", r.TransactionalID, r.ProducerID, r.ProducerEpoch, verb)
	case *kmsg.OffsetCommitRequest:
		member = r.MemberID
		e.API = "OffsetCommit"
		fmt.Fprintf(&b, "group %s generation %d member %s", r.Group, r.Generation, r.MemberID)
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				fmt.Fprintf(&b, " %s/%d@%d", topicName(t.Topic, t.TopicID), p.Partition, p.Offset)
			}
		}
	case *kmsg.JoinGroupRequest:
		member = r.MemberID
		e.API = "JoinGroup"
		fmt.Fprintf(&b, "group %s member %q session %dms rebalance %dms", r.Group, r.MemberID, r.SessionTimeoutMillis, r.RebalanceTimeoutMillis)
	case *kmsg.SyncGroupRequest:
		member = r.MemberID
		e.API = "SyncGroup"
		fmt.Fprintf(&b, "group %s generation %d member %s", r.Group, r.Generation, r.MemberID)
	case *kmsg.LeaveGroupRequest:
		e.API = "LeaveGroup"
		fmt.Fprintf(&b, "group %s member %s", r.Group, r.MemberID)
		for _, m := range r.Members {
			member = m.MemberID
			fmt.Fprintf(&b, " %s", m.MemberID)
		}
	case *kmsg.OffsetFetchRequest:
		e.API = "OffsetFetch"
		groups := r.Groups
		if len(groups) == 0 {
			fmt.Fprintf(&b, "group %s require_stable %v", r.Group, r.RequireStable)
			for _, t := range r.Topics {
				fmt.Fprintf(&b, " %s%v", t.Topic, t.Partitions)
			}
		}
		for _, g := range groups {
			member = derefStr(g.MemberID)
			fmt.Fprintf(&b, "group %s require_stable %v", g.Group, r.RequireStable)
			for _, t := range g.Topics {
				fmt.Fprintf(&b, " %s%v", topicName(t.Topic, t.TopicID), t.Partitions)
			}
		}
	case *kmsg.HeartbeatRequest:
		member = r.MemberID
		e.API = "Heartbeat"
		fmt.Fprintf(&b, "group %s generation %d member %s", r.Group, r.Generation, r.MemberID)
	default:
		return e, "", ""
	}
	e.Detail = b.String()
	return e, txnID, member
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// evictDead sends a LeaveGroup for every member of the group that no request
// has named for its session timeout plus a second, as Kafka's session expiry
// would have removed it, and returns the members it evicted.
func (cl *cluster) evictDead(ctx context.Context, adm *kgo.Client) []string {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{Group}
	resp, err := req.RequestWith(ctx, adm)
	if err != nil || len(resp.Groups) == 0 {
		return nil
	}
	var dead []string
	cl.mu.Lock()
	for _, m := range resp.Groups[0].Members {
		ms, ok := cl.seen[m.MemberID]
		if !ok {
			cl.seen[m.MemberID] = memberSeen{last: time.Now()}
			continue
		}
		session := ms.session
		if session <= 0 {
			session = 45 * time.Second // kgo's default, for a member whose JoinGroup the log missed
		}
		if time.Since(ms.last) > session+time.Second {
			dead = append(dead, m.MemberID)
		}
	}
	cl.mu.Unlock()
	for _, id := range dead {
		lg := kmsg.NewPtrLeaveGroupRequest()
		lg.Group = Group
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = id
		lg.Members = append(lg.Members, lm)
		lg.MemberID = id // before v3
		lg.RequestWith(ctx, adm)
		cl.mu.Lock()
		delete(cl.seen, id)
		cl.mu.Unlock()
		cl.record(RequestEntry{At: time.Since(cl.started), Node: -1, API: "LeaveGroup", Instance: -1, ProducerID: -1,
			Detail: "group " + Group + " member " + id, Action: "sent by the harness: kfake kept a member not heard from for its session timeout"})
	}
	return dead
}

// anyRequest is a hook's api for the next request of any kind.
const anyRequest = -1

// apiKeys are the requests a protocol-point fault can name.
var apiKeys = map[string]int16{
	"InitProducerID":     kmsg.InitProducerID.Int16(),
	"AddPartitionsToTxn": kmsg.AddPartitionsToTxn.Int16(),
	"AddOffsetsToTxn":    kmsg.AddOffsetsToTxn.Int16(),
	"TxnOffsetCommit":    kmsg.TxnOffsetCommit.Int16(),
	"EndTxn":             kmsg.EndTxn.Int16(),
	"Produce":            kmsg.Produce.Int16(),
	"OffsetCommit":       kmsg.OffsetCommit.Int16(),
	"JoinGroup":          kmsg.JoinGroup.Int16(),
	"SyncGroup":          kmsg.SyncGroup.Int16(),
	"Heartbeat":          kmsg.Heartbeat.Int16(),
	"FindCoordinator":    kmsg.FindCoordinator.Int16(),
}

// brokerErrors are the errors a fault can inject, and the requests each
// one is a sensible answer to.
var brokerErrors = map[string]struct {
	err  *kerr.Error
	apis []string
}{
	"NOT_COORDINATOR":              {kerr.NotCoordinator, []string{"InitProducerID", "AddPartitionsToTxn", "AddOffsetsToTxn", "TxnOffsetCommit", "EndTxn", "JoinGroup", "SyncGroup", "Heartbeat", "OffsetCommit"}},
	"COORDINATOR_LOAD_IN_PROGRESS": {kerr.CoordinatorLoadInProgress, []string{"InitProducerID", "AddPartitionsToTxn", "AddOffsetsToTxn", "TxnOffsetCommit", "EndTxn", "JoinGroup", "SyncGroup", "Heartbeat", "OffsetCommit", "FindCoordinator"}},
	"CONCURRENT_TRANSACTIONS":      {kerr.ConcurrentTransactions, []string{"InitProducerID", "AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn"}},
	"REBALANCE_IN_PROGRESS":        {kerr.RebalanceInProgress, []string{"TxnOffsetCommit", "OffsetCommit", "Heartbeat", "SyncGroup"}},
	"REQUEST_TIMED_OUT":            {kerr.RequestTimedOut, []string{"Produce"}},
	"NOT_LEADER_FOR_PARTITION":     {kerr.NotLeaderForPartition, []string{"Produce"}},
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m { // lint:sorted sorted below
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// injectError installs a kfake fault answering the next count requests of
// api with the named error.
func (cl *cluster) injectError(api, name string, count int) (*kfake.FaultHandle, error) {
	be, ok := brokerErrors[name]
	if !ok {
		return nil, fmt.Errorf("unknown broker error %q", name)
	}
	key, ok := apiKeys[api]
	if !ok {
		return nil, fmt.Errorf("unknown request %q", api)
	}
	return cl.c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Key(key)}, Err: be.err, Count: max(count, 1)}), nil
}

// killSignal is the signal a protocol-point kill sends.
const killSignal = syscall.SIGKILL
