package sim

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// ProcID names a process within one world. IDs are dense, from 0, in the order
// processes were spawned.
type ProcID int

// Program is the code a process runs. A new Program is made at every start, so
// a restart begins with empty memory; only the process's local disk (its
// synced part) and the durable store carry anything across a kill.
type Program interface {
	// Start runs when the process starts or restarts.
	Start(p *Proc)
	// Receive delivers a message that arrived on the link from peer.
	Receive(from ProcID, msg any)
	// LinkDown reports that the connection to peer broke: a partition, or
	// the peer died. Messages that were in flight on it are lost.
	LinkDown(peer ProcID)
	// Writable reports that the link to peer, which refused a Send with
	// ErrBackpressure, has room again.
	Writable(peer ProcID)
}

// Crasher is implemented by programs that hold resources (an open pebble DB,
// say) that must be released when the process is killed. Crashed must not do
// anything a crash would not: no flushing, no syncing, no messages.
type Crasher interface {
	Crashed()
}

// Resumer is implemented by programs that want to know they were paused:
// Resumed runs when the process wakes, before anything it was owed. A
// process that finds it was gone too long can stand down before it acts
// as a zombie.
type Resumer interface {
	Resumed()
}

// Proc is a simulated process: a worker or the coordinator. Killing it loses
// its memory, its timers, its in-flight messages and the unsynced part of its
// disk; its incarnation number goes up, so callbacks meant for the old
// incarnation are dropped.
type Proc struct {
	w       *World
	id      ProcID
	name    string
	factory func(p *Proc) Program
	prog    Program
	inc     uint64
	alive   bool
	paused  bool
	held    []func()
	disk    *vfs.MemFS
	onFail  func(p *Proc, reason string)
	crashes int
}

// Spawn creates a process named name that runs the program made by factory,
// and starts it at the current time.
func (w *World) Spawn(name string, factory func(p *Proc) Program) *Proc {
	p := &Proc{w: w, id: ProcID(len(w.procs)), name: name, factory: factory, disk: vfs.NewCrashableMem()}
	w.procs = append(w.procs, p)
	w.net.grow(len(w.procs))
	w.Record(Event{Kind: EventSpawn, Proc: name})
	w.At(w.now, func() { w.start(p) })
	return p
}

// Procs returns every process, in ID order.
func (w *World) Procs() []*Proc { return w.procs }

// Proc returns the process with the given ID.
func (w *World) Proc(id ProcID) *Proc { return w.procs[id] }

func (w *World) start(p *Proc) {
	if p.alive {
		return
	}
	p.alive = true
	p.prog = p.factory(p)
	w.Record(Event{Kind: EventStart, Proc: p.name, N: int64(p.inc)})
	p.prog.Start(p)
}

// Kill kills p now: its memory, timers and in-flight messages are lost, its
// links break (peers see LinkDown) and its disk keeps only synced data. It
// stays dead until Restart.
func (w *World) Kill(p *Proc, reason string) {
	if !p.alive {
		return
	}
	w.Record(Event{Kind: EventKill, Proc: p.name, N: int64(p.inc), Detail: reason})
	p.alive = false
	p.paused = false
	p.held = nil
	p.inc++
	p.crashes++
	w.net.breakAll(p.id)
	// Keep exactly what was synced. The clone is taken before the program
	// releases its resources, so nothing it does while closing can leak into
	// what survives.
	p.disk = p.disk.CrashClone(vfs.CrashCloneCfg{})
	if c, ok := p.prog.(Crasher); ok {
		c.Crashed()
	}
	p.prog = nil
}

// Restart starts a dead process again, with a fresh Program.
func (w *World) Restart(p *Proc) {
	if p.alive {
		return
	}
	w.start(p)
}

// KillFor kills p and restarts it after d.
func (w *World) KillFor(p *Proc, reason string, d time.Duration) {
	w.Kill(p, reason)
	inc := p.inc
	w.After(d, func() {
		if p.inc == inc {
			w.Restart(p)
		}
	})
}

