package jobs

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/checkers"
)

func nexmarkStream(t *testing.T, seed uint64, n int, cfg NexmarkConfig) []NexmarkEvent {
	t.Helper()
	g, err := NewNexmarkGenerator(rand.New(rand.NewPCG(seed, 0)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]NexmarkEvent, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// TestNexmarkGeneratorProportions: 1 person, 3 auctions and 46 bids in
// every 50 events, ids in sequence, bids and auctions naming persons and
// auctions that exist (or are about to), hot auctions and bidders about as
// often as Nexmark makes them.
func TestNexmarkGeneratorProportions(t *testing.T) {
	const n = 50 * 1000
	events := nexmarkStream(t, 1, n, DefaultNexmarkConfig())
	var persons, auctions, bids, hotAuction, hotBidder int
	nextPerson, nextAuction := int64(nexmarkFirstPersonID), int64(nexmarkFirstAuctionID)
	for i, e := range events {
		if e.Num != int64(i) || e.Time != int64(i) {
			t.Fatalf("event %d: got num %d time %d, want %d and %d", i, e.Num, e.Time, i, i)
		}
		wantKind := NexmarkBid
		switch i % 50 {
		case 0:
			wantKind = NexmarkPerson
		case 1, 2, 3:
			wantKind = NexmarkAuction
		}
		if e.Kind != wantKind {
			t.Fatalf("event %d: got kind %c, want %c", i, e.Kind, wantKind)
		}
		switch e.Kind {
		case NexmarkPerson:
			persons++
			if e.ID != nextPerson {
				t.Fatalf("event %d: person id %d, want %d", i, e.ID, nextPerson)
			}
			nextPerson++
		case NexmarkAuction:
			auctions++
			if e.ID != nextAuction {
				t.Fatalf("event %d: auction id %d, want %d", i, e.ID, nextAuction)
			}
			nextAuction++
			if e.Seller < nexmarkFirstPersonID || e.Seller >= nextPerson+nexmarkIDLead {
				t.Fatalf("event %d: seller %d outside [1000, %d)", i, e.Seller, nextPerson+nexmarkIDLead)
			}
			if e.Category < 10 || e.Category >= 15 || e.Expires <= e.Time || e.Reserve <= e.InitialBid {
				t.Fatalf("event %d: bad auction %+v", i, e)
			}
		case NexmarkBid:
			bids++
			if e.Auction < nexmarkFirstAuctionID || e.Auction >= nextAuction+nexmarkIDLead {
				t.Fatalf("event %d: auction %d outside [1000, %d)", i, e.Auction, nextAuction+nexmarkIDLead)
			}
			if e.Bidder < nexmarkFirstPersonID || e.Bidder >= nextPerson+nexmarkIDLead {
				t.Fatalf("event %d: bidder %d outside [1000, %d)", i, e.Bidder, nextPerson+nexmarkIDLead)
			}
			if e.Price < 100 || e.Price > 100_000_000 {
				t.Fatalf("event %d: price %d outside [100, 10^8]", i, e.Price)
			}
			if e.Auction == (nextAuction-1-nexmarkFirstAuctionID)/100*100+nexmarkFirstAuctionID {
				hotAuction++
			}
			if e.Bidder == (nextPerson-1-nexmarkFirstPersonID)/100*100+1+nexmarkFirstPersonID {
				hotBidder++
			}
		}
	}
	if persons != n/50 || auctions != 3*n/50 || bids != 46*n/50 {
		t.Errorf("got %d persons, %d auctions, %d bids; want %d, %d, %d", persons, auctions, bids, n/50, 3*n/50, 46*n/50)
	}
	// P(hot auction) = 1/2 plus the cold draws that hit it; P(hot bidder)
	// = 3/4 plus the same.
	if f := float64(hotAuction) / float64(bids); f < 0.48 || f > 0.56 {
		t.Errorf("bids on the hot auction: %.3f, want about 0.5", f)
	}
	if f := float64(hotBidder) / float64(bids); f < 0.73 || f > 0.78 {
		t.Errorf("bids by the hot bidder: %.3f, want about 0.75", f)
	}
}

// TestNexmarkGeneratorDeterministic: the same seed gives the same events,
// another seed other events, and the job's input is the same for a seed.
func TestNexmarkGeneratorDeterministic(t *testing.T) {
	a := nexmarkStream(t, 7, 5000, DefaultNexmarkConfig())
	if b := nexmarkStream(t, 7, 5000, DefaultNexmarkConfig()); !slices.Equal(a, b) {
		t.Error("seed 7 twice: the streams differ")
	}
	if c := nexmarkStream(t, 8, 5000, DefaultNexmarkConfig()); slices.Equal(a, c) {
		t.Error("seeds 7 and 8: the same stream")
	}
	p := Params{Parallelism: 2, Partitions: 3, Records: 5000, Keys: 1}
	in1 := nexmarkGenerate(rand.New(rand.NewPCG(3, 0)), p)
	in2 := nexmarkGenerate(rand.New(rand.NewPCG(3, 0)), p)
	if !slices.Equal(in1, in2) {
		t.Error("nexmarkGenerate with seed 3 twice: the inputs differ")
	}
	if len(in1) != p.Records+int(p.Partitions) {
		t.Errorf("got %d input records, want %d events and %d end markers", len(in1), p.Records, p.Partitions)
	}
}

// TestNexmarkInterEventDelay: event time follows the configured delay.
func TestNexmarkInterEventDelay(t *testing.T) {
	for _, tc := range []struct {
		cfg  NexmarkConfig
		n    int64
		want int64
	}{
		{DefaultNexmarkConfig(), 1234, 1234},
		{NexmarkConfig{InterEventDelay: 100 * time.Microsecond}, 1234, 123},
		{NexmarkConfig{InterEventDelay: 100 * time.Microsecond, BaseTime: 5000}, 9, 5000},
		{NexmarkConfig{InterEventDelay: 10 * time.Millisecond, BaseTime: 1}, 3, 31},
	} {
		if got := tc.cfg.EventTime(tc.n); got != tc.want {
			t.Errorf("%+v: event %d at %d, want %d", tc.cfg, tc.n, got, tc.want)
		}
	}
	for _, d := range []time.Duration{0, -time.Millisecond} {
		if _, err := NewNexmarkGenerator(rand.New(rand.NewPCG(1, 0)), NexmarkConfig{InterEventDelay: d}); err == nil {
			t.Errorf("inter-event delay %v: no error", d)
		}
	}
	events := nexmarkStream(t, 1, 100, NexmarkConfig{InterEventDelay: 100 * time.Microsecond})
	if events[99].Time != 9 || events[10].Time != 1 || events[9].Time != 0 {
		t.Errorf("at 100µs per event: times %d, %d, %d; want 0, 1, 9", events[9].Time, events[10].Time, events[99].Time)
	}
}

// TestNexmarkEventRoundTrip: Value and ParseNexmarkEvent are inverses, and
// malformed values do not parse.
func TestNexmarkEventRoundTrip(t *testing.T) {
	events := append(nexmarkStream(t, 2, 200, DefaultNexmarkConfig()), NexmarkEvent{Kind: NexmarkEnd, Num: 2, Time: 99})
	for _, e := range events {
		got, ok := ParseNexmarkEvent(e.Value())
		if !ok || got != e {
			t.Fatalf("%q: got %+v, %v; want %+v", e.Value(), got, ok, e)
		}
	}
	if v := events[4].Value(); !strings.HasPrefix(v, "b,4,4,") {
		t.Errorf("bid 4: got %q, want it to start b,4,4,", v)
	}
	for _, bad := range []string{"", "b", "b,1,2,3,4", "b,1,2,3,4,5,6", "x,1,2", "b,1,2,3,4,five", "a,1,2,3,4,5,6,7", "e,1"} {
		if e, ok := ParseNexmarkEvent(bad); ok {
			t.Errorf("%q: parsed as %+v", bad, e)
		}
	}
}

func TestEuros(t *testing.T) {
	for _, tc := range []struct {
		price int64
		want  string
	}{{0, "0.000"}, {1, "0.908"}, {100, "90.800"}, {12345, "11209.260"}, {100_000_000, "90800000.000"}, {11, "9.988"}} {
		if got := euros(tc.price); got != tc.want {
			t.Errorf("euros(%d) = %q, want %q", tc.price, got, tc.want)
		}
	}
}

// committed lays values out as committed input, each in partition
// part[i], offsets in order.
func committed(values []string, parts []int32) []Committed {
	next := map[int32]int64{}
	var out []Committed
	for i, v := range values {
		p := parts[i]
		out = append(out, Committed{Topic: nexmarkTopic, Partition: p, Offset: next[p], Key: strconv.Itoa(i), Value: v})
		next[p]++
	}
	return out
}

func bid(num, t, auction, price int64) string {
	return NexmarkEvent{Kind: NexmarkBid, Num: num, Time: t, Auction: auction, Bidder: 1001, Price: price}.Value()
}

func end(part int32, t int64) string {
	return NexmarkEvent{Kind: NexmarkEnd, Num: int64(part), Time: t}.Value()
}

// TestNexmarkOraclesByHand checks each oracle on input small enough to
// work out by hand: ties, window boundaries, and the final watermark that
// decides which windows fire.
func TestNexmarkOraclesByHand(t *testing.T) {
	person := NexmarkEvent{Kind: NexmarkPerson, Num: 0, Time: 0, ID: 1000, City: "Bend", State: "OR"}.Value()
	render := func(out []Output) string {
		var b strings.Builder
		for _, o := range out {
			b.WriteString(o.Lineage + " " + o.Key + " " + o.Value + "\n")
		}
		return b.String()
	}
	for _, tc := range []struct {
		name  string
		query string
		in    []Committed
		want  string
	}{
		{"q0 passes bids only", "q0", committed([]string{person, bid(4, 4, 1000, 250), end(0, 9)}, []int32{0, 1, 0}),
			"1 1 b,4,4,1000,1001,250\n"},
		{"q1 converts to euros", "q1", committed([]string{person, bid(4, 4, 1000, 12345)}, []int32{0, 0}),
			"1 1 b,4,4,1000,1001,11209.260\n"},
		{"q2 keeps multiples of 123", "q2", committed([]string{bid(4, 4, 1107, 5), bid(5, 5, 1108, 6), bid(6, 6, 1230, 7)}, []int32{0, 1, 2}),
			"0 0 1107,5\n2 2 1230,7\n"},
		// Four bids at 5..7ms lie in the windows starting -80, -60, ..., 0;
		// 1000 and 1001 tie with two each. Ends at 50: the watermark is 49,
		// so only the windows ending at or before 50 fire: [-80,20),
		// [-60,40).
		{"q5 ties, and only windows below the final watermark", "q5",
			committed([]string{bid(4, 5, 1000, 1), bid(5, 6, 1001, 1), bid(6, 6, 1000, 1), bid(7, 7, 1001, 1), bid(8, 30, 1002, 1), end(0, 50), end(1, 50)}, []int32{0, 1, 0, 1, 0, 0, 1}),
			"-80/1000 -80 1000,2\n-80/1001 -80 1001,2\n-60/1000 -60 1000,2\n-60/1001 -60 1001,2\n"},
		// The same bids ending at 200: every window fires. From [-60,40)
		// on, the bid at 30 is in, alone for 1002; in [20,120) it is the
		// only bid.
		{"q5 every window", "q5",
			committed([]string{bid(4, 5, 1000, 1), bid(5, 6, 1001, 1), bid(6, 6, 1000, 1), bid(7, 7, 1001, 1), bid(8, 30, 1002, 1), end(0, 200), end(1, 200)}, []int32{0, 1, 0, 1, 0, 0, 1}),
			"-80/1000 -80 1000,2\n-80/1001 -80 1001,2\n-60/1000 -60 1000,2\n-60/1001 -60 1001,2\n-40/1000 -40 1000,2\n-40/1001 -40 1001,2\n" +
				"-20/1000 -20 1000,2\n-20/1001 -20 1001,2\n0/1000 0 1000,2\n0/1001 0 1001,2\n20/1002 20 1002,1\n"},
		// Window [0,100) has two bids at 700 (6 committed before 5, in
		// another partition), [100,200) one; the watermark (299, then
		// 149 with a partition that ends earlier) decides [100,200).
		{"q7 ties by event number", "q7",
			committed([]string{bid(4, 10, 1000, 500), bid(6, 30, 1000, 700), bid(5, 20, 1001, 700), bid(7, 150, 1000, 100), end(0, 300), end(1, 300)}, []int32{0, 1, 0, 0, 0, 1}),
			"5 0 b,5,20,1001,1001,700\n6 0 b,6,30,1000,1001,700\n7 100 b,7,150,1000,1001,100\n"},
		{"q7 stops at the final watermark", "q7",
			committed([]string{bid(4, 10, 1000, 500), bid(7, 150, 1000, 100), end(0, 300), end(1, 150)}, []int32{0, 0, 0, 1}),
			"4 0 b,4,10,1000,1001,500\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := Lookup("nexmark-" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			out := spec.Oracle(tc.in)
			if got := render(out); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			for _, o := range out {
				if l := spec.Lineage(o.Key, o.Value); l != o.Lineage {
					t.Errorf("Lineage(%q, %q) = %q, want %q", o.Key, o.Value, l, o.Lineage)
				}
			}
		})
	}
}

// TestNexmarkOracleRejectsBadOutput: the exactly-once check against each
// query's oracle passes the oracle's own output and fails it with a record
// duplicated, missing, or changed.
func TestNexmarkOracleRejectsBadOutput(t *testing.T) {
	p := Params{Parallelism: 2, Partitions: 3, Records: 20_000, Keys: 1}
	var values []string
	var parts []int32
	for _, in := range nexmarkGenerate(rand.New(rand.NewPCG(5, 0)), p) {
		values, parts = append(values, in.Value), append(parts, in.Partition)
	}
	in := committed(values, parts)
	for _, q := range NexmarkQueries {
		t.Run(q, func(t *testing.T) {
			spec, err := Lookup("nexmark-" + q)
			if err != nil {
				t.Fatal(err)
			}
			want := spec.Oracle(in)
			if len(want) < 3 {
				t.Fatalf("the oracle expects %d records: too few to test with", len(want))
			}
			var expected []checkers.Expected
			for _, o := range want {
				expected = append(expected, checkers.Expected{Lineage: o.Lineage, Key: o.Key, Value: o.Value})
			}
			observe := func(out []Output) []checkers.Observed {
				var obs []checkers.Observed
				for i, o := range out {
					obs = append(obs, checkers.Observed{Lineage: spec.Lineage(o.Key, o.Value), Key: o.Key, Value: o.Value, Offset: int64(i)})
				}
				return obs
			}
			check := func(out []Output) checkers.Result {
				return checkers.ExactlyOnce(expected, observe(out), nil, checkers.ExactlyOnceOptions{Order: spec.Order})
			}
			if r := check(want); r.Verdict != checkers.Ok {
				t.Fatalf("the oracle's own output: %s", r.Explanation)
			}
			k := len(want) / 2
			changed := want[k]
			if i := strings.LastIndexByte(changed.Value, ','); i >= 0 {
				changed.Value = changed.Value[:i+1] + "1" + changed.Value[i+1:]
			}
			for _, tc := range []struct {
				name, anomaly string
				out           []Output
			}{
				{"duplicated", "duplicate", slices.Insert(slices.Clone(want), k+1, want[k])},
				{"missing", "lost-write", slices.Delete(slices.Clone(want), k, k+1)},
				{"changed", "wrong-value", slices.Replace(slices.Clone(want), k, k+1, changed)},
			} {
				if r := check(tc.out); r.Verdict != checkers.Violation || r.Anomaly != tc.anomaly {
					t.Errorf("%s record: got %s %s, want violation %s", tc.name, r.Verdict, r.Anomaly, tc.anomaly)
				}
			}
		})
	}
}
