package engine

// timerQueue holds a task's event-time timers: a set, for membership, and a
// binary min-heap in (time, key group, key) order, for firing. Registering,
// deleting and firing one timer are O(log n) (a window operator registers
// one per window per key). Deleting only leaves the set; the heap entry is
// dropped when it comes to the top.
type timerQueue struct {
	set  map[timer]struct{}
	heap []timer
}

// len is the number of registered timers.
func (q *timerQueue) len() int { return len(q.set) }

// add registers tm; registering a registered timer again does nothing.
func (q *timerQueue) add(tm timer) {
	if q.set == nil {
		q.set = map[timer]struct{}{}
	}
	if _, ok := q.set[tm]; ok {
		return
	}
	q.set[tm] = struct{}{}
	q.heap = append(q.heap, tm)
	q.up(len(q.heap) - 1)
}

// remove deletes tm, if registered.
func (q *timerQueue) remove(tm timer) { delete(q.set, tm) }

// peek returns the earliest registered timer.
func (q *timerQueue) peek() (timer, bool) {
	for len(q.heap) > 0 {
		if _, ok := q.set[q.heap[0]]; ok {
			return q.heap[0], true
		}
		q.popHeap() // deleted, or a second entry of a timer registered again
	}
	return timer{}, false
}

// pop removes and returns the earliest registered timer; peek must have
// found one.
func (q *timerQueue) pop() timer {
	tm := q.popHeap()
	delete(q.set, tm)
	return tm
}

// sorted returns the registered timers in firing order (for a snapshot).
func (q *timerQueue) sorted() []timer {
	if len(q.set) == 0 {
		return nil
	}
	out := make([]timer, 0, len(q.set))
	for tm := range q.set { // lint:sorted sorted below
		out = append(out, tm)
	}
	sortTimers(out)
	return out
}

func (q *timerQueue) popHeap() timer {
	h := q.heap
	tm := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = timer{}
	q.heap = h[:last]
	if last > 0 {
		q.down(0)
	}
	return tm
}

func (q *timerQueue) up(i int) {
	h := q.heap
	for i > 0 {
		p := (i - 1) / 2
		if !timerLess(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *timerQueue) down(i int) {
	h := q.heap
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && timerLess(h[r], h[l]) {
			m = r
		}
		if !timerLess(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
