package jobs

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/onceproof/onceproof/internal/order"

	"github.com/onceproof/onceproof/engine"
)

// Nexmark queries q0, q1, q2, q5 and q7 (the nexmark/nexmark Flink suite's
// definitions) over the generator's stream (nexmark.go), each a job with an
// exact oracle.
//
// Input. One topic, "events", holds every event, event n in partition
// n mod partitions (as a parallel generator stripes its events), keyed by
// its number. Each partition ends with an end marker, "e,<partition>,<end>".
// The queries read bids only; persons, auctions and markers pass the
// source and are dropped.
//
// q0, q1 and q2 map or filter each bid on its own: their oracle is the same
// map or filter over the committed input, and an output's lineage is its key,
// the bid's event number.
//
// q5 and q7 are event-time windows. Flink's suite uses windows of 10 s (q5
// every 2 s) over a generator at 10^7 events/s; here event time advances one
// millisecond per event, and the windows are scaled by 1/100 (one Nexmark
// second is 10 ms), so that a window holds about 100 events, a simulator run
// of 2,000 events fires dozens of them mid-stream, and q5 still puts every
// bid in size/slide = 5 windows.
//
// Why the windowed oracles are exact, as for window-sum (window.go): no bid
// is ever late, whatever the interleaving, kill or restore, so which
// windows fire and what they hold depends on the committed input only.
//
//   - Event time never decreases within a partition (it grows with the
//     event number, and a partition holds a rising subsequence), so with a
//     bound of 0 the watermark a partition raises stays below the time of
//     every record still to come from it, and a task's watermark, a minimum
//     that includes that partition, does too. A bid is never behind the
//     watermark of the task that windows it.
//   - Partitions never go idle (no idle timeout): the watermark advances
//     only with data, and the end markers carry it to the end. An idle
//     timeout would let a partition whose fetches come back empty for a
//     while drop out of the minimum and its next records be late; live,
//     a fetch can come back empty for a partition while the broker fills
//     the response with another one's batches. (A source subtask with no
//     partition at all is idle from the start and holds nothing back.)
//     Every partition's marker has the same time, past every window of the
//     data, so the final watermark, end - 1, is the same whichever
//     partition ends first: every window holding a bid fires exactly once,
//     after all its bids, and no marker ever enters a window.
//   - q5's second stage (the maximum per window) sees each window's counts
//     before the watermark that fires it: the window operator fires a
//     window's counts, then forwards the watermark that fired them, and the
//     second stage's watermark is the minimum over every first-stage
//     subtask.
//
// A windowed output is keyed by its window's start and carries its lineage:
// the window and the auction (q5) or the bid's number (q7). Ties are all
// emitted, in a defined order (auction id, event number), so per-key order
// is defined too.
const (
	nexmarkTopic = "events"
	// nexmarkBound is the out-of-orderness of the source's watermarks:
	// none, the stream is in event-time order per partition.
	nexmarkBound = 0 * time.Millisecond

	nexmarkQ5Size  = 100 * time.Millisecond
	nexmarkQ5Slide = 20 * time.Millisecond
	nexmarkQ7Size  = 100 * time.Millisecond
	// nexmarkWindowMax is the largest window: the end markers come this
	// far (and the bound, and a millisecond) after the last event.
	nexmarkWindowMax = 100 * time.Millisecond

	// nexmarkQ2Modulus selects q2's auctions (the Flink suite's "every
	// 123rd auction").
	nexmarkQ2Modulus = 123
)

// NexmarkQueries are the Nexmark queries there are jobs for, named
// "nexmark-" + query.
var NexmarkQueries = []string{"q0", "q1", "q2", "q5", "q7"}

