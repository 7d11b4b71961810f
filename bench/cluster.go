package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onceproof/onceproof/engine/live"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cluster is the Kafka a benchmark runs against: an in-process kfake broker
// (over a VirtualNetwork, no sockets) or external brokers.
type Cluster struct {
	// Opts reach the cluster; every client of a benchmark starts from them.
	Opts   []kgo.Opt
	Broker *live.Broker
	admin  *kgo.Client
	// Brokers are the external seed brokers (empty: in-process).
	Brokers []string
}

// ErrUnreachable is wrapped when the given brokers do not answer.
var ErrUnreachable = errors.New("brokers unreachable")

// DialTimeout bounds connecting to external brokers, so that a wrong
// address fails in seconds.
const DialTimeout = 3 * time.Second

// NewCluster starts an in-process broker when brokers is empty (over TCP
// on 127.0.0.1 with tcp, else over a VirtualNetwork), or connects to
// brokers with extra kgo options (TLS, SASL) and checks that they answer
// within DialTimeout.
func NewCluster(ctx context.Context, brokers []string, tcp bool, extra ...kgo.Opt) (*Cluster, error) {
	c := &Cluster{Brokers: brokers}
	if len(brokers) == 0 {
		b, err := live.StartBroker(tcp)
		if err != nil {
			return nil, err
		}
		c.Broker, c.Opts = b, b.ClientOpts()
	} else {
		c.Opts = append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.DialTimeout(DialTimeout), kgo.DisableClientMetrics()}, extra...)
	}
	admin, err := kgo.NewClient(append(append([]kgo.Opt(nil), c.Opts...), kgo.RequestRetries(2))...)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	c.admin = admin
	pctx, cancel := context.WithTimeout(ctx, DialTimeout+time.Second)
	defer cancel()
	if err := admin.Ping(pctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, strings.Join(brokers, ","), err)
	}
	return c, nil
}

// Close stops the in-process broker and the admin client.
func (c *Cluster) Close() {
	if c.admin != nil {
		c.admin.Close()
	}
	if c.Broker != nil {
		c.Broker.Close()
	}
}

// CreateTopic creates topic with the given partitions (the broker's default
// replication): CreateTopicSpec with no spec.
func (c *Cluster) CreateTopic(ctx context.Context, topic string, partitions int32) error {
	return c.CreateTopicSpec(ctx, topic, partitions, TopicSpec{})
}

// metadata asks the cluster about topic alone; the caller judges the
// topic's error code.
func (c *Cluster) metadata(ctx context.Context, topic string) (*kmsg.MetadataResponseTopic, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return nil, fmt.Errorf("metadata for %s: %w", topic, err)
	}
	if len(resp.Topics) != 1 {
		return nil, fmt.Errorf("metadata for %s: %d topics", topic, len(resp.Topics))
	}
	return &resp.Topics[0], nil
}

// topicID asks the cluster for topic's ID.
func (c *Cluster) topicID(ctx context.Context, topic string) ([16]byte, error) {
	t, err := c.metadata(ctx, topic)
	if err != nil {
		return [16]byte{}, err
	}
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		return [16]byte{}, fmt.Errorf("metadata for %s: %w", topic, err)
	}
	return t.TopicID, nil
}

// Ends returns the high watermark of each partition of topic, keyed
// "topic/p" as checkpoint offsets are.
func (c *Cluster) Ends(ctx context.Context, topic string, partitions int32) (map[string]int64, error) {
	return c.listOffsets(ctx, topic, partitions, 0)
}

// lastStable returns each partition's last stable offset.
func (c *Cluster) lastStable(ctx context.Context, topic string, partitions int32) (map[int32]int64, error) {
	m, err := c.listOffsets(ctx, topic, partitions, 1)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p := int32(0); p < partitions; p++ {
		out[p] = m[fmt.Sprintf("%s/%d", topic, p)]
	}
	return out, nil
}

func (c *Cluster) listOffsets(ctx context.Context, topic string, partitions int32, isolation int8) (map[string]int64, error) {
	return c.listOffsetsAt(ctx, topic, partitions, isolation, -1)
}

