package sim

import (
	"errors"
	"fmt"
	"time"
)

// ErrLinkDown is returned by Send when there is no connection to the peer.
var ErrLinkDown = errors.New("sim: link down")

// ErrBackpressure is returned by Send when the link's buffer is full.
var ErrBackpressure = errors.New("sim: link buffer full")

// Network is the set of links between processes. A link behaves like a TCP
// connection: FIFO and reliable while it is up, with a latency drawn per
// message and a bounded number of messages in flight per direction. A cut or
// the death of either end breaks the connection: what was in flight is lost
// and both ends see LinkDown. The next Send opens a new connection, if the
// link is not cut.
//
// Where it differs from TCP: there is no connect handshake or timeout; a send
// to a dead or cut peer fails at once rather than after a retransmission
// timeout. Programs that need failure detection by silence use their own
// timers.
type Network struct {
	w     *World
	n     int
	conns []*conn         // index a*n+b with a < b; nil when not connected
	cut   []bool          // index from*n+to: messages from -> to cannot pass
	slow  []time.Duration // index a*n+b with a < b: extra latency both ways
	gen   uint64
}

// conn is one connection; gen tells a message in flight whether the
// connection it was sent on still exists.
type conn struct {
	gen  uint64
	dirs [2]direction // [0]: lower ID to higher, [1]: the other way
}

type direction struct {
	inflight int
	lastAt   Time
	refused  bool
}

func newNetwork(w *World) *Network { return &Network{w: w} }

// grow resizes the link tables for n processes, keeping existing entries.
func (nw *Network) grow(n int) {
	conns := make([]*conn, n*n)
	cut := make([]bool, n*n)
	slow := make([]time.Duration, n*n)
	for a := 0; a < nw.n; a++ {
		for b := 0; b < nw.n; b++ {
			conns[a*n+b] = nw.conns[a*nw.n+b]
			cut[a*n+b] = nw.cut[a*nw.n+b]
			slow[a*n+b] = nw.slow[a*nw.n+b]
		}
	}
	nw.n, nw.conns, nw.cut, nw.slow = n, conns, cut, slow
}

func (nw *Network) pair(a, b ProcID) (int, int) {
	if a > b {
		return int(b)*nw.n + int(a), 1
	}
	return int(a)*nw.n + int(b), 0
}

func (nw *Network) send(from, to ProcID, msg any) error {
	w := nw.w
	src, dst := w.procs[from], w.procs[to]
	if from == to {
		return fmt.Errorf("sim: %s sends to itself", src.name)
	}
	if !src.alive || !dst.alive || nw.cut[int(from)*nw.n+int(to)] {
		return ErrLinkDown
	}
	idx, dir := nw.pair(from, to)
	c := nw.conns[idx]
	if c == nil {
		nw.gen++
		c = &conn{gen: nw.gen}
		nw.conns[idx] = c
	}
	d := &c.dirs[dir]
	if d.inflight >= w.cfg.LinkBufferMessages {
		d.refused = true
		return ErrBackpressure
	}
	at := w.now.Add(w.cfg.LinkLatency.Draw(w.Rand("net")) + nw.slow[idx])
	if at < d.lastAt {
		at = d.lastAt // FIFO: never overtake the previous message
	}
	d.lastAt = at
	d.inflight++
	dstInc := dst.inc
	w.At(at, func() {
		if nw.conns[idx] != c || dst.inc != dstInc {
			return // the connection broke: the message is lost
		}
		dst.run(func() {
			if nw.conns[idx] != c {
				return
			}
			d.inflight--
			if d.refused {
				d.refused = false
				src.run(func() { src.prog.Writable(to) })
			}
			dst.prog.Receive(from, msg)
		})
	})
	return nil
}

// breakConn breaks the connection between a and b, if there is one, and tells
// both ends that are alive.
func (nw *Network) breakConn(a, b ProcID) {
	idx, _ := nw.pair(a, b)
	if nw.conns[idx] == nil {
		return
	}
	nw.conns[idx] = nil
	w := nw.w
	w.Record(Event{Kind: EventLinkBroken, Proc: w.procs[a].name, Peer: w.procs[b].name})
	for _, end := range [2][2]ProcID{{a, b}, {b, a}} {
		p, peer := w.procs[end[0]], end[1]
		if p.alive {
			w.At(w.now, p.Guard(func() { p.prog.LinkDown(peer) }))
		}
	}
}

func (nw *Network) breakAll(id ProcID) {
	for other := 0; other < nw.n; other++ {
		if ProcID(other) != id {
			nw.breakConn(id, ProcID(other))
		}
	}
}

// Partition cuts the link between a and b in both directions until Heal.
func (nw *Network) Partition(a, b ProcID) {
	nw.w.Record(Event{Kind: EventPartition, Proc: nw.w.procs[a].name, Peer: nw.w.procs[b].name})
	nw.cut[int(a)*nw.n+int(b)] = true
	nw.cut[int(b)*nw.n+int(a)] = true
	nw.breakConn(a, b)
}

// CutOneWay stops messages from -> to until Heal. A TCP connection cannot
// carry data one way only for long, so the connection breaks (both ends see
// it); what remains one-way is that to can still open a connection and send
// to from, while from cannot reach to.
func (nw *Network) CutOneWay(from, to ProcID) {
	nw.w.Record(Event{Kind: EventCut, Proc: nw.w.procs[from].name, Peer: nw.w.procs[to].name})
	nw.cut[int(from)*nw.n+int(to)] = true
	nw.breakConn(from, to)
}

// Isolate cuts every link of p.
func (nw *Network) Isolate(p ProcID) {
	for other := 0; other < nw.n; other++ {
		if ProcID(other) != p {
			nw.Partition(p, ProcID(other))
		}
	}
}

// Heal removes every cut between a and b.
func (nw *Network) Heal(a, b ProcID) {
	if nw.cut[int(a)*nw.n+int(b)] || nw.cut[int(b)*nw.n+int(a)] {
		nw.w.Record(Event{Kind: EventHeal, Proc: nw.w.procs[a].name, Peer: nw.w.procs[b].name})
	}
	nw.cut[int(a)*nw.n+int(b)] = false
	nw.cut[int(b)*nw.n+int(a)] = false
}

// HealAll removes every cut and every slowdown.
func (nw *Network) HealAll() {
	for a := 0; a < nw.n; a++ {
		for b := a + 1; b < nw.n; b++ {
			nw.Heal(ProcID(a), ProcID(b))
			nw.Slow(ProcID(a), ProcID(b), 0)
		}
	}
}

// Slow adds extra to the latency of every message between a and b (0 undoes
// it).
func (nw *Network) Slow(a, b ProcID, extra time.Duration) {
	idx, _ := nw.pair(a, b)
	if nw.slow[idx] != extra {
		nw.w.Record(Event{Kind: EventSlow, Proc: nw.w.procs[a].name, Peer: nw.w.procs[b].name, Dur: extra})
	}
	nw.slow[idx] = extra
}

// Connected reports whether messages can currently pass from -> to.
func (nw *Network) Connected(from, to ProcID) bool {
	return nw.w.procs[from].alive && nw.w.procs[to].alive && !nw.cut[int(from)*nw.n+int(to)]
}
