package faults

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func draw(seed uint64, opts SwarmOptions) (Swarm, Plan) {
	return DrawSwarm(rand.New(rand.NewPCG(seed, 0)), opts)
}

func TestDrawSwarmDeterministic(t *testing.T) {
	for seed := range uint64(20) {
		s1, p1 := draw(seed, SwarmOptions{})
		s2, p2 := draw(seed, SwarmOptions{})
		if !reflect.DeepEqual(s1, s2) || !reflect.DeepEqual(p1, p2) {
			t.Errorf("seed %d: got\n%v\n%v\nthen\n%v\n%v\nwant the same twice", seed, s1, p1, s2, p2)
		}
	}
}

func TestDrawSwarmSeedsDiffer(t *testing.T) {
	seen := map[string]uint64{}
	for seed := range uint64(20) {
		s, p := draw(seed, SwarmOptions{})
		key := s.String() + "\n" + p.String()
		if prev, dup := seen[key]; dup {
			t.Errorf("seeds %d and %d drew the same swarm and plan:\n%s", prev, seed, key)
		}
		seen[key] = seed
	}
}

func TestDrawSwarmValid(t *testing.T) {
	tests := []struct {
		name string
		opts SwarmOptions
	}{
		{"defaults", SwarmOptions{}},
		{"every kind", SwarmOptions{Kinds: AllKinds()}},
		{"process and link faults", SwarmOptions{Kinds: append(LinkKinds(), ProcessKinds()...)}},
		{"one worker", SwarmOptions{Kinds: LinkKinds(), WorkersMin: 1, WorkersMax: 1}},
		{"tight", SwarmOptions{WorkersMin: 3, WorkersMax: 3, ParallelismMax: 2, FaultsMin: 20, FaultsMax: 20, Window: 500 * time.Microsecond, CheckpointMax: 1}},
		{"no faults", SwarmOptions{FaultsMin: 0, FaultsMax: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts.withDefaults()
			for seed := range uint64(300) {
				s, p := draw(seed, tt.opts)
				if err := p.Validate(s.Workers); err != nil {
					t.Fatalf("seed %d: %v\n%v", seed, err, p)
				}
				if s.Workers < o.WorkersMin || s.Workers > o.WorkersMax {
					t.Errorf("seed %d: got %d workers, want %d..%d", seed, s.Workers, o.WorkersMin, o.WorkersMax)
				}
				if s.Parallelism < 1 || s.Parallelism > o.ParallelismMax {
					t.Errorf("seed %d: got parallelism %d, want 1..%d", seed, s.Parallelism, o.ParallelismMax)
				}
				if len(p.Faults) != s.Faults || s.Faults < o.FaultsMin || s.Faults > o.FaultsMax {
					t.Errorf("seed %d: got %d faults (swarm says %d), want %d..%d", seed, len(p.Faults), s.Faults, o.FaultsMin, o.FaultsMax)
				}
				if len(s.Kinds) == 0 || len(s.Rates) != len(s.Kinds) {
					t.Errorf("seed %d: got kinds %v rates %v, want at least one kind, each with a rate", seed, s.Kinds, s.Rates)
				}
				sorted := Plan{Faults: slices.Clone(p.Faults)}
				sorted.Sort()
				if !reflect.DeepEqual(sorted, p) {
					t.Errorf("seed %d: plan is not sorted:\n%v", seed, p)
				}
				for i, f := range p.Faults {
					if !slices.Contains(s.Kinds, f.Action.Kind) || !slices.Contains(o.Kinds, f.Action.Kind) {
						t.Errorf("seed %d fault %d: kind %s is not on (swarm %v, allowed %v)", seed, i, f.Action.Kind, s.Kinds, o.Kinds)
					}
					if at := f.Trigger.At; at != nil && (*at < 0 || *at >= o.Window) {
						t.Errorf("seed %d fault %d: at %v, want within [0, %v)", seed, i, *at, o.Window)
					}
					if ph := f.Trigger.Phase; ph != nil && (ph.Checkpoint < 1 || ph.Checkpoint > o.CheckpointMax) {
						t.Errorf("seed %d fault %d: checkpoint %d, want 1..%d", seed, i, ph.Checkpoint, o.CheckpointMax)
					}
					if f.Trigger.AfterRequests != nil {
						t.Errorf("seed %d fault %d: got a request trigger, want time or phase", seed, i)
					}
				}
			}
		})
	}
}

