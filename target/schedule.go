package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onceproof/onceproof/internal/jsonfile"
)

// Fault kinds.
const (
	// KindKill sends SIGKILL to an instance's process group and restarts
	// the instance After later.
	KindKill = "kill"
	// KindPause sends SIGSTOP, then SIGCONT After later: a zombie that
	// wakes up and carries on with what it had.
	KindPause = "pause"
	// KindRestart stops an instance gracefully (SIGTERM, then SIGKILL after
	// the grace period) and starts it again After later.
	KindRestart = "restart"
	// KindKillAt kills an instance at its next request of API, seen by the
	// broker: Point "before" (never applied) or "after" (applied, the
	// answer never read). The instance is restarted After later.
	KindKillAt = "kill-at"
	// KindPauseAt sends SIGSTOP to an instance at its next request of API
	// (Point as for kill-at) and SIGCONT After later: a zombie caught in
	// the middle of a transaction.
	KindPauseAt = "pause-at"
	// KindError answers the next Count requests of API (from any instance)
	// with the broker error Error.
	KindError = "error"
	// KindWithhold delays the answer to the next request of API (from any
	// instance) by After; past the client's request timeout it is a
	// timeout the client sees, and the broker applies the request late.
	KindWithhold = "withhold"
	// KindMoveLeaders moves every partition's leader to a random broker.
	KindMoveLeaders = "move-leaders"
	// KindMoveCoordinators moves every group and transaction coordinator.
	KindMoveCoordinators = "move-coordinators"
	// KindJoin starts an extra instance, which leaves (SIGTERM) After
	// later: two rebalances, likely in the middle of transactions.
	KindJoin = "join"
)

// Kinds lists the fault kinds in the order summaries print them.
var Kinds = []string{KindKill, KindPause, KindRestart, KindKillAt, KindPauseAt, KindError, KindWithhold, KindMoveLeaders, KindMoveCoordinators, KindJoin}

// Duration is a time.Duration written in JSON as a string such as "1.5s".
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string such as "150ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`must be a duration such as "1.5s" or "150ms"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"1.5s\"", s)
	}
	*d = Duration(v)
	return nil
}

// String formats d as time.Duration does.
func (d Duration) String() string { return time.Duration(d).String() }

// WantJSON says what JSON a Duration accepts, for jsonfile's messages.
func (Duration) WantJSON() string { return `a duration such as "1.5s" or "150ms"` }

// Fault is one fault of a schedule, at a time after the instances start.
type Fault struct {
	// At is when the fault is applied (or, for kill-at, armed).
	At Duration `json:"at"`
	// Kind is one of Kinds.
	Kind string `json:"kind"`
	// Instance is the instance slot it hits (kill, pause, restart,
	// kill-at); join uses the next free slot.
	Instance int `json:"instance,omitempty"`
	// After is the pause length, the delay before a restart, a withheld
	// answer's delay, or a joined instance's stay.
	After Duration `json:"after,omitempty"`
	// API is the request kill-at, error and withhold act on.
	API string `json:"api,omitempty"`
	// Point is kill-at's "before" or "after".
	Point string `json:"point,omitempty"`
	// Error is the broker error's name, such as "NOT_COORDINATOR".
	Error string `json:"error,omitempty"`
	// Count is how many requests an error answers (default 1).
	Count int `json:"count,omitempty"`
}

// String describes f in one line.
func (f Fault) String() string {
	at := time.Duration(f.At).String()
	after := time.Duration(f.After).String()
	switch f.Kind {
	case KindKill:
		return fmt.Sprintf("at %s: SIGKILL instance %d, restart %s later", at, f.Instance, after)
	case KindPause:
		return fmt.Sprintf("at %s: SIGSTOP instance %d for %s", at, f.Instance, after)
	case KindRestart:
		return fmt.Sprintf("at %s: stop instance %d (SIGTERM), start it %s later", at, f.Instance, after)
	case KindKillAt:
		how := "before the broker applies it"
		if f.Point == "after" {
			how = "after the broker applied it, before the answer"
		}
		return fmt.Sprintf("at %s: SIGKILL instance %d at its next %s, %s; restart %s later", at, f.Instance, f.API, how, after)
	case KindPauseAt:
		how := "before the broker applies it"
		if f.Point == "after" {
			how = "after the broker applied it, before the answer"
		}
		return fmt.Sprintf("at %s: SIGSTOP instance %d at its next %s, %s; SIGCONT %s later", at, f.Instance, f.API, how, after)
	case KindError:
		return fmt.Sprintf("at %s: answer the next %d %s with %s", at, max(f.Count, 1), f.API, f.Error)
	case KindWithhold:
		return fmt.Sprintf("at %s: withhold the answer to the next %s for %s", at, f.API, after)
	case KindMoveLeaders:
		return fmt.Sprintf("at %s: move every partition leader", at)
	case KindMoveCoordinators:
		return fmt.Sprintf("at %s: move every group and transaction coordinator", at)
	case KindJoin:
		return fmt.Sprintf("at %s: start an extra instance, stop it %s later", at, after)
	}
	return fmt.Sprintf("at %s: %s", at, f.Kind)
}