// nexmarkGenerate draws p.Records events with the default time base, then
// one end marker per partition.
func nexmarkGenerate(r *rand.Rand, p Params) []Input {
	cfg := DefaultNexmarkConfig()
	g, err := NewNexmarkGenerator(r, cfg)
	if err != nil {
		panic(err) // the default configuration is valid
	}
	out := make([]Input, 0, p.Records+int(p.Partitions))
	last := cfg.EventTime(0)
	for i := 0; i < p.Records; i++ {
		e := g.Next()
		out = append(out, Input{Topic: nexmarkTopic, Partition: int32(e.Num % int64(p.Partitions)),
			Key: strconv.FormatInt(e.Num, 10), Value: e.Value(), Time: e.Time})
		last = e.Time
	}
	end := last + nexmarkWindowMax.Milliseconds() + nexmarkBound.Milliseconds() + 1
	for q := int32(0); q < p.Partitions; q++ {
		m := NexmarkEvent{Kind: NexmarkEnd, Num: int64(q), Time: end}
		out = append(out, Input{Topic: nexmarkTopic, Partition: q, Key: "end-" + strconv.Itoa(int(q)), Value: m.Value(), Time: end})
	}
	return out
}

func isBid(r engine.Record) bool { return strings.HasPrefix(r.Value, "b,") }

// nexmarkEventTime is the timestamp assigner: event time travels in the
// value (the oracle reads committed values, not Kafka timestamps).
func nexmarkEventTime(r engine.Record) int64 {
	if t, ok := nexmarkInt(r.Value, 2); ok {
		return t
	}
	return r.Time
}

func nexmarkWatermarks() engine.WatermarkStrategy {
	return engine.BoundedOutOfOrderness(nexmarkBound).WithTimestampAssigner(nexmarkEventTime)
}

// euros renders price dollars (an integer) times 0.908 exactly, with three
// decimals: 12345 -> "11209.260".
func euros(price int64) string {
	q := price * 908
	b := strconv.AppendInt(make([]byte, 0, 24), q/1000, 10)
	frac := q % 1000
	b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	return string(b)
}

// q1Value is a bid with its price in euros.
func q1Value(v string) (string, bool) {
	i := strings.LastIndexByte(v, ',')
	if i < 0 {
		return "", false
	}
	p, err := strconv.ParseInt(v[i+1:], 10, 64)
	if err != nil {
		return "", false
	}
	return v[:i+1] + euros(p), true
}

// q2Value is "<auction>,<price>" for a bid whose auction is selected.
func q2Value(v string) (string, bool) {
	a, ok := nexmarkField(v, 3)
	if !ok {
		return "", false
	}
	id, err := strconv.ParseInt(a, 10, 64)
	if err != nil || id%nexmarkQ2Modulus != 0 {
		return "", false
	}
	p, _ := nexmarkField(v, 5)
	return a + "," + p, true
}

// windowStart is the latest multiple of slide at or before t: the start of
// the tumbling window of size slide that holds t, or of the latest sliding
// window that does.
func windowStart(t, slide int64) int64 { return t - ((t%slide)+slide)%slide }

// lessNumeric orders decimal strings of non-negative integers by value.
func lessNumeric(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// nexmarkLate counts, in keyed state "late", a record that came for a
// window the watermark has passed. By the design above none ever does. One
// that did is dropped, so its window's result could differ from the
// oracle's; the count keeps the evidence in every snapshot.
func nexmarkLate(ctx *engine.Context) error {
	_, err := ctx.Value("late").Increment()
	return err
}

// topOf keeps, in keyed state, the largest score seen for the current key
// ("max") and the items that reached it ("top"): the maxima of a window in
// any arrival order.
func topOf(ctx *engine.Context, score int64, item string) error {
	best, top := ctx.Value("max"), ctx.List("top")
	v, ok, err := best.Get()
	if err != nil {
		return err
	}
	if ok {
		m, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("max %q: %w", v, err)
		}
		switch {
		case score < m:
			return nil
		case score == m:
			return top.Add(item)
		}
	}
	if err := best.Set(strconv.FormatInt(score, 10)); err != nil {
		return err
	}
	if err := top.Clear(); err != nil {
		return err
	}
	return top.Add(item)
}

// takeTop returns and clears the current key's maximum and its items.
func takeTop(ctx *engine.Context) (string, []string, bool, error) {
	best, top := ctx.Value("max"), ctx.List("top")
	m, ok, err := best.Get()
	if err != nil || !ok {
		return "", nil, false, err
	}
	items, err := top.Get()
	if err != nil {
		return "", nil, false, err
	}
	items = slices.Clone(items)
	if err := errors.Join(best.Clear(), top.Clear()); err != nil {
		return "", nil, false, err
	}
	return m, items, true, nil
}

