//go:build unix

package target

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// setGroup makes cmd the leader of a new process group, so that a signal to
// the group reaches everything it starts (a "go run" and the program it
// builds, a shell and its children) unless they leave the group themselves.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to process group pgid; a group that is gone is not
// an error.
func signalGroup(pgid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to process group %d: %w", sig, pgid, err)
	}
	return nil
}

func killGroup(pgid int) error { return signalGroup(pgid, syscall.SIGKILL) }

// groupAlive reports whether any live process of group pgid is left. A
// killed process whose parent has gone stays a zombie until init reaps it
// (and in a container, PID 1 may never reap it); a zombie runs nothing and
// holds nothing open, so where /proc tells, zombies do not count.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range ents {
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces, so
		// parse after the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// Proc is one incarnation of one instance slot.
type Proc struct {
	// Slot is the instance number (ONCEPROOF_INSTANCE); a restart keeps it.
	Slot int
	// Incarnation counts the starts of Slot, from 1.
	Incarnation int
	// Pid is the process id, which is also its process group id.
	Pid     int
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	files   []*os.File
}

// Exited reports whether the process has exited (and was reaped).
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Supervisor starts, signals and stops the instances of a user's command.
// Every instance is its own process group; Close leaves none behind.
type Supervisor struct {
	// Argv builds the command line of an instance slot.
	Argv func(slot int) ([]string, error)
	// Env is added to the environment of an instance slot.
	Env func(slot int) []string
	// Dir receives instance-<slot>.stdout and .stderr, appended to by
	// every incarnation with a header line.
	Dir string
	// Grace is how long Terminate waits after SIGTERM before SIGKILL.
	Grace time.Duration
	// Exited, when set, is called (on a goroutine of the supervisor's)
	// when an incarnation exits.
	Exited func(p *Proc, err error)

	mu      sync.Mutex
	current map[int]*Proc
	all     []*Proc
	closed  bool
}

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("supervisor closed")

// Start starts a new incarnation of slot. A slot whose current incarnation
// is still running is an error.
func (s *Supervisor) Start(slot int) (*Proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.current == nil {
		s.current = map[int]*Proc{}
	}
	prev := s.current[slot]
	if prev != nil && !prev.Exited() {
		return nil, fmt.Errorf("instance %d is still running (pid %d)", slot, prev.Pid)
	}
	argv, err := s.Argv(slot)
	if err != nil {
		return nil, err
	}
	p := &Proc{Slot: slot, Incarnation: 1, done: make(chan struct{})}
	if prev != nil {
		p.Incarnation = prev.Incarnation + 1
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	setGroup(cmd)
	cmd.Env = append(os.Environ(), s.Env(slot)...)
	for _, ext := range []string{"stdout", "stderr"} {
		f, err := os.OpenFile(filepath.Join(s.Dir, fmt.Sprintf("instance-%d.%s", slot, ext)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			p.closeFiles()
			return nil, fmt.Errorf("instance %d: %w", slot, err)
		}
		fmt.Fprintf(f, "=== onceproof: instance %d, incarnation %d, started %s\n", slot, p.Incarnation, time.Now().UTC().Format(time.RFC3339Nano))
		p.files = append(p.files, f)
	}
	cmd.Stdout, cmd.Stderr = p.files[0], p.files[1]
	if err := cmd.Start(); err != nil {
		p.closeFiles()
		return nil, fmt.Errorf("start instance %d: %w", slot, err)
	}
	p.cmd, p.Pid = cmd, cmd.Process.Pid
	s.current[slot] = p
	s.all = append(s.all, p)
	go func() {
		p.waitErr = cmd.Wait()
		p.closeFiles()
		close(p.done)
		if s.Exited != nil {
			s.Exited(p, p.waitErr)
		}
	}()
	return p, nil
}

func (p *Proc) closeFiles() {
	for _, f := range p.files {
		f.Close()
	}
}

// Current returns slot's latest incarnation, or nil.
func (s *Supervisor) Current(slot int) *Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current[slot]
}

// Running reports whether slot's latest incarnation is running.
func (s *Supervisor) Running(slot int) bool {
	p := s.Current(slot)
	return p != nil && !p.Exited()
}

// Signal sends sig to the process group of slot's running incarnation. It
// returns false if none is running.
func (s *Supervisor) Signal(slot int, sig syscall.Signal) (bool, error) {
	p := s.Current(slot)
	if p == nil || p.Exited() {
		return false, nil
	}
	return true, signalGroup(p.Pid, sig)
}

// Kill sends SIGKILL to slot's process group and waits for it to exit.
func (s *Supervisor) Kill(slot int) (bool, error) {
	p := s.Current(slot)
	if p == nil || p.Exited() {
		return false, nil
	}
	if err := killGroup(p.Pid); err != nil {
		return true, err
	}
	<-p.done
	return true, nil
}

// Terminate stops slot's running incarnation: SIGTERM (and SIGCONT, so that
// a paused one can act on it) to its group, then SIGKILL after Grace.
func (s *Supervisor) Terminate(slot int) (bool, error) {
	p := s.Current(slot)
	if p == nil || p.Exited() {
		return false, nil
	}
	return true, s.terminate(p)
}

func (s *Supervisor) terminate(p *Proc) error {
	err := signalGroup(p.Pid, syscall.SIGTERM)
	if cerr := signalGroup(p.Pid, syscall.SIGCONT); err == nil {
		err = cerr
	}
	t := time.NewTimer(s.Grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	}
	// The leader may have exited and left children in its group: the
	// group is killed either way.
	if kerr := killGroup(p.Pid); err == nil {
		err = kerr
	}
	<-p.done
	return err
}

// Close stops every incarnation that may still have a process: running ones
// get SIGTERM and, after Grace, SIGKILL; groups whose leader already exited
// get SIGKILL. After Close, Start fails and no process group the supervisor
// started has a member left (unless a process left its group itself).
func (s *Supervisor) Close() error {
	s.mu.Lock()
	s.closed = true
	all := append([]*Proc(nil), s.all...)
	s.mu.Unlock()
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, p := range all {
		if p.Exited() {
			if err := killGroup(p.Pid); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.terminate(p); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Procs returns every incarnation started, in start order.
func (s *Supervisor) Procs() []*Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Proc(nil), s.all...)
}
