package jobs

import (
	"math/rand/v2"
	"testing"
)

// TestSkewedWorkload: a hot key takes about its share of the records, the
// empty partitions receive none, the same seed draws the same workload, and
// impossible skews are refused.
func TestSkewedWorkload(t *testing.T) {
	spec, err := Lookup("keyed-count")
	if err != nil {
		t.Fatal(err)
	}
	base := Params{Parallelism: 2, Partitions: 4, Records: 4000, Keys: 50}
	plain := spec.Generate(rand.New(rand.NewPCG(1, 2)), base)
	skewed := base
	skewed.HotKeyPercent, skewed.EmptyPartitions = 60, 2
	if err := skewed.Validate(); err != nil {
		t.Fatal(err)
	}
	in := spec.Generate(rand.New(rand.NewPCG(1, 2)), skewed)
	hot := 0
	for _, r := range in {
		if r.Key == "k0" {
			hot++
		}
		if r.Partition >= 2 {
			t.Fatalf("record %v in an empty partition", r)
		}
	}
	if hot < 2200 || hot > 2700 {
		t.Errorf("hot key k0 has %d of %d records, want about 60%% plus its fair share", hot, len(in))
	}
	again := spec.Generate(rand.New(rand.NewPCG(1, 2)), base)
	for i := range plain {
		if plain[i] != again[i] {
			t.Fatalf("record %d: unskewed workload changed: %v vs %v", i, plain[i], again[i])
		}
	}
	for _, p := range []Params{{Parallelism: 1, Partitions: 2, Records: 1, Keys: 1, EmptyPartitions: 2}, {Parallelism: 1, Partitions: 2, Records: 1, Keys: 1, HotKeyPercent: 101}} {
		if p.Validate() == nil {
			t.Errorf("%+v validates", p)
		}
	}
}
