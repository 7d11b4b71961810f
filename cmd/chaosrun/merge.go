package main

import (
	"encoding/json"
	"fmt"

	"github.com/onceproof/onceproof/scenarios"
	"github.com/spf13/cobra"
)

func newMerge() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "merge SUMMARY.json...",
		Short: "Merge the JSON summaries of sweep shards into one summary",
		Long: `merge reads the summaries that "chaosrun sweep --shard I/N --json" wrote on
several machines and prints the summary of the whole sweep, as if it had run
on one machine (wall-clock figures aside). A file that is not a sweep summary,
a shard given twice, and shards that overlap or do not belong to the same sweep
are refused (exit 2). A merge of only some of the shards, or of a shard that
was interrupted, is inconclusive (exit 4) and names what is missing. Otherwise
the exit code is the worst verdict.`,
		Example: "  chaosrun sweep all --seeds 1-1000 --shard 1/2 --json > shard1.json   # machine 1\n" +
			"  chaosrun sweep all --seeds 1-1000 --shard 2/2 --json > shard2.json   # machine 2\n" +
			"  chaosrun merge shard1.json shard2.json",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			merged, n, err := readSummaries("merge", args)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				if err := enc.Encode(merged); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(w, "merged %d shard summaries\n", n)
				printSummary(w, merged, 0)
			}
			if code := exitFor(merged.Verdict); code != exitOK {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the merged summary as JSON")
	return cmd
}

// readSummaries reads the sweep summaries at paths and merges them; what
// says which command reads them, for the messages.
func readSummaries(what string, paths []string) (*scenarios.SweepSummary, int, error) {
	var sums []*scenarios.SweepSummary
	for _, path := range paths {
		s, err := scenarios.ReadSummary(path)
		if err != nil {
			return nil, 0, usageError("%s: %v", what, err)
		}
		sums = append(sums, s)
	}
	merged, err := scenarios.MergeSummaries(sums[0], sums[1:]...)
	if err != nil {
		return nil, 0, usageError("%v", err) // MergeSummaries says "merge: "
	}
	return merged, len(sums), nil
}
