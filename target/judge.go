package target

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/internal/observe"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// judge reads the output through observe and fills res's checks and
// verdict: input (the broker kept it), exactly-once against the contract,
// read-committed, open-transactions and liveness.
//
// A missing output record is a lost write only if the group committed its
// input: then the program promised, by committing, that its output was
// done. Missing output whose input the group never committed past is
// unfinished work, judged by liveness ("no progress"), not a violation.
func judge(ctx context.Context, copts []kgo.Opt, cfg Config, exp *Expectation, inEnds map[int32]int64, inputCheck checkers.Result, res *Result) {
	results := []checkers.Result{inputCheck}
	log, err := observe.Read(ctx, OutputTopic, time.Minute, copts...)
	if err != nil {
		results = append(results, checkers.Result{Checker: "exactly-once", Verdict: checkers.Unknown, Anomaly: "unread-output",
			Explanation: "could not read the output: " + err.Error()})
		res.Results, res.Verdict = results, checkers.Worst(results...)
		return
	}
	res.outLog = log
	outs, observed := checkers.JudgeOutput(checkers.OutputHistory{Expected: exp.Expected, Log: log, Lineage: exp.Lineage(), Order: cfg.Contract.Order})

	offs := map[int32]int64{}
	if adm, err := kgo.NewClient(append(copts, kgo.MaxVersions(kversion.V2_8_0()))...); err == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		offs, _ = groupOffsets(cctx, adm)
		cancel()
		adm.Close()
	}
	eo := &outs[0]
	if eo.Verdict == checkers.Violation && eo.Anomaly == "lost-write" {
		seen := map[string]bool{}
		for _, o := range observed {
			seen[o.Lineage] = true
		}
		covered := true
		for p, end := range inEnds { // lint:sorted a conjunction
			covered = covered && offs[p] >= end
		}
		var lost, unfinished []string
		for _, e := range exp.Expected {
			if seen[e.Lineage] {
				continue
			}
			from, ok := exp.From[e.Lineage]
			committedPast := covered
			if ok {
				committedPast = offs[from.Partition] > from.Offset
			}
			desc := fmt.Sprintf("lineage %s (key %q, value %q)", e.Lineage, e.Key, e.Value)
			if ok {
				desc += fmt.Sprintf(" from input %s/%d offset %d; the group committed offset %d", InputTopic, from.Partition, from.Offset, offs[from.Partition])
			}
			if committedPast {
				lost = append(lost, desc)
			} else {
				unfinished = append(unfinished, desc)
			}
		}
		eo.Stats["lost-write"] = len(lost)
		eo.Stats["unfinished"] = len(unfinished)
		switch {
		case len(lost) == 0:
			eo.Verdict, eo.Anomaly = checkers.NoProgress, "unfinished"
			eo.FirstBad = unfinished[0]
			eo.Explanation = fmt.Sprintf("%d expected records never committed, all from input the group has not committed past: unfinished work, not lost writes; first: %s", len(unfinished), unfinished[0])
		default:
			eo.FirstBad = lost[0]
			eo.Explanation = fmt.Sprintf("%d lost writes (expected output never committed although the group committed past its input) and %d unfinished; first lost: %s", len(lost), len(unfinished), lost[0])
		}
	}
	results = append(results, outs...)
	live := checkers.Result{Checker: "liveness", Verdict: checkers.Ok,
		Explanation: fmt.Sprintf("the group committed all input and no output transaction was open %.1fs after the faults stopped", time.Duration(res.Complete-res.Healed).Seconds())}
	if res.Complete == 0 {
		live = checkers.Result{Checker: "liveness", Verdict: checkers.NoProgress, Anomaly: "no-progress",
			Explanation: fmt.Sprintf("within the %v deadline the group did not commit all input with no output transaction open", time.Duration(cfg.Deadline))}
	}
	results = append(results, live)
	res.Results, res.Verdict = results, checkers.Worst(results...)
	for _, r := range results {
		if r.Verdict != checkers.Ok && r.FirstBad != "" {
			res.FirstBad = r.Checker + ": " + r.FirstBad
			break
		}
	}
}

var (
	recordAt = regexp.MustCompile(`partition (\d+) offset (\d+)`)
	inputAt  = regexp.MustCompile(`from input [^/]+/(\d+) offset (\d+)`)
	commitAt = regexp.MustCompile(regexp.QuoteMeta(InputTopic) + `/(\d+)@(\d+)`)
)

// anchor finds the request-log entry nearest the first bad record: the
// produce request of its producer to its partition, or, for a lost write,
// the first offset commit past its input.
func anchor(res *Result) {
	if res.FirstBad == "" {
		return
	}
	if m := inputAt.FindStringSubmatch(res.FirstBad); m != nil {
		p, _ := strconv.Atoi(m[1])
		o, _ := strconv.ParseInt(m[2], 10, 64)
		for i, e := range res.Requests {
			if e.API != "TxnOffsetCommit" && e.API != "OffsetCommit" {
				continue
			}
			for _, c := range commitAt.FindAllStringSubmatch(e.Detail, -1) {
				cp, _ := strconv.Atoi(c[1])
				co, _ := strconv.ParseInt(c[2], 10, 64)
				if cp == p && co > o {
					res.Anchor = i
					return
				}
			}
		}
		return
	}
	m := recordAt.FindStringSubmatch(res.FirstBad)
	if m == nil || res.outLog == nil {
		return
	}
	p, _ := strconv.Atoi(m[1])
	o, _ := strconv.ParseInt(m[2], 10, 64)
	for _, r := range res.outLog.Records {
		if int(r.Partition) == p && r.Offset == o {
			res.ProducerID = r.ProducerID
		}
	}
	if res.ProducerID < 0 {
		return
	}
	needle := fmt.Sprintf("%s/%d(pid %d ", OutputTopic, p, res.ProducerID)
	for i, e := range res.Requests {
		if e.API == "Produce" && strings.Contains(e.Detail, needle) {
			res.Anchor = i
		}
		if e.At > 0 && res.Anchor >= 0 && e.API == "EndTxn" && e.ProducerID == res.ProducerID {
			return // the last produce before the transaction that holds it ended
		}
	}
}
