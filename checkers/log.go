package checkers

import (
	"fmt"
	"sort"
	"strings"
)

// LogRecord is one record of a topic's log as a read_uncommitted reader that
// keeps control records saw it: data records of every transaction (committed,
// aborted or still open) and the commit and abort markers that end them.
//
// The fate of a transactional record is read from the log itself, by the
// next marker its producer wrote to the partition, and never from the
// broker's list of aborted transactions: kfake drops that list for a
// partition whose fetch response reached its byte limit, and a reader that
// trusts it takes aborted batches for committed ones.
type LogRecord struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	// ProducerID and ProducerEpoch are the batch's producer.
	ProducerID    int64 `json:"producer_id"`
	ProducerEpoch int16 `json:"producer_epoch"`
	// Transactional is set for records written inside a transaction.
	Transactional bool `json:"transactional,omitempty"`
	// Control is set for a transaction marker; Commit tells a commit marker
	// from an abort marker.
	Control bool `json:"control,omitempty"`
	Commit  bool `json:"commit,omitempty"`
	// ReadCommitted is set when a separate read_committed pass over the same
	// log returned the record: what a consumer of the topic would have seen.
	ReadCommitted bool `json:"read_committed,omitempty"`
}

// LogEnd is where a partition ended when the log was read.
type LogEnd struct {
	Partition     int32 `json:"partition"`
	HighWatermark int64 `json:"high_watermark"`
	// LastStable is the last stable offset: a read_committed reader cannot
	// pass it. Below HighWatermark it means a transaction is still open.
	LastStable int64 `json:"last_stable"`
}

// TopicLog is a topic's whole log up to its partitions' high watermarks.
type TopicLog struct {
	Topic string `json:"topic"`
	// Records are in partition order, then offset order.
	Records []LogRecord `json:"records"`
	Ends    []LogEnd    `json:"ends"`
}

// Status is the fate of a data record, read from the log's markers.
type Status int

const (
	// StatusOpen means no marker of the record's producer follows it: its
	// transaction was still open when the log was read.
	StatusOpen Status = iota
	// StatusCommitted means the record is non-transactional, or its
	// producer's next marker is a commit marker.
	StatusCommitted
	// StatusAborted means its producer's next marker is an abort marker.
	StatusAborted
)

var statusNames = [...]string{StatusOpen: "open", StatusCommitted: "committed", StatusAborted: "aborted"}

// String returns "open", "committed" or "aborted".
func (s Status) String() string {
	return nameOf(statusNames[:], "status", s)
}

// Labeled is a data record with its fate.
type Labeled struct {
	LogRecord
	Status Status
	// Marker is the offset of the marker that decided Status, or -1 for a
	// non-transactional or open record.
	Marker int64
}

// Label gives every data record of log its fate from the log's own markers:
// a transactional record is committed or aborted by the next marker its
// producer (by producer id; a marker written after an epoch bump still ends
// the transaction) wrote to the same partition, and open when none follows.
// Markers are not returned. A log whose offsets do not increase within a
// partition is an error: the reader merged or re-read it wrongly.
func Label(log *TopicLog) ([]Labeled, error) {
	out := make([]Labeled, 0, len(log.Records))
	pending := map[int64][]int{} // producer id -> indexes in out awaiting a marker
	flush := func() {
		pending = map[int64][]int{}
	}
	last := map[int32]int64{}
	var part int32
	for i, r := range log.Records {
		if i > 0 && r.Partition < part {
			return nil, fmt.Errorf("label %s: record %d: partition %d after partition %d; the log must be in partition order", log.Topic, i, r.Partition, part)
		}
		if prev, ok := last[r.Partition]; ok && r.Offset <= prev {
			return nil, fmt.Errorf("label %s: record %d: partition %d offset %d does not follow offset %d", log.Topic, i, r.Partition, r.Offset, prev)
		}
		last[r.Partition] = r.Offset
		if i == 0 || r.Partition != part {
			// Transactions are per partition: what a producer left open
			// in the previous partition stays open.
			flush()
			part = r.Partition
		}
		if r.Control {
			st := StatusAborted
			if r.Commit {
				st = StatusCommitted
			}
			for _, j := range pending[r.ProducerID] {
				out[j].Status, out[j].Marker = st, r.Offset
			}
			delete(pending, r.ProducerID)
			continue
		}
		l := Labeled{LogRecord: r, Status: StatusCommitted, Marker: -1}
		if r.Transactional {
			l.Status = StatusOpen
			pending[r.ProducerID] = append(pending[r.ProducerID], len(out))
		}
		out = append(out, l)
	}
	return out, nil
}

// CommittedRecords returns the committed records of labeled, in log order.
func CommittedRecords(labeled []Labeled) []Labeled {
	var out []Labeled
	for _, l := range labeled {
		if l.Status == StatusCommitted {
			out = append(out, l)
		}
	}
	return out
}

