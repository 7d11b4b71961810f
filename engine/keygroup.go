package engine

import "math/bits"

// Key groups are the unit of keyed state, as in Flink: a key hashes to one of
// MaxParallelism key groups, and each subtask of a keyed vertex owns a
// contiguous range of them. Rescaling moves whole key groups.

// DefaultMaxParallelism is Flink's default: parallelism * 1.5 rounded up to a
// power of two, kept within [128, 32768].
func DefaultMaxParallelism(parallelism int) int {
	n := parallelism + parallelism/2
	p := 1
	if n > 1 {
		p = 1 << bits.Len(uint(n-1))
	}
	return min(max(p, 128), 32768)
}

// KeyGroup returns the key group of key among maxParallelism groups.
func KeyGroup(key string, maxParallelism int) int {
	return int(murmur3(key) % uint32(maxParallelism))
}

// SubtaskForKeyGroup returns the subtask that owns key group kg, as Flink's
// KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup does.
func SubtaskForKeyGroup(kg, maxParallelism, parallelism int) int {
	return kg * parallelism / maxParallelism
}

// KeyGroupRange returns the key groups [start, end) owned by subtask.
func KeyGroupRange(subtask, maxParallelism, parallelism int) (start, end int) {
	start = (subtask*maxParallelism + parallelism - 1) / parallelism
	end = ((subtask+1)*maxParallelism + parallelism - 1) / parallelism
	return start, end
}

// murmur3 is the 32-bit MurmurHash3 of s with seed 0: a stable hash, the
// same on every machine and in every run.
func murmur3(s string) uint32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	var h uint32
	data := []byte(s)
	n := len(data) / 4
	for i := 0; i < n; i++ {
		k := uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	tail := data[4*n:]
	switch len(tail) {
	case 3:
		k ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		k ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		k ^= uint32(tail[0])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(len(data))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// PartitionFor picks the output partition of a record with key among n
// partitions; records without a key go to fallback's partition.
func PartitionFor(key string, n int32, fallback int) int32 {
	if key == "" {
		return int32(fallback) % n
	}
	return int32(murmur3(key) % uint32(n))
}
