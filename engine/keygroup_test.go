package engine

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// flinkMaxParallelism is Flink's KeyGroupRangeAssignment
// .computeDefaultMaxParallelism, written the way Flink writes it:
// roundUpToPowerOfTwo(p + p/2), bounded to [128, 32768].
func flinkMaxParallelism(p int) int {
	n := p + p/2
	pow := 1
	for pow < n {
		pow *= 2
	}
	return min(max(pow, 128), 32768)
}

func TestDefaultMaxParallelism(t *testing.T) {
	for _, c := range []struct{ parallelism, want int }{
		{1, 128},
		{2, 128},
		{85, 128},  // 85 + 42 = 127
		{86, 256},  // 86 + 43 = 129
		{100, 256}, // 150
		{171, 256}, // 256 exactly: already a power of two
		{172, 512}, // 258
		{1000, 2048},
		{21845, 32768}, // 32767
		{21846, 32768}, // 32769 rounds up to 65536, capped
		{30000, 32768},
	} {
		if got := DefaultMaxParallelism(c.parallelism); got != c.want {
			t.Errorf("DefaultMaxParallelism(%d): got %d, want %d", c.parallelism, got, c.want)
		}
	}
	for p := 1; p <= 40000; p++ {
		if got, want := DefaultMaxParallelism(p), flinkMaxParallelism(p); got != want {
			t.Fatalf("DefaultMaxParallelism(%d): got %d, want %d (Flink's formula)", p, got, want)
		}
	}
}

// TestKeyGroupRangePartitions: the subtasks' ranges are contiguous,
// disjoint, cover [0, maxParallelism), are never empty, agree with Flink's
// computeKeyGroupRangeForOperatorIndex, and SubtaskForKeyGroup maps every
// key group to the subtask whose range holds it.
func TestKeyGroupRangePartitions(t *testing.T) {
	for _, c := range []struct{ maxPar, par int }{
		{128, 1}, {128, 2}, {128, 3}, {128, 7}, {128, 127}, {128, 128},
		{256, 100}, {10, 3}, {7, 7}, {32768, 30000}, {32768, 3},
	} {
		next := 0
		for s := range c.par {
			start, end := KeyGroupRange(s, c.maxPar, c.par)
			// Flink: start = ceil(s*max/par), end (inclusive) =
			// ((s+1)*max - 1) / par.
			fStart := (s*c.maxPar + c.par - 1) / c.par
			fEnd := ((s+1)*c.maxPar - 1) / c.par
			if start != fStart || end != fEnd+1 {
				t.Errorf("max %d par %d subtask %d: got [%d, %d), want Flink's [%d, %d]", c.maxPar, c.par, s, start, end, fStart, fEnd)
			}
			if start != next {
				t.Errorf("max %d par %d subtask %d: range starts at %d, want %d (contiguous)", c.maxPar, c.par, s, start, next)
			}
			if end <= start {
				t.Errorf("max %d par %d subtask %d: empty range [%d, %d)", c.maxPar, c.par, s, start, end)
			}
			for kg := start; kg < end; kg++ {
				if got := SubtaskForKeyGroup(kg, c.maxPar, c.par); got != s {
					t.Fatalf("max %d par %d: SubtaskForKeyGroup(%d) = %d, want %d (its range is [%d, %d))", c.maxPar, c.par, kg, got, s, start, end)
				}
			}
			next = end
		}
		if next != c.maxPar {
			t.Errorf("max %d par %d: ranges end at %d, want %d", c.maxPar, c.par, next, c.maxPar)
		}
	}
}

