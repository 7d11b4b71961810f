package bad

import clock "time"

// Elapsed reads the wall clock through an aliased import.
func Elapsed(start clock.Time) clock.Duration {
	now := clock.Now()   // want time
	_ = now.After(start) // a method on Time, not the wall clock: fine
	sleep := clock.Sleep // want time: a reference, not a call
	sleep(clock.Millisecond)
	return clock.Since(start) // want time
}
