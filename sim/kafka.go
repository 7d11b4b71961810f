package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka brings one kfake broker into the simulation. Processes issue raw kmsg
// requests through Do; the adapter sends them to kfake one at a time, from the
// simulator's goroutine, when the simulated request reaches the broker, and
// delivers the response to the caller after a simulated latency.
//
// Where it differs from a real deployment:
//   - kfake runs on its own goroutines, but the simulator waits for each
//     response before it goes on, so the broker sees requests in simulation
//     order and never two at once.
//   - A request can be lost before the broker (never applied) or after it
//     (applied, response lost). kfake cannot lose an EndTxn's response by
//     itself; the adapter does it.
//   - kfake's own transaction timer runs on the wall clock, so the
//     simulation's producers ask for TxnTimeoutMillis, out of its reach.
//     Transaction timeouts are modelled here instead, in simulated time:
//     when a transaction stays open longer than the timeout its producer
//     asked for in InitProducerID, the adapter aborts it and bumps the
//     epoch, as the broker does (clockTxn). A fault can expire one at any
//     moment (ExpireTxn).
//   - kfake omits a partition's aborted-transaction list when a fetch passes
//     the response-level byte limit, which would make aborted batches look
//     committed to a read_committed reader; kproto.Fetch never sets a
//     response limit it can reach.
type Kafka struct {
	w        *World
	vn       *kfake.VirtualNetwork
	cluster  *kfake.Cluster
	client   *kgo.Client
	topicIDs map[string][16]byte
	nextID   uint64
	rules    []*KafkaRule
	applied  map[int16]int
	onSend   []func(c *KafkaCall)
	onApply  []func(c *KafkaCall, resp kmsg.Response, err error)
	onResp   []func(c *KafkaCall, resp kmsg.Response, err error)
	txns     map[string]*txnClock
}

// txnClock follows one transactional id for the timeout model.
type txnClock struct {
	timeout time.Duration
	open    bool
	gen     int
}

// TxnTimeoutMillis is the transaction timeout the simulation's producers ask
// for, and BrokerTxnMaxMillis the broker's cap: far above any run's wall-clock
// length, so that kfake never times a transaction out on its own.
const (
	TxnTimeoutMillis   = 3_600_000
	BrokerTxnMaxMillis = 86_400_000
)

// KafkaFate is what happens to one request.
type KafkaFate int

// The fates of a request.
const (
	// Deliver applies the request and returns its response.
	Deliver KafkaFate = iota
	// DropRequest loses the request before the broker: never applied.
	DropRequest
	// DropResponse applies the request and loses the response: the caller
	// times out without knowing (the ambiguous case).
	DropResponse
)

func (f KafkaFate) String() string {
	switch f {
	case DropRequest:
		return "drop-request"
	case DropResponse:
		return "drop-response"
	}
	return "deliver"
}

// KafkaCall is one request on its way through the adapter.
type KafkaCall struct {
	ID   uint64
	From string
	Key  kmsg.Key
	Req  kmsg.Request
	Sent Time
}

// KafkaRule decides the fate of matching requests, Count times (-1: until
// removed). Rules are checked in the order they were added.
type KafkaRule struct {
	Name  string
	Match func(c *KafkaCall) bool
	Fate  KafkaFate
	Count int
	Hits  int
	// Fault is the fault of a plan that aims the rule at requests,
	// counted from 1 (0: no fault by number, as an outage or random loss).
	Fault int
}

// NewKafka starts a one-broker kfake cluster on a virtual network of its own
// for w, so that runs in one process never share a broker.
func NewKafka(w *World) (*Kafka, error) {
	vn := new(kfake.VirtualNetwork)
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(9092),
		kfake.ListenFn(vn.Listen),
		kfake.BrokerConfigs(map[string]string{
			"transaction.max.timeout.ms": fmt.Sprint(BrokerTxnMaxMillis),
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.Dialer(vn.DialContext),
		kgo.DisableClientMetrics(),
		kgo.RequestRetries(0), // retries happen in simulated time, by the caller
	)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return &Kafka{w: w, vn: vn, cluster: c, client: cl, topicIDs: map[string][16]byte{}, applied: map[int16]int{}, txns: map[string]*txnClock{}}, nil
}

// NewWorldWithKafka builds the world of cfg and starts its broker
// (NewKafka): the set-up of every run that talks to Kafka.
func NewWorldWithKafka(cfg Config) (*World, *Kafka, error) {
	w, err := New(cfg)
	if err != nil {
		return nil, nil, err
	}
	k, err := NewKafka(w)
	if err != nil {
		return nil, nil, err
	}
	return w, k, nil
}

// Close stops the client and the broker.
func (k *Kafka) Close() {
	k.client.Close()
	k.cluster.Close()
}

// Cluster exposes kfake, for faults (Fault, ControlKey) and for admin calls
// that bypass them.
func (k *Kafka) Cluster() *kfake.Cluster { return k.cluster }

// ClientOpts returns the kgo options that reach this broker, for an
// independent client.
func (k *Kafka) ClientOpts() []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(k.cluster.ListenAddrs()...), kgo.Dialer(k.vn.DialContext), kgo.DisableClientMetrics()}
}