// q5Count is the first stage's output: keyed by window start for the
// second stage, "<auction>,<count>".
func q5Count(w engine.WindowResult) engine.Record {
	return engine.Record{Key: strconv.FormatInt(w.Window.Start, 10), Value: w.Key + "," + strconv.FormatInt(w.Count, 10),
		Time: w.Window.MaxTimestamp()}
}

// topStage is the last stage of q5 and q7, keyed by window start: it
// keeps the window's items with the highest score and, when the watermark
// passes the window, emits them in the order out puts them.
type topStage struct {
	size time.Duration
	// score is a record's score and the item it stands for.
	score func(engine.Record) (int64, string)
	// out is the values to emit for the items with the best score.
	out func(best string, items []string) []string
}

func (w topStage) ProcessElement(ctx *engine.Context, _ int, r engine.Record) error {
	start, _ := strconv.ParseInt(ctx.Key(), 10, 64)
	at := start + w.size.Milliseconds() - 1
	if at <= ctx.CurrentWatermark() {
		return nexmarkLate(ctx)
	}
	score, item := w.score(r)
	if err := topOf(ctx, score, item); err != nil {
		return err
	}
	ctx.RegisterEventTimeTimer(at)
	return nil
}

func (w topStage) OnTimer(ctx *engine.Context, at int64) error {
	if ctx.TimeDomain() != engine.EventTime {
		return nil
	}
	best, items, ok, err := takeTop(ctx)
	if err != nil || !ok {
		return err
	}
	for _, v := range w.out(best, items) {
		ctx.Emit(engine.Record{Key: ctx.Key(), Value: v, Time: at})
	}
	return nil
}

// hotItems is q5's second stage: it collects the window's per-auction
// counts ("<auction>,<count>") and emits the auctions with the highest
// count, by auction id.
var hotItems = topStage{
	size: nexmarkQ5Size,
	score: func(r engine.Record) (int64, string) {
		auction, count, _ := strings.Cut(r.Value, ",")
		n, _ := strconv.ParseInt(count, 10, 64)
		return n, auction
	},
	out: func(count string, auctions []string) []string {
		slices.SortFunc(auctions, lessNumeric)
		out := make([]string, len(auctions))
		for i, a := range auctions {
			out[i] = a + "," + count
		}
		return out
	},
}

// highestBid is q7: it keeps the window's highest-priced bids and emits
// them by event number.
var highestBid = topStage{
	size: nexmarkQ7Size,
	score: func(r engine.Record) (int64, string) {
		price, _ := nexmarkInt(r.Value, 5)
		return price, r.Value
	},
	out: func(_ string, bids []string) []string {
		slices.SortFunc(bids, func(a, b string) int {
			na, _ := nexmarkField(a, 1)
			nb, _ := nexmarkField(b, 1)
			return lessNumeric(na, nb)
		})
		return bids
	},
}

// nexmarkFinalWatermark is the watermark the job ends with over the
// committed input: the minimum over partitions of the highest event time
// read, minus the bound, minus 1 (NoWatermark without input).
func nexmarkFinalWatermark(in []Committed) int64 {
	maxT := map[int32]int64{}
	for _, c := range in {
		if e, ok := ParseNexmarkEvent(c.Value); ok {
			if m, seen := maxT[c.Partition]; !seen || e.Time > m {
				maxT[c.Partition] = e.Time
			}
		}
	}
	if len(maxT) == 0 {
		return engine.NoWatermark
	}
	wm := int64(math.MaxInt64)
	for _, m := range maxT { // lint:sorted a minimum does not depend on order
		wm = min(wm, m-nexmarkBound.Milliseconds()-1)
	}
	return wm
}