// Schedule is a run's fault schedule: printed before a run, saved in its
// bundle, and replayable with --schedule.
type Schedule struct {
	// Seed is the seed it was drawn from (0 for a hand-written one).
	Seed uint64 `json:"seed"`
	// Faults are in At order.
	Faults []Fault `json:"faults"`
}

// killAPIs are the protocol points kill-at draws from.
var killAPIs = []string{"AddPartitionsToTxn", "AddOffsetsToTxn", "TxnOffsetCommit", "EndTxn"}

// withholdAPIs are the requests withhold draws from.
var withholdAPIs = []string{"EndTxn", "TxnOffsetCommit", "AddOffsetsToTxn", "AddPartitionsToTxn", "Produce", "Heartbeat"}

// Validate checks s against a run of instances instances.
func (s *Schedule) Validate(instances int) error {
	for i, f := range s.Faults {
		if err := f.validate(instances); err != nil {
			return fmt.Errorf("fault %d (%s): %w", i, f.Kind, err)
		}
		if i > 0 && f.At < s.Faults[i-1].At {
			return fmt.Errorf("fault %d: at %s comes before fault %d's %s (faults must be in time order)", i, time.Duration(f.At), i-1, time.Duration(s.Faults[i-1].At))
		}
	}
	return nil
}

func (f Fault) validate(instances int) error {
	if f.At < 0 || f.After < 0 {
		return errors.New("times must not be negative")
	}
	inst := func() error {
		if f.Instance < 0 || f.Instance >= instances {
			return fmt.Errorf("instance %d does not exist (instances: 0..%d)", f.Instance, instances-1)
		}
		return nil
	}
	switch f.Kind {
	case KindKill, KindPause, KindRestart:
		return inst()
	case KindKillAt, KindPauseAt:
		if err := inst(); err != nil {
			return err
		}
		if _, ok := apiKeys[f.API]; !ok {
			return fmt.Errorf("api %q is not a request it can act on (want one of %s)", f.API, strings.Join(sortedKeys(apiKeys), ", "))
		}
		if f.Point != "before" && f.Point != "after" {
			return fmt.Errorf("point %q: want before or after", f.Point)
		}
	case KindError:
		be, ok := brokerErrors[f.Error]
		if !ok {
			return fmt.Errorf("error %q is not one it injects (want one of %s)", f.Error, strings.Join(sortedKeys(brokerErrors), ", "))
		}
		found := false
		for _, a := range be.apis {
			found = found || a == f.API
		}
		if !found {
			return fmt.Errorf("%s is not an answer to %q (it answers %s)", f.Error, f.API, strings.Join(be.apis, ", "))
		}
		if f.Count < 0 {
			return fmt.Errorf("count %d: want 1 or more", f.Count)
		}
	case KindWithhold:
		if _, ok := apiKeys[f.API]; !ok {
			return fmt.Errorf("api %q is not a request it can act on (want one of %s)", f.API, strings.Join(sortedKeys(apiKeys), ", "))
		}
	case KindMoveLeaders, KindMoveCoordinators, KindJoin:
	default:
		return fmt.Errorf("unknown kind %q (want one of %s)", f.Kind, strings.Join(Kinds, ", "))
	}
	return nil
}

// ParseSchedule decodes and validates a schedule file's contents.
func ParseSchedule(data []byte, instances int) (*Schedule, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, jsonfile.ErrEmpty
	}
	var s Schedule
	if err := jsonfile.Decode(data, &s); err != nil {
		return nil, err
	}
	if err := s.Validate(instances); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadSchedule reads a schedule file, or a bundle directory's schedule.json.