// CreateTopic creates topic with the given number of partitions. It is a
// set-up step: it bypasses faults and takes no simulated time.
func (k *Kafka) CreateTopic(topic string, partitions int32) error {
	if err := k.cluster.CreateTopic(topic, partitions, nil); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	k.w.Record(Event{Kind: EventKafkaTopic, Name: topic, N: int64(partitions)})
	return nil
}

// Intercept adds a rule deciding the fate of matching requests.
func (k *Kafka) Intercept(r *KafkaRule) *KafkaRule {
	k.rules = append(k.rules, r)
	return r
}

// RemoveRule removes r.
func (k *Kafka) RemoveRule(r *KafkaRule) {
	if i := slices.Index(k.rules, r); i >= 0 {
		k.rules = slices.Delete(k.rules, i, i+1)
	}
}

// InjectFault installs a kfake fault: the broker answers matching requests
// with an error.
func (k *Kafka) InjectFault(f kfake.Fault) *kfake.FaultHandle {
	e := Event{Kind: EventKafkaFault, Name: keyNames(f.Keys), N: int64(f.Count)}
	if f.Err != nil { // not a nil *kerr.Error in an error, which is not nil
		e.Err = f.Err
	}
	k.w.Record(e)
	return k.cluster.Fault(f)
}

// OnSend registers fn to run when a request is sent (before it reaches the
// broker).
func (k *Kafka) OnSend(fn func(c *KafkaCall)) { k.onSend = append(k.onSend, fn) }

// OnApply registers fn to run right after the broker applied a request (or
// answered it with an error).
func (k *Kafka) OnApply(fn func(c *KafkaCall, resp kmsg.Response, err error)) {
	k.onApply = append(k.onApply, fn)
}

// OnResponse registers fn to run when a response (or a timeout) reaches
// the caller, if the caller is still alive to get it.
func (k *Kafka) OnResponse(fn func(c *KafkaCall, resp kmsg.Response, err error)) {
	k.onResp = append(k.onResp, fn)
}

// Applied returns how many requests of kind key reached the broker.
func (k *Kafka) Applied(key kmsg.Key) int { return k.applied[int16(key)] }

// Do sends req on behalf of p. cb runs with the response after the simulated
// round trip, or with protocol.ErrTimeout if the request or its response was
// lost; it
// does not run if p dies first. The request itself travels on: a request sent
// just before a kill can still be applied after it, as on a real network.
func (k *Kafka) Do(p *Proc, req kmsg.Request, cb func(kmsg.Response, error)) {
	k.nextID++
	c := &KafkaCall{ID: k.nextID, From: p.name, Key: kmsg.Key(req.Key()), Req: req, Sent: k.w.now}
	k.fillTopicIDs(req)
	sent := Event{Kind: EventKafkaSent, N: int64(c.ID), Proc: p.name, Op: c.Key.Name(), Detail: describeRequest(req)}
	if r, ok := req.(*kmsg.EndTxnRequest); ok {
		sent.Commit = r.Commit
	}
	k.w.Record(sent)
	for _, fn := range k.onSend {
		fn(c)
	}
	var resp kmsg.Response
	var rerr error
	deliver := p.Guard(func() {
		for _, fn := range k.onResp {
			fn(c, resp, rerr)
		}
		cb(resp, rerr)
	})
	rng := k.w.Rand("kafka")
	k.w.After(k.w.cfg.KafkaLatency.Draw(rng), func() {
		fate := k.fate(c)
		timeoutAt := c.Sent.Add(k.w.cfg.KafkaTimeout)
		if fate == DropRequest {
			k.w.Record(Event{Kind: EventKafkaRequestLost, N: int64(c.ID), Proc: c.From})
			rerr = fmt.Errorf("%s: %w (request lost)", c.Key.Name(), protocol.ErrTimeout)
			k.w.At(timeoutAt, deliver)
			return
		}
		resp, rerr = k.issue(req)
		k.applied[int16(c.Key)]++
		k.clockTxn(req, resp, rerr)
		k.w.Record(Event{Kind: EventKafkaApplied, N: int64(c.ID), Proc: c.From, Detail: describeResponse(resp, rerr)})
		for _, fn := range k.onApply {
			fn(c, resp, rerr)
		}
		if fate == DropResponse {
			k.w.Record(Event{Kind: EventKafkaResponseLost, N: int64(c.ID), Proc: c.From})
			resp, rerr = nil, fmt.Errorf("%s: %w (response lost)", c.Key.Name(), protocol.ErrTimeout)
			k.w.At(timeoutAt, deliver)
			return
		}
		k.w.After(k.w.cfg.KafkaLatency.Draw(rng), deliver)
	})
}