// perBid is the oracle of a query that maps each bid on its own: out gives
// a bid's output value, or false to drop it.
func perBid(out func(v string) (string, bool)) func([]Committed) []Output {
	return func(in []Committed) []Output {
		var res []Output
		for _, c := range in {
			if !strings.HasPrefix(c.Value, "b,") {
				continue
			}
			if v, ok := out(c.Value); ok {
				res = append(res, Output{Lineage: c.Key, Key: c.Key, Value: v})
			}
		}
		return res
	}
}

// windowTop is a window's maximum and the items that reach it.
type windowTop struct {
	max   int64
	items []string
}

func (w *windowTop) add(score int64, item string) {
	switch {
	case w.items == nil || score > w.max:
		w.max, w.items = score, []string{item}
	case score == w.max:
		w.items = append(w.items, item)
	}
}

// sortedStarts lists the windows that fire at watermark wm (end - 1 <= wm)
// by start.
func sortedStarts(tops map[int64]*windowTop, size time.Duration, wm int64) []int64 {
	var starts []int64
	for s := range tops { // lint:sorted sorted below
		if s+size.Milliseconds()-1 <= wm {
			starts = append(starts, s)
		}
	}
	slices.Sort(starts)
	return starts
}

// q5Oracle counts bids per auction in every sliding window, written out
// plainly, and emits each firing window's most-bid auctions.
func q5Oracle(in []Committed) []Output {
	size, slide := nexmarkQ5Size.Milliseconds(), nexmarkQ5Slide.Milliseconds()
	type cell struct{ start, auction int64 }
	counts := map[cell]int64{}
	for _, c := range in {
		e, ok := ParseNexmarkEvent(c.Value)
		if !ok || e.Kind != NexmarkBid {
			continue
		}
		for s := windowStart(e.Time, slide); s > e.Time-size; s -= slide {
			counts[cell{s, e.Auction}]++
		}
	}
	cells := make([]cell, 0, len(counts))
	for k := range counts { // lint:sorted sorted below
		cells = append(cells, k)
	}
	sort.Slice(cells, func(i, j int) bool {
		if cells[i].start != cells[j].start {
			return cells[i].start < cells[j].start
		}
		return cells[i].auction < cells[j].auction
	})
	tops := map[int64]*windowTop{}
	for _, k := range cells {
		t := tops[k.start]
		if t == nil {
			t = &windowTop{}
			tops[k.start] = t
		}
		t.add(counts[k], strconv.FormatInt(k.auction, 10))
	}
	var out []Output
	for _, s := range sortedStarts(tops, nexmarkQ5Size, nexmarkFinalWatermark(in)) {
		key := strconv.FormatInt(s, 10)
		for _, a := range tops[s].items {
			out = append(out, Output{Lineage: key + "/" + a, Key: key, Value: a + "," + strconv.FormatInt(tops[s].max, 10)})
		}
	}
	return out
}

// q7Oracle finds every tumbling window's highest-priced bids; committed
// input in offset order per partition, sorted here by event number.
func q7Oracle(in []Committed) []Output {
	type bid struct {
		num int64
		v   string
	}
	var bids []bid
	for _, c := range in {
		if e, ok := ParseNexmarkEvent(c.Value); ok && e.Kind == NexmarkBid {
			bids = append(bids, bid{e.Num, c.Value})
		}
	}
	sort.Slice(bids, func(i, j int) bool { return bids[i].num < bids[j].num })
	size := nexmarkQ7Size.Milliseconds()
	tops := map[int64]*windowTop{}
	for _, b := range bids {
		e, _ := ParseNexmarkEvent(b.v)
		s := windowStart(e.Time, size)
		t := tops[s]
		if t == nil {
			t = &windowTop{}
			tops[s] = t
		}
		t.add(e.Price, b.v)
	}
	var out []Output
	for _, s := range sortedStarts(tops, nexmarkQ7Size, nexmarkFinalWatermark(in)) {
		key := strconv.FormatInt(s, 10)
		for _, v := range tops[s].items {
			num, _ := nexmarkField(v, 1)
			out = append(out, Output{Lineage: num, Key: key, Value: v})
		}
	}
	return out
}