func LoadSchedule(path string, instances int) (*Schedule, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path += "/schedule.json"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseSchedule(data, instances)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// GenerateOptions shape a drawn schedule.
type GenerateOptions struct {
	// Instances is the number of instance slots faults may hit.
	Instances int
	// Window is the span the faults are drawn in.
	Window time.Duration
	// Faults is the number of faults; 0 draws 4 to 8.
	Faults int
	// Kinds restricts the kinds drawn; nil means all.
	Kinds []string
}

// Generate draws a schedule from seed: the seed decides the faults, their
// times and targets, never the program's interleaving.
func Generate(seed uint64, o GenerateOptions) *Schedule {
	rng := rand.New(rand.NewPCG(seed, 0x7a26e7)) // a stream of its own: the input draws from another
	kinds := o.Kinds
	if len(kinds) == 0 {
		kinds = Kinds
	}
	n := o.Faults
	if n <= 0 {
		n = 4 + rng.IntN(5)
	}
	window := max(o.Window, time.Second)
	dur := func(lo, hi time.Duration) Duration { return Duration(lo + time.Duration(rng.Int64N(int64(hi-lo)))) }
	// Kills at protocol points find the windows a random kill rarely
	// hits (between an offset commit and the commit of its transaction),
	// so they are drawn more often.
	var bag []string
	for _, k := range kinds {
		for range drawWeight[k] + 1 {
			bag = append(bag, k)
		}
	}
	// The first faults cover the classes a run is for, as far as kinds
	// allow: a kill at a protocol point, a kill or a zombie, a broker
	// error or withheld answer, and a rebalance; the rest are drawn from
	// the bag.
	var cover [][]string
	for _, class := range coverage {
		var in []string
		for _, k := range class {
			if slices.Contains(kinds, k) {
				in = append(in, k)
			}
		}
		if len(in) > 0 {
			cover = append(cover, in)
		}
	}
	s := &Schedule{Seed: seed}
	for i := range n {
		kind := bag[rng.IntN(len(bag))]
		if i < len(cover) {
			kind = cover[i][rng.IntN(len(cover[i]))]
		}
		f := Fault{At: Duration(rng.Int64N(int64(window))), Kind: kind, Instance: rng.IntN(max(o.Instances, 1))}
		// The first kill, when it is a protocol-point one, is at the
		// commit point itself, before the broker applies it: EndTxn,
		// where a program that committed anything outside its
		// transaction loses or repeats it.
		atCommit := i == 0 && kind == KindKillAt
		switch f.Kind {
		case KindKill, KindRestart:
			f.After = dur(100*time.Millisecond, 1500*time.Millisecond)
		case KindPause:
			f.After = dur(300*time.Millisecond, 3*time.Second)
		case KindKillAt:
			f.API = killAPIs[rng.IntN(len(killAPIs))]
			f.Point = []string{"before", "after"}[rng.IntN(2)]
			f.After = dur(100*time.Millisecond, 1000*time.Millisecond)
			if atCommit {
				f.API, f.Point = "EndTxn", "before"
			}
		case KindPauseAt:
			f.API = killAPIs[rng.IntN(len(killAPIs))]
			f.Point = []string{"before", "after"}[rng.IntN(2)]
			f.After = dur(500*time.Millisecond, 3*time.Second)
		case KindError:
			names := sortedKeys(brokerErrors)
			f.Error = names[rng.IntN(len(names))]
			// A KIP-890 client never sends AddPartitionsToTxn or
			// AddOffsetsToTxn, so drawn errors answer what every
			// client sends; a written schedule may name them.
			var apis []string
			for _, a := range brokerErrors[f.Error].apis {
				if a != "AddPartitionsToTxn" && a != "AddOffsetsToTxn" {
					apis = append(apis, a)
				}
			}
			f.API = apis[rng.IntN(len(apis))]
			f.Count = 1 + rng.IntN(3)
		case KindWithhold:
			f.API = withholdAPIs[rng.IntN(len(withholdAPIs))]
			f.After = dur(200*time.Millisecond, 2500*time.Millisecond)
		case KindJoin:
			f.After = dur(500*time.Millisecond, 3*time.Second)
		}
		if f.Kind != KindKill && f.Kind != KindPause && f.Kind != KindRestart && f.Kind != KindKillAt && f.Kind != KindPauseAt {
			f.Instance = 0
		}
		s.Faults = append(s.Faults, f)
	}
	sort.SliceStable(s.Faults, func(i, j int) bool { return s.Faults[i].At < s.Faults[j].At })
	return s
}

// coverage are the classes of fault a drawn schedule starts with, one of
// each.
var coverage = [][]string{{KindKillAt}, {KindKill, KindPause, KindPauseAt}, {KindError, KindWithhold}, {KindJoin, KindRestart}}

// drawWeight is how many extra lots a kind gets when drawn.
var drawWeight = map[string]int{KindKillAt: 2, KindKill: 1, KindPause: 1}

// Subset returns the schedule with only the faults at idx, in order.
func (s *Schedule) Subset(idx []int) *Schedule {
	out := &Schedule{Seed: s.Seed}
	for _, i := range idx {
		out.Faults = append(out.Faults, s.Faults[i])
	}
	return out
}

// Lines describes every fault, one a line.
func (s *Schedule) Lines() []string {
	var out []string
	for _, f := range s.Faults {
		out = append(out, f.String())
	}
	return out
}
