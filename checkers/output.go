package checkers

import (
	"fmt"
	"strings"
)

// OutputHistory is what JudgeOutput reads: the output topic's whole log and
// what a job's oracle expects of it.
type OutputHistory struct {
	// Expected is the oracle's output over the input.
	Expected []Expected
	// Log is the output topic read independently of the engine.
	Log *TopicLog
	// Lineage recovers an output record's lineage from its key and value.
	Lineage func(key, value string) string
	// Attempts are the sink's writes with their transactions' fates, when
	// the driver recorded them; nil otherwise.
	Attempts []Attempt
	// Order is the order the job promises.
	Order Order
}

// JudgeOutput runs the output checks over h: "exactly-once" on the records
// the log's own markers say were committed, "read-committed" on what a
// read_committed consumer was served, and "open-transactions". It also
// returns the committed records it judged, in log order.
//
// A log that cannot be labeled (offsets out of order) makes every check
// Unknown: a harness bug must not pass, nor be blamed on the engine.
func JudgeOutput(h OutputHistory) ([]Result, []Observed) {
	labeled, err := Label(h.Log)
	if err != nil {
		var out []Result
		for _, name := range []string{"exactly-once", "read-committed", "open-transactions"} {
			out = append(out, invalid(name, err))
		}
		return out, nil
	}
	var observed []Observed
	for _, l := range CommittedRecords(labeled) {
		observed = append(observed, Observed{Lineage: h.Lineage(l.Key, l.Value), Key: l.Key, Value: l.Value, Partition: l.Partition, Offset: l.Offset})
	}
	eo := ExactlyOnce(h.Expected, observed, h.Attempts, ExactlyOnceOptions{Order: h.Order})
	return []Result{eo, ReadCommittedIsolation(h.Log, labeled), OpenTransactions(h.Log, labeled)}, observed
}

// InputRecord is one input record: as the workload generated it (Offset
// unknown, -1) or as the broker returned it.
type InputRecord struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

// Input checks that the broker kept the input as it was written: each
// partition's committed records, read back, are the generated records of
// that partition, in order, each once. A difference is the environment's
// fault, not the engine's: the run cannot be judged against an input it was
// never given, so the verdict is Unknown (inconclusive) with the anomaly
// "input-lost", "input-duplicated" or "input-altered", apart from any
// violation of the engine's.
func Input(generated, readBack []InputRecord) Result {
	const name = "input"
	type tp struct {
		topic string
		p     int32
	}
	gen := map[tp][]InputRecord{}
	var order []tp
	for _, g := range generated {
		k := tp{g.Topic, g.Partition}
		if _, ok := gen[k]; !ok {
			order = append(order, k)
		}
		gen[k] = append(gen[k], g)
	}
	got := map[tp][]InputRecord{}
	for _, r := range readBack {
		k := tp{r.Topic, r.Partition}
		if _, ok := gen[k]; !ok {
			if _, ok := got[k]; !ok {
				order = append(order, k)
			}
		}
		got[k] = append(got[k], r)
	}
	counts := map[string]int{}
	first := map[string]string{}
	note := func(anomaly, what string) {
		counts[anomaly]++
		if _, ok := first[anomaly]; !ok {
			first[anomaly] = what
		}
	}
	for _, k := range order {
		g, r := gen[k], got[k]
		seen := make(map[string]int, len(r))
		for _, x := range r {
			seen[x.Key+"\x00"+x.Value]++
		}
		for i, x := range g {
			switch {
			case i < len(r) && r[i].Key == x.Key && r[i].Value == x.Value:
			case seen[x.Key+"\x00"+x.Value] == 0:
				note("input-lost", fmt.Sprintf("%s/%d: generated record %d (key %q, value %q) was not read back", k.topic, k.p, i, x.Key, x.Value))
			default:
				note("input-altered", fmt.Sprintf("%s/%d: generated record %d (key %q, value %q) read back out of place", k.topic, k.p, i, x.Key, x.Value))
			}
		}
		want := make(map[string]int, len(g))
		for _, x := range g {
			want[x.Key+"\x00"+x.Value]++
		}
		for _, x := range r {
			kv := x.Key + "\x00" + x.Value
			switch {
			case want[kv] == 0 && seen[kv] > 0:
				note("input-altered", fmt.Sprintf("%s/%d offset %d (key %q, value %q) was never generated", k.topic, k.p, x.Offset, x.Key, x.Value))
				seen[kv] = 0
			case seen[kv] > want[kv]:
				note("input-duplicated", fmt.Sprintf("%s/%d offset %d (key %q, value %q) read back %d times, generated %d", k.topic, k.p, x.Offset, x.Key, x.Value, seen[kv], want[kv]))
				seen[kv] = want[kv]
			}
		}
	}
	stats := map[string]int{"generated": len(generated), "read_back": len(readBack)}
	parts, worst := tally([]string{"input-lost", "input-duplicated", "input-altered"}, counts, stats)
	if worst == "" {
		return Result{Checker: name, Verdict: Ok, Stats: stats,
			Explanation: fmt.Sprintf("the broker kept all %d generated input records, in order", len(generated))}
	}
	return Result{Checker: name, Verdict: Unknown, Anomaly: worst, FirstBad: first[worst], Stats: stats,
		Explanation: fmt.Sprintf("environment fault, not the engine's: the broker did not keep the input as written (%s); first %s: %s",
			strings.Join(parts, ", "), worst, first[worst])}
}