// TestDrawSwarmCoversKinds checks that every kind can be drawn (so every
// draw path is validated by TestDrawSwarmValid) and that kinds are switched
// on and off from seed to seed.
func TestDrawSwarmCoversKinds(t *testing.T) {
	drawn := map[ActionKind]int{}
	sizes := map[int]bool{}
	for seed := range uint64(300) {
		s, p := draw(seed, SwarmOptions{Kinds: AllKinds()})
		sizes[len(s.Kinds)] = true
		for _, f := range p.Faults {
			drawn[f.Action.Kind]++
		}
	}
	for _, k := range AllKinds() {
		if drawn[k] == 0 {
			t.Errorf("kind %s never drawn in 300 seeds", k)
		}
	}
	if len(sizes) < 5 {
		t.Errorf("got %d distinct numbers of kinds on, want the subsets to vary", len(sizes))
	}
}

func TestDrawSwarmDefaultKinds(t *testing.T) {
	for seed := range uint64(200) {
		_, p := draw(seed, SwarmOptions{})
		for _, f := range p.Faults {
			if k := f.Action.Kind; k == ExpireTxn || k == CorruptCheckpoint || k == DeleteCheckpointFile {
				t.Fatalf("seed %d: default swarm drew %s, want it left to scenarios that expect it", seed, k)
			}
		}
	}
}

func TestDrawSwarmIgnoresKindOrder(t *testing.T) {
	a := SwarmOptions{Kinds: []ActionKind{KillWorker, Partition, DropResponse}}
	b := SwarmOptions{Kinds: []ActionKind{DropResponse, KillWorker, Partition}}
	for seed := range uint64(20) {
		s1, p1 := draw(seed, a)
		s2, p2 := draw(seed, b)
		if !reflect.DeepEqual(s1, s2) || !reflect.DeepEqual(p1, p2) {
			t.Fatalf("seed %d: the order of SwarmOptions.Kinds changed the draw", seed)
		}
	}
}

func TestSwarmOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts SwarmOptions
		msg  string
	}{
		{"unknown kind", SwarmOptions{Kinds: []ActionKind{"meteor"}}, `kinds[0]: unknown kind "meteor"`},
		{"duplicate kind", SwarmOptions{Kinds: []ActionKind{Isolate, Isolate}}, "kinds[1]: isolate listed twice"},
		{"workers", SwarmOptions{WorkersMin: 4, WorkersMax: 2}, "workers: 4..2"},
		{"faults", SwarmOptions{FaultsMin: 9, FaultsMax: 3}, "faults: 9..3"},
		{"window", SwarmOptions{Window: -time.Second}, "window: -1s is negative"},
		{"checkpoints", SwarmOptions{CheckpointMax: -1}, "checkpoint_max: -1"},
	}
	for _, tt := range tests {
		err := tt.opts.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.msg)
		}
	}
	if err := (SwarmOptions{}).Validate(); err != nil {
		t.Errorf("zero options: got %v, want nil", err)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("DrawSwarm with bad options did not panic")
		}
	}()
	draw(1, SwarmOptions{WorkersMin: 5, WorkersMax: 1})
}

func TestSwarmString(t *testing.T) {
	s := Swarm{
		Workers: 3, Parallelism: 2, Faults: 5, Window: 3 * time.Second,
		Kinds: []ActionKind{KillWorker, Partition}, Rates: map[ActionKind]int{KillWorker: 7, Partition: 3},
	}
	want := "swarm: workers=3 parallelism=2 faults=5 window=3s kinds=kill-worker:7,partition:3"
	if got := s.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestSwarmJSONRoundTrip(t *testing.T) {
	for seed := range uint64(10) {
		s, _ := draw(seed, SwarmOptions{})
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), `"window":"3s"`) {
			t.Errorf("got %s, want window as a duration string", data)
		}
		var back Swarm
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("Unmarshal(%s) = %v", data, err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("got %v, want %v", back, s)
		}
	}
	opts := SwarmOptions{Kinds: LinkKinds(), WorkersMax: 3, Window: 1500 * time.Millisecond}
	data, err := json.Marshal(opts)
	if err != nil {
		t.Fatal(err)
	}
	var back SwarmOptions
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, opts) {
		t.Errorf("options: got %+v, %v from %s; want %+v", back, err, data, opts)
	}
	if err := json.Unmarshal([]byte(`{"workers_mx":3}`), &back); err == nil || !strings.Contains(err.Error(), "workers_mx") {
		t.Errorf("options with a typo: got %v, want an unknown field error", err)
	}
}