// Sync issues req at once, outside simulated time: for set-up (writing the
// input before a run) and for end-of-run inspection.
func (k *Kafka) Sync(req kmsg.Request) (kmsg.Response, error) {
	k.fillTopicIDs(req)
	return k.issue(req)
}

// issueGuard bounds the wall-clock wait for kfake's answer. It only guards
// against a hung broker (a bug, or a fault that never answers); hitting it
// stops the run with an error instead of hanging forever.
const issueGuard = 30 * time.Second

func (k *Kafka) issue(req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), issueGuard)
	defer cancel()
	resp, err := k.client.Request(ctx, req)
	if err != nil && ctx.Err() != nil {
		k.w.Stop(fmt.Errorf("kafka %s: broker did not answer: %w", kmsg.Key(req.Key()).Name(), err))
	}
	return resp, err
}

func (k *Kafka) fate(c *KafkaCall) KafkaFate {
	for i, r := range k.rules {
		if r.Match != nil && !r.Match(c) {
			continue
		}
		r.Hits++
		if r.Count > 0 && r.Hits >= r.Count {
			k.rules = slices.Delete(k.rules, i, i+1)
		}
		if r.Fate != Deliver {
			k.w.Record(Event{Kind: EventKafkaRule, N: int64(c.ID), M: int64(r.Fault), Proc: c.From, Name: r.Name, Detail: r.Fate.String()})
		}
		return r.Fate
	}
	return Deliver
}

// TopicID returns the ID kfake gave topic. IDs are random per run, so they
// must never reach the trace.
func (k *Kafka) TopicID(topic string) [16]byte {
	if id, ok := k.topicIDs[topic]; ok {
		return id
	}
	var id [16]byte
	if ti := k.cluster.TopicInfo(topic); ti != nil {
		id = ti.TopicID
		k.topicIDs[topic] = id
	}
	return id
}

// fillTopicIDs sets the topic IDs that recent Produce and Fetch versions
// address topics by, so callers can build requests by name alone.
func (k *Kafka) fillTopicIDs(req kmsg.Request) {
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		for i := range r.Topics {
			if r.Topics[i].TopicID == ([16]byte{}) {
				r.Topics[i].TopicID = k.TopicID(r.Topics[i].Topic)
			}
		}
	case *kmsg.FetchRequest:
		for i := range r.Topics {
			if r.Topics[i].TopicID == ([16]byte{}) {
				r.Topics[i].TopicID = k.TopicID(r.Topics[i].Topic)
			}
		}
	}
}

// PartitionEnd returns the high watermark and last stable offset of a
// partition, read through kfake's admin view (no request, no fault).
func (k *Kafka) PartitionEnd(topic string, partition int32) (hwm, lso int64, ok bool) {
	pi := k.cluster.PartitionInfo(topic, partition)
	if pi == nil {
		return 0, 0, false
	}
	return pi.HighWatermark, pi.LastStableOffset, true
}

func keyNames(keys []kmsg.Key) string {
	if len(keys) == 0 {
		return "all"
	}
	var names []string
	for _, k := range keys {
		names = append(names, k.Name())
	}
	return strings.Join(names, ",")
}

// describeRequest renders a request in logical terms for the trace. It is
// on the path of every request, so it appends instead of formatting.
func describeRequest(req kmsg.Request) string {
	var b []byte
	num := func(sep string, n int64) {
		b = append(b, sep...)
		b = strconv.AppendInt(b, n, 10)
	}
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		b = append(b, "Produce"...)
		if r.TransactionID != nil {
			b = append(append(b, " txn="...), *r.TransactionID...)
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				b = append(append(b, ' '), t.Topic...)
				num("/", int64(p.Partition))
				var batch kmsg.RecordBatch
				if err := batch.ReadFrom(p.Records); err == nil {
					num(" n=", int64(batch.NumRecords))
					num(" pid=", batch.ProducerID)
					num(" e=", int64(batch.ProducerEpoch))
					num(" seq=", int64(batch.FirstSequence))
				} else {
					num(" bytes=", int64(len(p.Records)))
				}
			}
		}
	case *kmsg.FetchRequest:
		b = append(b, "Fetch"...)
		if r.IsolationLevel == 1 {
			b = append(b, " rc"...)
		}
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				b = append(append(b, ' '), t.Topic...)
				num("/", int64(p.Partition))
				num("@", p.FetchOffset)
			}
		}
	case *kmsg.InitProducerIDRequest:
		b = append(b, "InitProducerID txn="...)
		if r.TransactionalID != nil {
			b = append(b, *r.TransactionalID...)
		}
	case *kmsg.EndTxnRequest:
		b = append(append(b, "EndTxn txn="...), r.TransactionalID...)
		num(" pid=", r.ProducerID)
		num(" e=", int64(r.ProducerEpoch))
		b = strconv.AppendBool(append(b, " commit="...), r.Commit)
	default:
		return kmsg.Key(req.Key()).Name()
	}
	return string(b)
}

