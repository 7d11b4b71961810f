package main

import (
	"fmt"
	"strings"

	"github.com/onceproof/onceproof/engine/live"
	"github.com/spf13/cobra"
)

func brokerCmd() *cobra.Command {
	var port int
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the in-process Kafka (kfake) alone, on a TCP port, until Ctrl-C",
		Long: `Broker runs the kfake broker that bench otherwise starts inside its own
process, alone, listening on 127.0.0.1:--port. Point another bench at it with
--brokers to measure the engine's memory without the broker's: kfake keeps
every record in memory, so an in-process broker's log counts in the peak RSS
of a run.

  bench broker --port 9092 &
  bench run keyed-count --backend pebble --brokers 127.0.0.1:9092 ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if port < 0 || port > 65535 {
				return usage(fmt.Errorf("--port: %d is not a TCP port", port))
			}
			b, err := live.StartTCPBroker(port)
			if err != nil {
				return err
			}
			defer b.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "kfake broker listening on %s (Ctrl-C stops it)\n", strings.Join(b.Cluster.ListenAddrs(), ","))
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().IntVar(&port, "port", 9092, "TCP port on 127.0.0.1 (0: a free one)")
	return cmd
}
