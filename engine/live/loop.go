package live

import (
	"sync/atomic"
)

// mailbox is a goroutine that runs closures one at a time, in the order they
// were posted. Everything that touches one task (or the coordinator) runs on
// its mailbox, because the engine's state machines are not thread-safe.
type mailbox struct {
	name string
	ch   chan func()
	// quit is closed to stop the mailbox; done is closed when its goroutine
	// has returned. Closures still queued when quit closes never run.
	quit chan struct{}
	done chan struct{}
	// after runs after every closure, on the mailbox goroutine: the task
	// environment flushes the messages the closure sent.
	after func()
	// depthMax is the most closures ever queued at once (a diagnostic: the
	// engine's credits should keep it far below the capacity).
	depthMax atomic.Int64
	stopped  atomic.Bool
}

func newMailbox(name string, size int) *mailbox {
	return &mailbox{name: name, ch: make(chan func(), size), quit: make(chan struct{}), done: make(chan struct{})}
}

// run is the mailbox goroutine. It returns when stop is called.
func (m *mailbox) run() {
	defer close(m.done)
	for {
		select {
		case <-m.quit:
			return
		case fn := <-m.ch:
			// A closure dequeued after stop must not run: the task is
			// cancelled, and the engine relies on nothing running after.
			if m.stopped.Load() {
				return
			}
			fn()
			if m.after != nil {
				m.after()
			}
		}
	}
}

// post queues fn. It blocks while the mailbox is full (backpressure) and
// drops fn once the mailbox is stopped. It reports whether fn was queued.
func (m *mailbox) post(fn func()) bool {
	if m.stopped.Load() {
		return false // without this, select could still pick the send
	}
	select {
	case m.ch <- fn:
		if d := int64(len(m.ch)); d > m.depthMax.Load() {
			m.depthMax.Store(d) // racy maximum; a diagnostic only
		}
		return true
	case <-m.quit:
		return false
	}
}

// stop makes the mailbox goroutine return after the closure it is running,
// if any. It does not wait; receive from done for that.
func (m *mailbox) stop() {
	if m.stopped.CompareAndSwap(false, true) {
		close(m.quit)
	}
}

// call runs fn on the mailbox and waits for it. It returns false, without
// running fn, if the mailbox stops first.
func (m *mailbox) call(fn func()) bool {
	ran := make(chan struct{})
	if !m.post(func() { fn(); close(ran) }) {
		return false
	}
	select {
	case <-ran:
		return true
	case <-m.done:
		select {
		case <-ran:
			return true
		default:
			return false
		}
	}
}