// describeResponse renders a response in logical terms for the trace,
// appending as describeRequest does.
func describeResponse(resp kmsg.Response, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b []byte
	num := func(sep string, n int64) {
		b = append(b, sep...)
		b = strconv.AppendInt(b, n, 10)
	}
	part := func(p int32, code int16) {
		if len(b) > 0 {
			b = append(b, ' ')
		}
		num("", int64(p))
		b = append(append(b, ':'), codeName(code)...)
	}
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				part(p.Partition, p.ErrorCode)
				num("@", p.BaseOffset)
			}
		}
	case *kmsg.FetchResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				part(p.Partition, p.ErrorCode)
				num(" hw=", p.HighWatermark)
				num(" lso=", p.LastStableOffset)
				num(" bytes=", int64(len(p.RecordBatches)))
			}
		}
	case *kmsg.InitProducerIDResponse:
		b = append(b, codeName(r.ErrorCode)...)
		num(" pid=", r.ProducerID)
		num(" e=", int64(r.ProducerEpoch))
	case *kmsg.EndTxnResponse:
		b = append(b, codeName(r.ErrorCode)...)
		num(" pid=", r.ProducerID)
		num(" e=", int64(r.ProducerEpoch))
	default:
		return fmt.Sprintf("%T", resp)
	}
	return string(b)
}

func codeName(code int16) string {
	if code == 0 {
		return "ok"
	}
	if err := kerr.ErrorForCode(code); err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return ke.Message
		}
		return err.Error()
	}
	return fmt.Sprint(code)
}

// clockTxn runs the transaction-timeout model on an applied request: a
// transaction starts with its first successful transactional produce and
// ends with EndTxn or a new InitProducerID; if it is still open when its
// producer's timeout passes, the broker aborts it.
func (k *Kafka) clockTxn(req kmsg.Request, resp kmsg.Response, err error) {
	if err != nil {
		return
	}
	switch r := req.(type) {
	case *kmsg.InitProducerIDRequest:
		ir, ok := resp.(*kmsg.InitProducerIDResponse)
		if r.TransactionalID == nil || !ok || ir.ErrorCode != 0 {
			return
		}
		tc := k.txn(*r.TransactionalID)
		tc.timeout = time.Duration(r.TransactionTimeoutMillis) * time.Millisecond
		tc.open = false
		tc.gen++
	case *kmsg.EndTxnRequest:
		if er, ok := resp.(*kmsg.EndTxnResponse); ok && er.ErrorCode == 0 {
			tc := k.txn(r.TransactionalID)
			tc.open = false
			tc.gen++
		}
	case *kmsg.ProduceRequest:
		pr, ok := resp.(*kmsg.ProduceResponse)
		if r.TransactionID == nil || !ok || len(pr.Topics) == 0 || len(pr.Topics[0].Partitions) == 0 || pr.Topics[0].Partitions[0].ErrorCode != 0 {
			return
		}
		id := *r.TransactionID
		tc := k.txn(id)
		if tc.open || tc.timeout == 0 {
			return
		}
		tc.open = true
		tc.gen++
		gen := tc.gen
		k.w.After(tc.timeout, func() {
			if tc.gen == gen && tc.open {
				k.expire(id, "its timeout passed")
			}
		})
	}
}

func (k *Kafka) txn(id string) *txnClock {
	tc := k.txns[id]
	if tc == nil {
		tc = &txnClock{}
		k.txns[id] = tc
	}
	return tc
}

// ExpireTxn aborts id's open transaction and bumps its epoch, as the broker
// does when the transaction's timeout passes: the old producer can no longer
// commit it.
func (k *Kafka) ExpireTxn(id string) error { return k.expire(id, "expired by a fault") }

func (k *Kafka) expire(id, why string) error {
	tc := k.txn(id)
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &id
	req.TransactionTimeoutMillis = int32(max(tc.timeout, time.Millisecond) / time.Millisecond)
	req.ProducerID, req.ProducerEpoch = -1, -1
	resp, err := k.issue(req)
	if err == nil {
		if ir, ok := resp.(*kmsg.InitProducerIDResponse); ok && ir.ErrorCode != 0 {
			err = kerr.ErrorForCode(ir.ErrorCode)
		}
	}
	tc.open = false
	tc.gen++
	k.w.Record(Event{Kind: EventKafkaTxnAborted, Name: id, Detail: why, Err: err})
	return err
}
