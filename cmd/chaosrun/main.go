// Command chaosrun runs onceproof's fault scenarios against the reference
// engine in the deterministic simulator and reports what the checkers found.
//
// Exit codes: 0 every checker passed, 1 a safety violation, 2 bad usage or
// bad input, 3 no progress (a liveness failure), 4 inconclusive.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := NewRoot().ExecuteContext(ctx)
	if err == nil {
		return
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(os.Stderr, ee.msg)
		}
		os.Exit(ee.code)
	}
	fmt.Fprintln(os.Stderr, "chaosrun:", err)
	os.Exit(exitUsage)
}
