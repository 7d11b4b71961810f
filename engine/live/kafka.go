package live

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaConn issues the engine's raw requests through one kgo client.
//
// What it adds to the raw requests:
//   - Topic IDs: Produce v13 and Fetch v13+ address topics by ID, which the
//     engine does not know; they come from a Metadata request, once per
//     topic (the simulator reads them from kfake directly).
//   - Routing: kgo sends Produce and Fetch to any broker, so with more than
//     one broker they go to the partition's leader instead (a Fetch whose
//     partitions have different leaders is split and the answers merged).
//     A "not leader" answer drops the cached metadata; the engine retries.
//   - Timeouts: each request gets RequestTimeout. A transport error or a
//     timeout becomes protocol.ErrTimeout, because the caller cannot know
//     whether the broker applied the request.
type kafkaConn struct {
	cl      *kgo.Client
	timeout time.Duration

	mu     sync.Mutex
	topics map[string]*topicMeta
}

type topicMeta struct {
	id      [16]byte
	leaders map[int32]int32
}

func newKafkaConn(opts []kgo.Opt, timeout time.Duration) (*kafkaConn, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.DisableClientMetrics(), kgo.RequestRetries(0)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return &kafkaConn{cl: cl, timeout: timeout, topics: map[string]*topicMeta{}}, nil
}

func (k *kafkaConn) close() { k.cl.Close() }

// do issues req and returns its response.
func (k *kafkaConn) do(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	resp, err := k.route(ctx, req)
	if err != nil {
		var ke *kerr.Error
		if !errors.As(err, &ke) {
			// The request may or may not have reached the broker.
			return nil, fmt.Errorf("%s: %w: %v", kmsg.Key(req.Key()).Name(), protocol.ErrTimeout, err)
		}
		return nil, err
	}
	k.noteErrors(resp)
	return resp, nil
}

func (k *kafkaConn) route(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		leader := int32(-1)
		for i := range r.Topics {
			t := &r.Topics[i]
			m, err := k.meta(ctx, t.Topic)
			if err != nil {
				return nil, err
			}
			t.TopicID = m.id
			for _, p := range t.Partitions {
				leader = m.leader(p.Partition)
			}
		}
		return k.to(leader).Request(ctx, req)
	case *kmsg.FetchRequest:
		return k.fetch(ctx, r)
	}
	return k.cl.Request(ctx, req)
}

type requester interface {
	Request(context.Context, kmsg.Request) (kmsg.Response, error)
}

// to returns the broker with id leader, or the client (any broker) when the
// leader is unknown.
func (k *kafkaConn) to(leader int32) requester {
	if leader < 0 {
		return k.cl
	}
	return k.cl.Broker(int(leader))
}

// fetch sends each partition's part of r to its leader.
func (k *kafkaConn) fetch(ctx context.Context, r *kmsg.FetchRequest) (kmsg.Response, error) {
	type part struct {
		topic int
		p     kmsg.FetchRequestTopicPartition
	}
	byLeader := map[int32][]part{}
	var order []int32
	for i := range r.Topics {
		t := &r.Topics[i]
		m, err := k.meta(ctx, t.Topic)
		if err != nil {
			return nil, err
		}
		t.TopicID = m.id
		for _, p := range t.Partitions {
			l := m.leader(p.Partition)
			if _, ok := byLeader[l]; !ok {
				order = append(order, l)
			}
			byLeader[l] = append(byLeader[l], part{i, p})
		}
	}
	if len(order) <= 1 {
		l := int32(-1)
		if len(order) == 1 {
			l = order[0]
		}
		return k.to(l).Request(ctx, r)
	}
	// Partitions led by different brokers: one request per leader, in
	// parallel, merged into one response.
	resps := make([]*kmsg.FetchResponse, len(order))
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for i, l := range order {
		sub := *r
		sub.Topics = nil
		for _, pt := range byLeader[l] {
			src := r.Topics[pt.topic]
			j := len(sub.Topics) - 1
			if j < 0 || sub.Topics[j].Topic != src.Topic {
				nt := src
				nt.Partitions = nil
				sub.Topics = append(sub.Topics, nt)
				j++
			}
			sub.Topics[j].Partitions = append(sub.Topics[j].Partitions, pt.p)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := k.to(l).Request(ctx, &sub)
			if err == nil {
				resps[i], _ = resp.(*kmsg.FetchResponse)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := resps[0]
	for _, rr := range resps[1:] {
		if rr == nil {
			continue
		}
		for _, t := range rr.Topics {
			merged := false
			for j := range out.Topics {
				if out.Topics[j].Topic == t.Topic || (t.TopicID != ([16]byte{}) && out.Topics[j].TopicID == t.TopicID) {
					out.Topics[j].Partitions = append(out.Topics[j].Partitions, t.Partitions...)
					merged = true
					break
				}
			}
			if !merged {
				out.Topics = append(out.Topics, t)
			}
		}
	}
	return out, nil
}

func (m *topicMeta) leader(p int32) int32 {
	if l, ok := m.leaders[p]; ok {
		return l
	}
	return -1
}

// meta returns topic's ID and partition leaders, asking the cluster once.
func (k *kafkaConn) meta(ctx context.Context, topic string) (*topicMeta, error) {
	k.mu.Lock()
	m := k.topics[topic]
	k.mu.Unlock()
	if m != nil {
		return m, nil
	}
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, k.cl)
	if err != nil {
		return nil, fmt.Errorf("metadata for %s: %w", topic, err)
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("metadata for %s: %d topics in the answer", topic, len(resp.Topics))
	}
	t := resp.Topics[0]
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		return nil, fmt.Errorf("metadata for %s: %w", topic, err)
	}
	m = &topicMeta{id: t.TopicID, leaders: map[int32]int32{}}
	for _, p := range t.Partitions {
		m.leaders[p.Partition] = p.Leader
	}
	k.mu.Lock()
	k.topics[topic] = m
	k.mu.Unlock()
	return m, nil
}

// noteErrors forgets a topic's metadata when a response says it is stale.
func (k *kafkaConn) noteErrors(resp kmsg.Response) {
	stale := func(code int16) bool {
		switch kerr.ErrorForCode(code) {
		case kerr.NotLeaderForPartition, kerr.UnknownTopicOrPartition, kerr.LeaderNotAvailable,
			kerr.FencedLeaderEpoch, kerr.UnknownTopicID, kerr.UnknownLeaderEpoch:
			return true
		}
		return false
	}
	var drop []string
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if stale(p.ErrorCode) {
					drop = append(drop, t.Topic)
				}
			}
		}
	case *kmsg.FetchResponse:
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				if stale(p.ErrorCode) {
					drop = append(drop, t.Topic)
				}
			}
		}
	}
	if len(drop) == 0 {
		return
	}
	k.mu.Lock()
	for _, t := range drop {
		delete(k.topics, t)
	}
	// A topic known only by ID in the response: drop everything.
	for _, t := range drop {
		if t == "" {
			k.topics = map[string]*topicMeta{}
		}
	}
	k.mu.Unlock()
}

