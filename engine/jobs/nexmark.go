package jobs

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// The Nexmark event generator: an online auction's persons, auctions and
// bids, drawn as the Nexmark benchmark's generator draws them (Apache
// Beam's, and the nexmark/nexmark Flink suite's NexmarkGenerator):
//
//   - Event n is a person, an auction or a bid by n mod 50: 1 person, then
//     3 auctions, then 46 bids in every 50 events.
//   - Persons and auctions take the next id in their own sequence (from
//     1000); a bid names an auction and a bidder that exist already, or are
//     about to ("leads").
//   - Bids are hot: half of them go to the hot auction (the first of the
//     latest batch of 100 auctions), three in four come from the hot bidder
//     (the second of the latest batch of 100 persons); the others pick among
//     the 100 auctions in flight and the 1000 active persons. Three in four
//     auctions are sold by the hot seller (the first of the latest batch of
//     100 persons).
//   - Prices are 10^(6u) * 100 rounded, u uniform in [0, 1): from 100 to
//     10^8, log-uniform.
//   - Event time grows with the event number: event n happens at
//     BaseTime + n * InterEventDelay, in whole milliseconds, in order.
//
// It differs from the original in what it leaves out and in its randomness:
// no names, e-mail addresses, credit cards, descriptions, channels, URLs or
// "extra" padding (the encoding below is compact: a bid is about 35 bytes
// where Nexmark's average is 100), and its draws come from the *rand.Rand it
// is given, so that one seed gives one stream. The Flink suite's
// BidGenerator adds the first person id to a bidder twice; this one adds it
// once, as Beam's does.

// Nexmark's generator constants.
const (
	nexmarkPersonProportion  = 1
	nexmarkAuctionProportion = 3
	nexmarkBidProportion     = 46
	nexmarkTotalProportion   = nexmarkPersonProportion + nexmarkAuctionProportion + nexmarkBidProportion

	nexmarkFirstPersonID   = 1000
	nexmarkFirstAuctionID  = 1000
	nexmarkFirstCategoryID = 10
	nexmarkCategories      = 5

	// An id up to this many past the latest may be named: a bid or an
	// auction may seem to precede what it refers to.
	nexmarkIDLead = 10
	// Auctions in flight and persons active, among which the cold bids,
	// sellers and bidders choose.
	nexmarkInFlightAuctions = 100
	nexmarkActivePeople     = 1000
	// One in hotXRatio is cold: P(hot) = 1 - 1/ratio.
	nexmarkHotAuctionRatio = 2
	nexmarkHotSellersRatio = 4
	nexmarkHotBiddersRatio = 4
	// Hot auctions, sellers and bidders are the first (or second) of a
	// batch of this many.
	nexmarkHotBatch = 100
)

var (
	nexmarkStates = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	nexmarkCities = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
)

// NexmarkConfig sets the generator's time base.
type NexmarkConfig struct {
	// InterEventDelay is the event time between two consecutive events:
	// the generator's rate in event time is one event per InterEventDelay.
	InterEventDelay time.Duration `json:"inter_event_delay"`
	// BaseTime is the event time of event 0, in milliseconds.
	BaseTime int64 `json:"base_time"`
}

// DefaultNexmarkConfig is the time base the nexmark jobs are built for:
// one event per millisecond of event time, from 0. Their windows are scaled
// to it (nexmark_queries.go).
func DefaultNexmarkConfig() NexmarkConfig {
	return NexmarkConfig{InterEventDelay: time.Millisecond}
}

// Validate reports the first invalid field.
func (c NexmarkConfig) Validate() error {
	if c.InterEventDelay <= 0 {
		return fmt.Errorf("inter_event_delay: must be positive, got %v", c.InterEventDelay)
	}
	return nil
}

// EventTime is the event time of event n, in milliseconds.
func (c NexmarkConfig) EventTime(n int64) int64 {
	return c.BaseTime + n*c.InterEventDelay.Nanoseconds()/int64(time.Millisecond)
}

// NexmarkKind says what a Nexmark event is: the first byte of its encoding.
type NexmarkKind byte

// The kinds of event. NexmarkEnd is not Nexmark's: it marks the end of a
// partition's input (nexmark_queries.go says why).
const (
	NexmarkPerson  NexmarkKind = 'p'
	NexmarkAuction NexmarkKind = 'a'
	NexmarkBid     NexmarkKind = 'b'
	NexmarkEnd     NexmarkKind = 'e'
)

