// Command franzgo-eos is a correct exactly-once consume-transform-produce
// program built on franz-go's GroupTransactSession: it copies every record
// of its input topic to its output topic, with the same key and value, and
// commits the consumed offsets inside the same transaction.
//
// It is an example target for "chaosrun target": it reads its connection
// details from the environment a target run sets (ONCEPROOF_BROKERS,
// ONCEPROOF_INPUT_TOPIC, ONCEPROOF_OUTPUT_TOPIC, ONCEPROOF_GROUP,
// ONCEPROOF_TXN_PREFIX) and exits cleanly on SIGTERM.
//
//	chaosrun target --expect copy -- go run ./examples/franzgo-eos
package main

import (
	"context"
	"errors"
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
		fmt.Fprintln(os.Stderr, "franzgo-eos:", err)
		os.Exit(1)
	}
}

func env(name string) string {
	v := os.Getenv(name)
	if v == "" {
		fmt.Fprintf(os.Stderr, "franzgo-eos: %s is not set (run me under chaosrun target)\n", name)
		os.Exit(2)
	}
	return v
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	out := env("ONCEPROOF_OUTPUT_TOPIC")
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(strings.Split(env("ONCEPROOF_BROKERS"), ",")...),
		kgo.ConsumerGroup(env("ONCEPROOF_GROUP")),
		kgo.ConsumeTopics(env("ONCEPROOF_INPUT_TOPIC")),
		// A stable transactional ID per instance: a restarted instance
		// fences its previous incarnation.
		kgo.TransactionalID(env("ONCEPROOF_TXN_PREFIX")+"copier"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.DisableClientMetrics(),
		// Short group and transaction timeouts, so that a killed
		// instance's partitions move on within a second or two.
		kgo.SessionTimeout(1500*time.Millisecond),
		kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.RebalanceTimeout(5*time.Second),
		kgo.TransactionTimeout(6*time.Second),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer sess.Close()
	for {
		fetches := sess.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fetches.IsClientClosed() {
			return nil
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				ferr = errors.Join(ferr, fmt.Errorf("fetch %s/%d: %w", t, p, err))
			}
		})
		if ferr != nil {
			fmt.Fprintln(os.Stderr, "franzgo-eos:", ferr)
		}
		if fetches.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: r.Value}, func(_ *kgo.Record, err error) {
				if err != nil {
					fmt.Fprintln(os.Stderr, "franzgo-eos: produce:", err)
				}
			})
		})
		committed, err := sess.End(ctx, kgo.TryCommit)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("end transaction: %w", err)
		}
		if !committed {
			fmt.Fprintln(os.Stderr, "franzgo-eos: transaction aborted (rebalance); the records will be consumed again")
		}
	}
}