// listOffsetsAt lists each partition's offset at timestamp ts (-1: the
// end, -2: the log start).
func (c *Cluster) listOffsetsAt(ctx context.Context, topic string, partitions int32, isolation int8, ts int64) (map[string]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < partitions; p++ {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, ts
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return nil, fmt.Errorf("list offsets %s: %w", topic, err)
	}
	ends := map[string]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets %s/%d: %w", topic, p.Partition, err)
			}
			ends[fmt.Sprintf("%s/%d", topic, p.Partition)] = p.Offset
		}
	}
	if len(ends) != int(partitions) {
		return nil, fmt.Errorf("list offsets %s: %d of %d partitions answered", topic, len(ends), partitions)
	}
	return ends, nil
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TopicSpec is how the topics a run creates are created.
type TopicSpec struct {
	// ReplicationFactor of each topic (0: the broker's default).
	ReplicationFactor int16 `json:"replication_factor,omitempty"`
	// MinInsyncReplicas sets min.insync.replicas (0: the broker's
	// default).
	MinInsyncReplicas int `json:"min_insync_replicas,omitempty"`
}

// CreateTopicSpec creates topic with the given partitions as spec says. A
// topic that exists already gives an error that wraps
// kerr.TopicAlreadyExists.
func (c *Cluster) CreateTopicSpec(ctx context.Context, topic string, partitions int32, spec TopicSpec) error {
	var configs map[string]*string
	if spec.MinInsyncReplicas > 0 {
		v := fmt.Sprint(spec.MinInsyncReplicas)
		configs = map[string]*string{"min.insync.replicas": &v}
	}
	if c.Broker != nil {
		if c.Broker.Cluster.TopicInfo(topic) != nil {
			return fmt.Errorf("create topic %s: %w", topic, kerr.TopicAlreadyExists)
		}
		plain := map[string]string{}
		for k, v := range configs { // lint:sorted copies a map
			plain[k] = *v
		}
		if err := c.Broker.Cluster.CreateTopic(topic, partitions, plain); err != nil {
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		return nil
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = topic, partitions, -1
	if spec.ReplicationFactor > 0 {
		t.ReplicationFactor = spec.ReplicationFactor
	}
	for k, v := range configs { // lint:sorted one entry at most
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name, cfg.Value = k, v
		t.Configs = append(t.Configs, cfg)
	}
	req.Topics = append(req.Topics, t)
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			msg := ""
			if rt.ErrorMessage != nil {
				msg = " (" + *rt.ErrorMessage + ")"
			}
			return fmt.Errorf("create topic %s%s: %w", topic, msg, err)
		}
	}
	return nil
}

// DeleteTopics deletes topics.
func (c *Cluster) DeleteTopics(ctx context.Context, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	if c.Broker != nil {
		for _, t := range topics {
			if err := c.Broker.Cluster.DeleteTopic(t); err != nil {
				return fmt.Errorf("delete topic %s: %w", t, err)
			}
		}
		return nil
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30000
	for _, t := range topics {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
		req.TopicNames = append(req.TopicNames, t)
	}
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return fmt.Errorf("delete topics %s: %w", strings.Join(topics, ","), err)
	}
	var errs []error
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			name := ""
			if rt.Topic != nil {
				name = *rt.Topic
			}
			errs = append(errs, fmt.Errorf("delete topic %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Partitions returns how many partitions topic has; a topic that does not
// exist gives an error that wraps kerr.UnknownTopicOrPartition.
func (c *Cluster) Partitions(ctx context.Context, topic string) (int32, error) {
	t, err := c.metadata(ctx, topic)
	if err != nil {
		return 0, err
	}
	if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
		return 0, fmt.Errorf("topic %s: %w", topic, err)
	}
	return int32(len(t.Partitions)), nil
}

// Starts returns each partition's log start offset, keyed "topic/p".
func (c *Cluster) Starts(ctx context.Context, topic string, partitions int32) (map[string]int64, error) {
	return c.listOffsetsAt(ctx, topic, partitions, 0, -2)
}
