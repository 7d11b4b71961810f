// Command franzgo-eos-broken is the broken twin of examples/franzgo-eos: it
// copies its input topic to its output topic inside transactions, but
// commits the consumed offsets outside them, with a plain OffsetCommit from
// a separate consumer, before the transaction commits. A crash between the
// two loses the transaction's records: the group has moved past input whose
// output was aborted.
//
// "chaosrun target --expect copy -- go run ./examples/franzgo-eos-broken"
// catches it, typically as lost-write after a SIGKILL at EndTxn.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "franzgo-eos-broken:", err)
		os.Exit(1)
	}
}

func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Fprintf(os.Stderr, "franzgo-eos-broken: %s is not set (run me under chaosrun target)\n", name)
		os.Exit(2)
	}
	return v
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	brokers := strings.Split(env("ONCEPROOF_BROKERS"), ",")
	out := env("ONCEPROOF_OUTPUT_TOPIC")
	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(env("ONCEPROOF_GROUP")),
		kgo.ConsumeTopics(env("ONCEPROOF_INPUT_TOPIC")),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.DisableClientMetrics(),
		kgo.SessionTimeout(1500*time.Millisecond),
		kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.RebalanceTimeout(5*time.Second),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer consumer.Close()
	producer, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.TransactionalID(env("ONCEPROOF_TXN_PREFIX")+"copier"),
		kgo.TransactionTimeout(6*time.Second),
		kgo.DisableClientMetrics(),
	)
	if err != nil {
		return err
	}
	defer producer.Close()
	for {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		if fetches.NumRecords() == 0 {
			continue
		}
		if err := producer.BeginTransaction(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		var recs []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			producer.Produce(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: r.Value}, nil)
		})
		if err := producer.Flush(ctx); err != nil {
			return nil
		}
		// THE BUG: the offsets are committed outside the transaction,
		// before it commits.
		if err := consumer.CommitRecords(ctx, recs...); err != nil {
			return fmt.Errorf("commit offsets: %w", err)
		}
		if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("end transaction: %w", err)
		}
	}
}
