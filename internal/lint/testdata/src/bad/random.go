package bad

import (
	"math/rand"
	randv2 "math/rand/v2"
)

// Draw uses the global random sources of both rand packages.
func Draw(xs []int) int {
	r := randv2.New(randv2.NewPCG(1, 2))                                    // constructors: fine
	_ = rand.New(rand.NewSource(1))                                         // constructors: fine
	_ = r.IntN(10)                                                          // a method on a seeded *Rand: fine
	randv2.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] }) // want rand
	_ = randv2.N(10)                                                        // want rand: generic
	_ = rand.Int63()                                                        // want rand
	return randv2.IntN(3)                                                   // want rand
}
