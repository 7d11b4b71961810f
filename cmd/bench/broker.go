package main

import (
	"fmt"
	"strings"

	"github.com/onceproof/onceproof/engine/live"
	"github.com/spf13/cobra"
)

func brokerCmd() *cobra.Command {
	var port int
	var st live.BrokerStorage
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the in-process Kafka (kfake) alone, on a TCP port, until Ctrl-C; --data-dir keeps its log on disk",
		Long: `Broker runs the kfake broker that bench otherwise starts inside its own
process, alone, listening on 127.0.0.1:--port. Point another bench at it with
--brokers to measure the engine's memory without the broker's, or to kill a
bench run and resume it (bench run --from-checkpoint) against a broker that
outlived it.

  bench broker --port 9092 &
  bench run keyed-count --backend pebble --brokers 127.0.0.1:9092 ...

Without --data-dir kfake keeps every record in memory, and a broker restart
loses everything. With --data-dir DIR it writes its state (topics, logs,
producer ids, transactions) to DIR as it changes and reloads it when started
again on DIR, so the broker can be stopped and started in the middle of a
run (the run restarts its job while the broker is away, and goes on). Stop
it with Ctrl-C or SIGTERM: a clean stop saves its open transactions and the
next start restores them. A broker killed with SIGKILL aborts, on its next
start, every transaction that was open, including ones a checkpoint had
pre-committed (real Kafka keeps them): the run's verdict then names the
broker's loss as the broker's (inconclusive), not the engine's. Without
--sync-writes the log waits in the page cache, as Kafka's does by default:
a killed process loses nothing, a machine that loses power may.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if port < 0 || port > 65535 {
				return usage(fmt.Errorf("--port: %d is not a TCP port", port))
			}
			if st.SyncWrites && st.DataDir == "" {
				return usage(fmt.Errorf("--sync-writes: applies to --data-dir; without it the broker keeps its log in memory"))
			}
			b, err := live.StartTCPBrokerWith(port, st)
			if err != nil {
				return err
			}
			defer b.Close() // a clean stop: with --data-dir, saves the open transactions
			where := "in memory"
			if st.DataDir != "" {
				where = "in " + st.DataDir
			}
			fmt.Fprintf(cmd.OutOrStdout(), "kfake broker listening on %s, its log %s (Ctrl-C stops it)\n", strings.Join(b.Cluster.ListenAddrs(), ","), where)
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().IntVar(&port, "port", 9092, "TCP port on 127.0.0.1 (0: a free one)")
	cmd.Flags().StringVar(&st.DataDir, "data-dir", "", "keep the broker's log and state in this directory, reloaded when a broker starts on it again (default: in memory)")
	cmd.Flags().BoolVar(&st.SyncWrites, "sync-writes", false, "with --data-dir: fsync every batch")
	return cmd
}