// NexmarkEvent is one event. Num and Time are set for every kind; the
// other fields for the kinds named.
type NexmarkEvent struct {
	Kind NexmarkKind
	// Num is the event number (the partition, for NexmarkEnd).
	Num int64
	// Time is the event time in milliseconds.
	Time int64
	// ID is the person's or the auction's id.
	ID int64
	// Person.
	City, State string
	// Auction.
	Seller, Category, InitialBid, Reserve, Expires int64
	// Bid.
	Auction, Bidder, Price int64
}

// Value encodes e as a record value, comma-separated, kind, number and time
// first:
//
//	person   p,<num>,<time>,<id>,<city>,<state>
//	auction  a,<num>,<time>,<id>,<seller>,<category>,<initial bid>,<reserve>,<expires>
//	bid      b,<num>,<time>,<auction>,<bidder>,<price>
//	end      e,<partition>,<time>
func (e NexmarkEvent) Value() string {
	b := make([]byte, 0, 64)
	b = append(b, byte(e.Kind), ',')
	b = strconv.AppendInt(b, e.Num, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, e.Time, 10)
	ints := func(vs ...int64) {
		for _, v := range vs {
			b = append(b, ',')
			b = strconv.AppendInt(b, v, 10)
		}
	}
	switch e.Kind {
	case NexmarkPerson:
		ints(e.ID)
		b = append(append(append(append(b, ','), e.City...), ','), e.State...)
	case NexmarkAuction:
		ints(e.ID, e.Seller, e.Category, e.InitialBid, e.Reserve, e.Expires)
	case NexmarkBid:
		ints(e.Auction, e.Bidder, e.Price)
	}
	return string(b)
}

// ParseNexmarkEvent decodes a value made by Value; ok is false for
// anything else.
func ParseNexmarkEvent(v string) (e NexmarkEvent, ok bool) {
	if len(v) < 2 || v[1] != ',' {
		return e, false
	}
	e.Kind = NexmarkKind(v[0])
	var f [9]string
	n := splitFields(v, f[:])
	var want, numeric int // fields, and how many of them are integers
	switch e.Kind {
	case NexmarkPerson:
		want, numeric = 6, 4
	case NexmarkAuction:
		want, numeric = 9, 9
	case NexmarkBid:
		want, numeric = 6, 6
	case NexmarkEnd:
		want, numeric = 3, 3
	}
	if want == 0 || n != want {
		return e, false
	}
	var x [9]int64
	for i := 1; i < numeric; i++ {
		var err error
		if x[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
			return e, false
		}
	}
	e.Num, e.Time = x[1], x[2]
	switch e.Kind {
	case NexmarkPerson:
		e.ID, e.City, e.State = x[3], f[4], f[5]
	case NexmarkAuction:
		e.ID, e.Seller, e.Category, e.InitialBid, e.Reserve, e.Expires = x[3], x[4], x[5], x[6], x[7], x[8]
	case NexmarkBid:
		e.Auction, e.Bidder, e.Price = x[3], x[4], x[5]
	}
	return e, true
}

// splitFields cuts v at commas into out and returns the number of fields,
// or len(out)+1 when v has more fields than out holds.
func splitFields(v string, out []string) int {
	n, start := 0, 0
	for i := 0; i <= len(v); i++ {
		if i < len(v) && v[i] != ',' {
			continue
		}
		if n == len(out) {
			return n + 1
		}
		out[n] = v[start:i]
		n++
		start = i + 1
	}
	return n
}

// nexmarkField returns the i-th comma-separated field of v (from 0)
// without allocating; ok is false when v has fewer fields. The queries read
// one or two fields of every bid with it: a throughput benchmark parses
// with strconv, never with fmt.
func nexmarkField(v string, i int) (string, bool) {
	start := 0
	for ; i > 0; i-- {
		j := indexComma(v, start)
		if j < 0 {
			return "", false
		}
		start = j + 1
	}
	end := indexComma(v, start)
	if end < 0 {
		end = len(v)
	}
	return v[start:end], true
}

func indexComma(v string, from int) int {
	for i := from; i < len(v); i++ {
		if v[i] == ',' {
			return i
		}
	}
	return -1
}

// nexmarkInt returns the i-th field of v as an integer.
func nexmarkInt(v string, i int) (int64, bool) {
	f, ok := nexmarkField(v, i)
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseInt(f, 10, 64)
	return x, err == nil
}

// NexmarkGenerator draws the Nexmark event stream, one event at a time.
type NexmarkGenerator struct {
	r   *rand.Rand
	cfg NexmarkConfig
	n   int64
}