// refMurmur3 is MurmurHash3_x86_32 as in Austin Appleby's smhasher
// MurmurHash3.cpp, written independently of murmur3 (explicit rotations,
// encoding/binary, a seed) so the two check each other.
func refMurmur3(data []byte, seed uint32) uint32 {
	rotl := func(x uint32, r uint) uint32 { return x<<r | x>>(32-r) }
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h1 := seed
	nblocks := len(data) / 4
	for i := range nblocks {
		k1 := binary.LittleEndian.Uint32(data[i*4:])
		k1 *= c1
		k1 = rotl(k1, 15)
		k1 *= c2
		h1 ^= k1
		h1 = rotl(h1, 13)
		h1 = h1*5 + 0xe6546b64
	}
	tail := data[nblocks*4:]
	var k1 uint32
	if len(tail) >= 3 {
		k1 ^= uint32(tail[2]) << 16
	}
	if len(tail) >= 2 {
		k1 ^= uint32(tail[1]) << 8
	}
	if len(tail) >= 1 {
		k1 ^= uint32(tail[0])
		k1 *= c1
		k1 = rotl(k1, 15)
		k1 *= c2
		h1 ^= k1
	}
	h1 ^= uint32(len(data))
	h1 ^= h1 >> 16
	h1 *= 0x85ebca6b
	h1 ^= h1 >> 13
	h1 *= 0xc2b2ae35
	h1 ^= h1 >> 16
	return h1
}

func TestMurmur3KnownValues(t *testing.T) {
	// Published MurmurHash3_x86_32 vectors; they pin refMurmur3 to the
	// reference, seeds included.
	for _, c := range []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0},
		{"", 1, 0x514e28b7},
		{"", 0xffffffff, 0x81f16f39},
		{"hello", 0, 0x248bfa47},
		{"The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723},
		{"Hello, world!", 0x9747b28c, 0x24884cba},
		{"The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd},
		{"aaaa", 0x9747b28c, 0x5a97808a},
		{"aaa", 0x9747b28c, 0x283e0130},
		{"aa", 0x9747b28c, 0x5d211726},
		{"a", 0x9747b28c, 0x7fa09ea6},
		{"abcd", 0x9747b28c, 0xf0478627},
		{"abc", 0x9747b28c, 0xc84a62dd},
		{"ab", 0x9747b28c, 0x74875592},
	} {
		if got := refMurmur3([]byte(c.in), c.seed); got != c.want {
			t.Errorf("refMurmur3(%q, %#x): got %#08x, want %#08x", c.in, c.seed, got, c.want)
		}
		if c.seed != 0 {
			continue
		}
		if got := murmur3(c.in); got != c.want {
			t.Errorf("murmur3(%q): got %#08x, want %#08x", c.in, got, c.want)
		}
	}
}

// TestMurmur3MatchesReference compares murmur3 with refMurmur3 (seed 0) on
// strings of every length up to 64 (every tail length, several blocks) and
// every byte value.
func TestMurmur3MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 64; n++ {
		for range 50 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			if got, want := murmur3(string(b)), refMurmur3(b, 0); got != want {
				t.Fatalf("murmur3(%x): got %#08x, want %#08x", b, got, want)
			}
		}
	}
}

func TestKeyGroupAndPartitionFor(t *testing.T) {
	for _, maxPar := range []int{128, 256, 32768} {
		for _, k := range []string{"", "a", "b", "hello", "k17"} {
			want := int(refMurmur3([]byte(k), 0) % uint32(maxPar))
			if got := KeyGroup(k, maxPar); got != want {
				t.Errorf("KeyGroup(%q, %d): got %d, want %d", k, maxPar, got, want)
			}
		}
	}
	for _, c := range []struct {
		key      string
		n        int32
		fallback int
		want     int32
	}{
		{"", 4, 0, 0},
		{"", 4, 6, 2}, // no key: the subtask's own partition, modulo n
		{"hello", 4, 9, int32(0x248bfa47 % 4)},
		{"a", 3, 0, int32(0x3c2569b2 % 3)},
	} {
		if got := PartitionFor(c.key, c.n, c.fallback); got != c.want {
			t.Errorf("PartitionFor(%q, %d, %d): got %d, want %d", c.key, c.n, c.fallback, got, c.want)
		}
	}
}