// Broker is a kfake cluster in this process, for benchmarks and tests.
type Broker struct {
	Cluster *kfake.Cluster
	vn      *kfake.VirtualNetwork
}

// BrokerTxnTimeoutMax is the broker's cap on transaction timeouts
// (transaction.max.timeout.ms): a day, far above any run.
const BrokerTxnTimeoutMax = 24 * time.Hour

// StartBroker starts a one-broker kfake cluster. Over a VirtualNetwork
// (tcp false) it is reached only through ClientOpts, with no sockets; with
// tcp it listens on a free port of 127.0.0.1.
func StartBroker(tcp bool) (*Broker, error) { return StartBrokers(1, tcp) }

// StartTCPBroker starts a one-broker kfake cluster listening on port of
// 127.0.0.1 (0: a free port), for clients in other processes.
func StartTCPBroker(port int) (*Broker, error) { return StartTCPBrokerWith(port, BrokerStorage{}) }

// BrokerStorage says where a broker keeps its log.
type BrokerStorage struct {
	// DataDir, if set, keeps the broker's state on disk (kfake.DataDir):
	// topics, logs, producer ids and transactions are written as they
	// change and reloaded by a broker started on the same directory, so
	// that it can be restarted in the middle of a run. Empty: in memory.
	//
	// Where kfake differs from Kafka: a broker stopped cleanly (Close)
	// saves its open transactions and restores them; one that crashed
	// (killed, no Close) aborts every transaction that was open on its
	// next start, pre-committed ones included, which Kafka would keep.
	DataDir string
	// SyncWrites fsyncs every batch (kfake.SyncWrites). Without it writes
	// wait in the page cache, as Kafka's do by default: a killed process
	// loses nothing, a machine that loses power may.
	SyncWrites bool
}

// StartTCPBrokerWith is StartTCPBroker with the broker's log kept as st
// says.
func StartTCPBrokerWith(port int, st BrokerStorage) (*Broker, error) {
	opts := append(brokerOpts(1), kfake.Ports(port))
	if st.DataDir != "" {
		opts = append(opts, kfake.DataDir(st.DataDir))
	}
	if st.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start kfake on port %d: %w", port, err)
	}
	return &Broker{Cluster: c}, nil
}

func brokerOpts(n int) []kfake.Opt {
	return []kfake.Opt{
		kfake.NumBrokers(n),
		kfake.BrokerConfigs(map[string]string{
			"transaction.max.timeout.ms": fmt.Sprint(BrokerTxnTimeoutMax.Milliseconds()),
		}),
	}
}

// StartBrokers starts a kfake cluster of n brokers; partition leaders are
// spread over them, so requests must be routed to leaders.
func StartBrokers(n int, tcp bool) (*Broker, error) {
	opts := brokerOpts(n)
	b := &Broker{}
	if !tcp {
		b.vn = new(kfake.VirtualNetwork)
		ports := make([]int, n)
		for i := range ports {
			ports[i] = 9092 + i
		}
		opts = append(opts, kfake.Ports(ports...), kfake.ListenFn(b.vn.Listen))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	b.Cluster = c
	return b, nil
}

// ClientOpts returns the kgo options that reach the broker.
func (b *Broker) ClientOpts() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(b.Cluster.ListenAddrs()...), kgo.DisableClientMetrics()}
	if b.vn != nil {
		opts = append(opts, kgo.Dialer(b.vn.DialContext))
	}
	return opts
}

// CreateTopic creates topic with the given number of partitions.
func (b *Broker) CreateTopic(topic string, partitions int32) error {
	if err := b.Cluster.CreateTopic(topic, partitions, nil); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// Close stops the broker.
func (b *Broker) Close() { b.Cluster.Close() }