// Pause freezes p without killing it, as a long GC pause or a stopped VM
// would: nothing it is owed (timers, messages, Kafka responses) runs until
// Resume, and its links stay up, so senders fill its buffers. When it wakes,
// it carries on as if nothing happened: a zombie if the world moved on.
func (w *World) Pause(p *Proc) {
	if !p.alive || p.paused {
		return
	}
	w.Record(Event{Kind: EventPause, Proc: p.name, N: int64(p.inc)})
	p.paused = true
}

// Resume wakes a paused process and runs what it was owed, in order.
func (w *World) Resume(p *Proc) {
	if !p.alive || !p.paused {
		return
	}
	w.Record(Event{Kind: EventResume, Proc: p.name, N: int64(p.inc), M: int64(len(p.held))})
	p.paused = false
	if r, ok := p.prog.(Resumer); ok {
		r.Resumed()
	}
	held := p.held
	p.held = nil
	inc := p.inc
	for _, fn := range held {
		w.At(w.now, func() {
			if p.inc == inc {
				p.run(fn)
			}
		})
	}
}

// run runs fn on behalf of p's current incarnation, or holds it if p is
// paused.
func (p *Proc) run(fn func()) {
	if !p.alive {
		return
	}
	if p.paused {
		p.held = append(p.held, fn)
		return
	}
	fn()
}

// Guard returns fn wrapped so that it runs only if p is still in the same
// incarnation when it is called, and waits for Resume if p is paused. Every
// callback into a program goes through it.
func (p *Proc) Guard(fn func()) func() {
	inc := p.inc
	return func() {
		if p.inc == inc {
			p.run(fn)
		}
	}
}

// After runs fn after d, unless p dies first.
func (p *Proc) After(d time.Duration, fn func()) { p.w.After(d, p.Guard(fn)) }

// Send sends msg to the process to over their link. It returns ErrLinkDown if
// there is no connection (the peer is dead or the link is cut) and
// ErrBackpressure if the link's buffer is full; the program then waits for
// Writable.
func (p *Proc) Send(to ProcID, msg any) error { return p.w.net.send(p.id, to, msg) }

// Disconnect closes p's connection to peer, as a process that gives up on
// a peer closes its socket: what is in flight either way is lost, both ends
// see LinkDown, and the next Send opens a new connection.
func (p *Proc) Disconnect(peer ProcID) { p.w.net.breakConn(p.id, peer) }

// Fail reports that the program hit an error it cannot handle. The world's
// failure handler decides what happens; by default the process is killed and
// restarted after 50ms.
func (p *Proc) Fail(reason string) {
	if p.onFail != nil {
		p.onFail(p, reason)
		return
	}
	p.w.KillFor(p, "failed: "+reason, 50*time.Millisecond)
}

// OnFail replaces p's failure handler.
func (p *Proc) OnFail(fn func(p *Proc, reason string)) { p.onFail = fn }

// Tracef records a trace line prefixed with the process's name.
func (p *Proc) Tracef(format string, args ...any) {
	p.Record(Event{Kind: EventNote, Detail: fmt.Sprintf(format, args...)})
}

// Record records e in the trace as the process's own: Proc is its name.
func (p *Proc) Record(e Event) {
	e.Proc = p.name
	p.w.Record(e)
}

// ID is the process's ID.
func (p *Proc) ID() ProcID { return p.id }

// Name is the process's name.
func (p *Proc) Name() string { return p.name }

// World is the world p lives in.
func (p *Proc) World() *World { return p.w }

// Alive reports whether p is running (paused counts as alive).
func (p *Proc) Alive() bool { return p.alive }

// Paused reports whether p is paused.
func (p *Proc) Paused() bool { return p.paused }

// Incarnation counts p's kills: it changes exactly when p loses its memory.
func (p *Proc) Incarnation() uint64 { return p.inc }

// Crashes is the number of times p was killed.
func (p *Proc) Crashes() int { return p.crashes }

// Disk is p's local disk. After a kill it holds only what was synced.
func (p *Proc) Disk() vfs.FS { return p.disk }
