package engine

// msgQueue is one input channel's FIFO of messages. Popping advances a head
// index instead of reslicing, so a queue that drains and fills again reuses
// its array instead of growing a new one for every batch.
type msgQueue struct {
	buf  []StreamMsg
	head int
}

// len is the number of queued messages.
func (q *msgQueue) len() int { return len(q.buf) - q.head }

// items are the queued messages, oldest first (not to be kept: the queue
// reuses the array).
func (q *msgQueue) items() []StreamMsg { return q.buf[q.head:] }

// front is the oldest message; the queue must not be empty.
func (q *msgQueue) front() *StreamMsg { return &q.buf[q.head] }

func (q *msgQueue) push(m StreamMsg) {
	if q.head > 0 && len(q.buf) == cap(q.buf) && q.head*2 >= len(q.buf) {
		// At least half the array is consumed: slide the rest down
		// instead of growing.
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, m)
}

// pop removes the oldest message; the queue must not be empty. The slot is
// cleared so that the array does not keep a consumed record alive.
func (q *msgQueue) pop() StreamMsg {
	m := q.buf[q.head]
	q.buf[q.head] = StreamMsg{}
	q.head++
	if q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	}
	return m
}

// prepend queues ms ahead of everything queued.
func (q *msgQueue) prepend(ms []StreamMsg) {
	buf := make([]StreamMsg, 0, len(ms)+q.len())
	buf = append(append(buf, ms...), q.items()...)
	q.buf, q.head = buf, 0
}