// NewNexmarkGenerator starts a stream at event 0 whose every draw comes
// from r.
func NewNexmarkGenerator(r *rand.Rand, cfg NexmarkConfig) (*NexmarkGenerator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("nexmark generator: %w", err)
	}
	return &NexmarkGenerator{r: r, cfg: cfg}, nil
}

// Next returns the next event.
func (g *NexmarkGenerator) Next() NexmarkEvent {
	n := g.n
	g.n++
	e := NexmarkEvent{Num: n, Time: g.cfg.EventTime(n)}
	switch rem := n % nexmarkTotalProportion; {
	case rem < nexmarkPersonProportion:
		e.Kind = NexmarkPerson
		e.ID = lastPerson(n) + nexmarkFirstPersonID
		e.City = nexmarkCities[g.r.IntN(len(nexmarkCities))]
		e.State = nexmarkStates[g.r.IntN(len(nexmarkStates))]
	case rem < nexmarkPersonProportion+nexmarkAuctionProportion:
		e.Kind = NexmarkAuction
		e.ID = lastAuction(n) + nexmarkFirstAuctionID
		if g.r.IntN(nexmarkHotSellersRatio) > 0 {
			e.Seller = lastPerson(n) / nexmarkHotBatch * nexmarkHotBatch
		} else {
			e.Seller = g.somePerson(n)
		}
		e.Seller += nexmarkFirstPersonID
		e.Category = nexmarkFirstCategoryID + int64(g.r.IntN(nexmarkCategories))
		e.InitialBid = g.price()
		e.Expires = e.Time + g.auctionLength(n, e.Time)
		e.Reserve = e.InitialBid + g.price()
	default:
		e.Kind = NexmarkBid
		if g.r.IntN(nexmarkHotAuctionRatio) > 0 {
			e.Auction = lastAuction(n) / nexmarkHotBatch * nexmarkHotBatch
		} else {
			e.Auction = g.someAuction(n)
		}
		e.Auction += nexmarkFirstAuctionID
		if g.r.IntN(nexmarkHotBiddersRatio) > 0 {
			// The second of the batch, so hot bidders and hot sellers
			// differ.
			e.Bidder = lastPerson(n)/nexmarkHotBatch*nexmarkHotBatch + 1
		} else {
			e.Bidder = g.somePerson(n)
		}
		e.Bidder += nexmarkFirstPersonID
		e.Price = g.price()
	}
	return e
}

// lastPerson is the latest person id (from 0) at event n: n's own if n is
// a person.
func lastPerson(n int64) int64 {
	epoch, off := n/nexmarkTotalProportion, n%nexmarkTotalProportion
	if off >= nexmarkPersonProportion {
		off = nexmarkPersonProportion - 1
	}
	return epoch*nexmarkPersonProportion + off
}

// lastAuction is the latest auction id (from 0) at event n: n's own if n is
// an auction; -1 before the first.
func lastAuction(n int64) int64 {
	epoch, off := n/nexmarkTotalProportion, n%nexmarkTotalProportion
	switch {
	case off < nexmarkPersonProportion:
		epoch--
		off = nexmarkAuctionProportion - 1
	case off >= nexmarkPersonProportion+nexmarkAuctionProportion:
		off = nexmarkAuctionProportion - 1
	default:
		off -= nexmarkPersonProportion
	}
	return epoch*nexmarkAuctionProportion + off
}

// someAuction picks an auction in flight at event n, or a lead.
func (g *NexmarkGenerator) someAuction(n int64) int64 {
	last := lastAuction(n)
	first := max(last-nexmarkInFlightAuctions, 0)
	return first + g.r.Int64N(last-first+1+nexmarkIDLead)
}

// somePerson picks an active person at event n, or a lead.
func (g *NexmarkGenerator) somePerson(n int64) int64 {
	people := lastPerson(n) + 1
	active := min(people, nexmarkActivePeople)
	return people - active + g.r.Int64N(active+nexmarkIDLead)
}

// price is log-uniform in [100, 10^8].
func (g *NexmarkGenerator) price() int64 {
	return int64(math.Round(math.Pow(10, g.r.Float64()*6) * 100))
}

// auctionLength is how long an auction created at event n, time t, runs:
// on average until the auction nexmarkInFlightAuctions later is created.
func (g *NexmarkGenerator) auctionLength(n, t int64) int64 {
	ahead := int64(nexmarkInFlightAuctions * nexmarkTotalProportion / nexmarkAuctionProportion)
	horizon := g.cfg.EventTime(n+ahead) - t
	return 1 + g.r.Int64N(max(2*horizon, 1))
}
