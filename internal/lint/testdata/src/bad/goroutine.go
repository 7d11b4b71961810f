// Package bad plants violations of every determinism rule so that
// TestLintCatchesViolations can prove the analyzer is able to fail. A trailing
// "want" comment names the rule each line must trip.
package bad

// Spawn starts a goroutine and waits on whichever channel is ready first.
func Spawn(a, b chan int) int {
	done := make(chan struct{})
	go func() { close(done) }() // want go
	<-done
	select { // want select
	case v := <-a:
		return v
	case v := <-b:
		return v
	}
}
