// Package livetest sets up and judges live runs: an in-process Kafka with a
// job's topics and input, and the exactly-once verdict on what the job
// committed. The live runner's tests and the bench library share it.
//
// The verdict is the simulator's, from the same code (internal/judge): the
// output's whole log is read by kgo consumers of its own (not the engine's
// fetch path), each record labelled committed, aborted or open by the log's
// own markers, and judged against the job's sequential oracle over the
// committed input, itself read back and checked against the input generated.
package livetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/live"
	"github.com/onceproof/onceproof/internal/judge"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Fixture is a job with its topics and input on a Kafka cluster.
type Fixture struct {
	// Broker is the in-process broker (nil when the cluster is external).
	Broker *live.Broker
	// Opts reach the cluster.
	Opts   []kgo.Opt
	Spec   *jobs.Spec
	Params jobs.Params
	Job    *engine.Job
	// generated is the committed input WriteGenerated wrote, for the
	// input check.
	generated []jobs.Input
}

// New starts an in-process broker (over a VirtualNetwork) and creates the
// job's topics; it writes no input.
func New(job string, p jobs.Params) (*Fixture, error) { return NewOn(1, job, p) }

// NewOn is New on a cluster of brokers brokers, whose partition leaders are
// spread over them.
func NewOn(brokers int, job string, p jobs.Params) (*Fixture, error) {
	spec, err := jobs.Lookup(job)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	j, err := spec.Build(p)
	if err != nil {
		return nil, err
	}
	b, err := live.StartBrokers(brokers, false)
	if err != nil {
		return nil, err
	}
	f := &Fixture{Broker: b, Opts: b.ClientOpts(), Spec: spec, Params: p, Job: j}
	for _, t := range append(spec.Inputs(p), spec.Output(p)) {
		if err := b.CreateTopic(t.Name, t.Partitions); err != nil {
			b.Close()
			return nil, err
		}
	}
	return f, nil
}

// Close stops the broker.
func (f *Fixture) Close() {
	if f.Broker != nil {
		f.Broker.Close()
	}
}

// WriteGenerated writes the job's generated input (drawn from seed) in
// transactions of txnRecords records, every fourth aborted, so that the
// input holds aborted batches and control markers as real input does.
func (f *Fixture) WriteGenerated(ctx context.Context, seed uint64, txnRecords int) error {
	r := rand.New(rand.NewPCG(seed, 0x6c697665))
	return f.Write(ctx, f.Spec.Generate(r, f.Params), txnRecords, "livetest-input")
}

// Write writes recs as WriteTxns does and remembers them as generated
// input, after what was written before, for the input check.
func (f *Fixture) Write(ctx context.Context, recs []jobs.Input, txnRecords int, txnID string) error {
	f.generated = append(f.generated, recs...)
	return WriteTxns(ctx, f.Opts, recs, txnRecords, txnID)
}

// WriteTxns writes recs with a transactional kgo producer, txnRecords per
// transaction, aborting every fourth transaction (its records are written
// with an "aborted-" value prefix and never become visible).
func WriteTxns(ctx context.Context, opts []kgo.Opt, recs []jobs.Input, txnRecords int, txnID string) error {
	if txnRecords < 1 {
		return fmt.Errorf("write input: txn records must be at least 1, got %d", txnRecords)
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.TransactionalID(txnID), kgo.TransactionTimeout(time.Minute),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))...)
	if err != nil {
		return fmt.Errorf("write input: %w", err)
	}
	defer cl.Close()
	for i, txn := 0, 0; i < len(recs); txn++ {
		abort := txn%4 == 3
		n := min(txnRecords, len(recs)-i)
		if err := cl.BeginTransaction(); err != nil {
			return fmt.Errorf("write input: begin: %w", err)
		}
		for _, in := range recs[i : i+n] {
			v := in.Value
			if abort {
				v = "aborted-" + v
			}
			cl.Produce(ctx, &kgo.Record{Topic: in.Topic, Partition: in.Partition, Key: []byte(in.Key), Value: []byte(v)}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			return fmt.Errorf("write input: flush: %w", err)
		}
		commit := kgo.TryCommit
		if abort {
			commit = kgo.TryAbort
		} else {
			i += n
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			return fmt.Errorf("write input: end transaction: %w", err)
		}
	}
	return nil
}

// Input reads the committed input back (as the oracle needs it, with
// offsets), checked against what WriteGenerated wrote, and the end of each
// input partition ("topic/p" -> high watermark), which is where the job has
// read everything.
func (f *Fixture) Input(ctx context.Context) (*judge.Input, error) {
	var topics []string
	for _, t := range f.Spec.Inputs(f.Params) {
		topics = append(topics, t.Name)
	}
	return ReadInput(ctx, f.Opts, func(t string) string { return t }, f.generated, topics...)
}

// ReadInput reads topics back with an independent reader, as the oracle's
// committed input, and checks it against generated. Each topic is read from
// actual(topic), for benchmarks that rename topics; the result names it
// topic, as the job's oracle knows it.
func ReadInput(ctx context.Context, opts []kgo.Opt, actual func(string) string, generated []jobs.Input, topics ...string) (*judge.Input, error) {
	return judge.ReadInput(ctx, opts, 5*time.Minute, actual, generated, topics...)
}

// Check reads the input and the committed output and judges them: the input
// as the broker kept it against what WriteGenerated wrote, the exactly-once
// verdict, read_committed isolation and whether a transaction was left open.
func (f *Fixture) Check(ctx context.Context) ([]checkers.Result, error) {
	in, err := f.Input(ctx)
	if err != nil {
		return nil, err
	}
	return append(Judge(ctx, f.Opts, f.Spec, f.Spec.Output(f.Params).Name, in.Committed), in.Check), nil
}

// Judge reads topic (a job's output) with an independent reader and checks
// it against spec's oracle over in.
func Judge(ctx context.Context, opts []kgo.Opt, spec *jobs.Spec, topic string, in []jobs.Committed) []checkers.Result {
	rs, _ := judge.Output(ctx, opts, 5*time.Minute, spec, topic, in)
	return rs
}

// ExactlyOnceChecker is the name of the result that Judge always returns
// and that Verdict requires.
const ExactlyOnceChecker = "exactly-once"

// Verdict is the worst verdict of rs, and Unknown when rs holds no
// exactly-once result: a run whose output was not checked did not pass.
func Verdict(rs []checkers.Result) checkers.Verdict {
	if !slices.ContainsFunc(rs, func(r checkers.Result) bool { return r.Checker == ExactlyOnceChecker }) {
		return checkers.Worst(append(slices.Clone(rs), checkers.Result{Verdict: checkers.Unknown})...)
	}
	return checkers.Worst(rs...)
}

// Failed returns an error describing every result that is not Ok, and a
// missing exactly-once result: nil only when Verdict is Ok.
func Failed(rs []checkers.Result) error {
	var errs []error
	if !slices.ContainsFunc(rs, func(r checkers.Result) bool { return r.Checker == ExactlyOnceChecker }) {
		errs = append(errs, errors.New("exactly-once: no verdict: the output was not checked"))
	}
	for _, r := range rs {
		if r.Verdict != checkers.Ok {
			errs = append(errs, fmt.Errorf("%s: %s %s: %s", r.Checker, r.Verdict, r.Anomaly, r.Explanation))
		}
	}
	return errors.Join(errs...)
}