func init() {
	perBidJob := func(name, out string, fn func(*engine.Stream) *engine.Stream) func(Params) (*engine.Job, error) {
		return pipeline(name, nexmarkTopic, out, func(s *engine.Stream, _ Params) *engine.Stream { return fn(s.Filter("bids", isBid)) })
	}
	// perBidQuery is q0, q1 or q2: value maps a bid's value to the
	// output's, or drops it, in the job (operator op; none for q0) and in
	// the oracle alike.
	perBidQuery := func(q, description, op string, value func(string) (string, bool)) *Spec {
		return &Spec{
			Name:        "nexmark-" + q,
			Description: description,
			Inputs:      one(nexmarkTopic),
			Output:      topic(q),
			Build: perBidJob("nexmark-"+q, q, func(s *engine.Stream) *engine.Stream {
				if op == "" {
					return s
				}
				return s.FlatMap(op, func(r engine.Record, emit func(engine.Record)) {
					if v, ok := value(r.Value); ok {
						r.Value = v
						emit(r)
					}
				})
			}),
			Generate: nexmarkGenerate,
			Oracle:   perBid(value),
			Lineage:  func(k, _ string) string { return k },
			Order:    order.PerKey,
		}
	}
	registry["nexmark-q0"] = perBidQuery("q0", "Nexmark q0, pass-through: every bid, unchanged", "",
		func(v string) (string, bool) { return v, true })
	registry["nexmark-q1"] = perBidQuery("q1",
		"Nexmark q1, currency conversion: every bid with its price in euros (price * 0.908, exact to 3 decimals)", "euros", q1Value)
	registry["nexmark-q2"] = perBidQuery("q2",
		"Nexmark q2, selection: auction and price of every bid on an auction whose id is a multiple of 123", "select", q2Value)
	registry["nexmark-q5"] = &Spec{
		Name: "nexmark-q5",
		Description: "Nexmark q5, hot items: bids per auction in sliding event-time windows of 100ms every 20ms " +
			"(Nexmark's 10s every 2s, scaled to one event per ms); per window, the auction(s) with the most bids",
		Inputs: one(nexmarkTopic),
		Output: topic("q5"),
		Build: pipeline("nexmark-q5", nexmarkTopic, "q5", func(s *engine.Stream, p Params) *engine.Stream {
			return s.WithWatermarks(nexmarkWatermarks()).
				Filter("bids", isBid).
				KeyBy(func(r engine.Record) string { a, _ := nexmarkField(r.Value, 3); return a }).
				Window("count", p.Parallelism, engine.Sliding(nexmarkQ5Size, nexmarkQ5Slide), engine.Count(), engine.WindowOutput(q5Count)).
				KeyBy(func(r engine.Record) string { return r.Key }).
				Process("hottest", p.Parallelism, func() engine.KeyedProcessFunction { return hotItems })
		}),
		Generate: nexmarkGenerate,
		Oracle:   q5Oracle,
		Lineage: func(k, v string) string {
			a, _, _ := strings.Cut(v, ",")
			return k + "/" + a
		},
		Order: order.PerKey,
	}
	registry["nexmark-q7"] = &Spec{
		Name: "nexmark-q7",
		Description: "Nexmark q7, highest bid: per tumbling event-time window of 100ms (Nexmark's 10s, scaled to one " +
			"event per ms), the bid(s) with the highest price",
		Inputs: one(nexmarkTopic),
		Output: topic("q7"),
		Build: pipeline("nexmark-q7", nexmarkTopic, "q7", func(s *engine.Stream, p Params) *engine.Stream {
			size := nexmarkQ7Size.Milliseconds()
			return s.WithWatermarks(nexmarkWatermarks()).
				Filter("bids", isBid).
				KeyBy(func(r engine.Record) string { return strconv.FormatInt(windowStart(r.Time, size), 10) }).
				Process("highest", p.Parallelism, func() engine.KeyedProcessFunction { return highestBid })
		}),
		Generate: nexmarkGenerate,
		Oracle:   q7Oracle,
		Lineage: func(_, v string) string {
			num, _ := nexmarkField(v, 1)
			return num
		},
		Order: order.PerKey,
	}
}
