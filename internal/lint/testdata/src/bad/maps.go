package bad

import (
	"maps"
	"slices"
)

// Index is a named map type; ranging over it is still ranging over a map.
type Index map[string]int

// Sum ranges over maps with and without the escape hatch.
func Sum(m map[string]int, idx Index) int {
	total := 0
	for _, v := range m { // want maprange
		total += v
	}
	// lint:sorted addition is commutative, so the order does not matter
	for _, v := range m {
		total += v
	}
	for _, v := range m { // lint:sorted integer addition commutes
		total += v
	}
	// lint:sorted
	for _, v := range idx { // want maprange: the annotation gives no reason
		total += v
	}
	for k := range maps.Keys(m) { // want maprange
		total += len(k)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) { // sorted: fine
		total += len(k)
	}
	return total + Keys(idx)
}

// Keys ranges over a map whose type is a type parameter.
func Keys[M ~map[K]V, K comparable, V any](m M) int {
	n := 0
	for range m { // want maprange
		n++
	}
	return n
}