// describeLog names a record and where it sits in the log.
func describeLog(l Labeled) string {
	s := fmt.Sprintf("partition %d offset %d (key %q, value %q, producer %d epoch %d)", l.Partition, l.Offset, l.Key, l.Value, l.ProducerID, l.ProducerEpoch)
	switch {
	case l.Status == StatusAborted:
		s += fmt.Sprintf(", aborted by the marker at offset %d", l.Marker)
	case l.Status == StatusCommitted && l.Marker >= 0:
		s += fmt.Sprintf(", committed by the marker at offset %d", l.Marker)
	case l.Status == StatusOpen:
		s += ", no marker after it"
	}
	return s
}

// ReadCommittedIsolation compares what a read_committed consumer was served
// with the fates the log's markers give. Every anomaly is one a consumer of
// the topic would have lived with, whoever caused it:
//
//   - "aborted-read" (G1a): read_committed returned a record of an aborted
//     transaction;
//   - "dirty-read": it returned a record of a transaction still open;
//   - "unseen": it did not return a committed record below the last stable
//     offset, so a consumer would never see it.
func ReadCommittedIsolation(log *TopicLog, labeled []Labeled) Result {
	const name = "read-committed"
	lso := map[int32]int64{}
	for _, e := range log.Ends {
		lso[e.Partition] = e.LastStable
	}
	counts := map[string]int{}
	first := map[string]string{}
	note := func(anomaly string, l Labeled) {
		counts[anomaly]++
		if _, ok := first[anomaly]; !ok {
			first[anomaly] = describeLog(l)
		}
	}
	visible := 0
	for _, l := range labeled {
		if l.ReadCommitted {
			visible++
		}
		switch {
		case l.ReadCommitted && l.Status == StatusAborted:
			note("aborted-read", l)
		case l.ReadCommitted && l.Status == StatusOpen:
			note("dirty-read", l)
		case !l.ReadCommitted && l.Status == StatusCommitted && l.Offset < lso[l.Partition]:
			note("unseen", l)
		}
	}
	stats := map[string]int{"records": len(labeled), "read_committed": visible}
	parts, worst := tally([]string{"aborted-read", "dirty-read", "unseen"}, counts, stats)
	if worst == "" {
		return Result{Checker: name, Verdict: Ok, Stats: stats,
			Explanation: fmt.Sprintf("read_committed returned the %d committed records and none of the %d aborted or open ones", visible, len(labeled)-visible)}
	}
	return Result{Checker: name, Verdict: Violation, Anomaly: worst, FirstBad: first[worst], Stats: stats,
		Explanation: fmt.Sprintf("read_committed disagrees with the log's markers (%s); first %s: %s", strings.Join(parts, ", "), worst, first[worst])}
}

// OpenTransactions reports the transactions left open at the end of a run:
// data records with no marker after them, and partitions whose last stable
// offset is below the high watermark. Either pins every read_committed
// consumer, so it is a liveness failure ("open-transaction"), named by
// producer and offsets.
func OpenTransactions(log *TopicLog, labeled []Labeled) Result {
	const name = "open-transactions"
	type span struct {
		partition  int32
		producer   int64
		from, to   int64
		recordsNum int
	}
	var spans []span
	idx := map[[2]int64]int{}
	for _, l := range labeled {
		if l.Status != StatusOpen {
			continue
		}
		k := [2]int64{int64(l.Partition), l.ProducerID}
		if i, ok := idx[k]; ok {
			spans[i].to = l.Offset
			spans[i].recordsNum++
			continue
		}
		idx[k] = len(spans)
		spans = append(spans, span{l.Partition, l.ProducerID, l.Offset, l.Offset, 1})
	}
	var found []string
	for _, s := range spans {
		found = append(found, fmt.Sprintf("%s/%d producer %d: %d records at offsets %d-%d with no marker", log.Topic, s.partition, s.producer, s.recordsNum, s.from, s.to))
	}
	ends := append([]LogEnd(nil), log.Ends...)
	sort.Slice(ends, func(i, j int) bool { return ends[i].Partition < ends[j].Partition })
	stuck := 0
	for _, e := range ends {
		if e.LastStable < e.HighWatermark {
			stuck++
			found = append(found, fmt.Sprintf("%s/%d last stable offset %d below high watermark %d", log.Topic, e.Partition, e.LastStable, e.HighWatermark))
		}
	}
	stats := map[string]int{"open_records": 0, "open_transactions": len(spans), "stuck_partitions": stuck}
	for _, s := range spans {
		stats["open_records"] += s.recordsNum
	}
	if len(found) == 0 {
		return Result{Checker: name, Verdict: Ok, Stats: stats, Explanation: "no transaction left open on the output"}
	}
	return Result{Checker: name, Verdict: NoProgress, Anomaly: "open-transaction", FirstBad: found[0], Stats: stats,
		Explanation: "transactions left open pin every read_committed reader: " + strings.Join(found, "; ")}
}
