// Command bench measures the reference engine live: throughput, latency,
// checkpoint cost and recovery (run), against the Kafka ceiling and
// franz-go in the same process (compare), the simulator's speed (sim), and
// draws charts of results (plot). It is a thin layer over package bench.
//
// Exit codes: 0 done, 1 the measurement failed (or its output was not
// exactly-once), 2 bad usage or input (an unknown job, a bad flag, brokers
// that do not answer), 4 inconclusive: a live run ended without the
// exactly-once verdict (--verify=false, or the output could not be read
// back), so it did not pass.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := NewRoot().ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
	os.Exit(exitCode(err))
}
