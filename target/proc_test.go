//go:build unix

package target

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSupervisorLeavesNoProcess starts instances that ignore SIGTERM and
// start children of their own (one stopped with SIGSTOP, one whose leader
// has already exited), and checks that after Close no process of any of
// their groups is left.
func TestSupervisorLeavesNoProcess(t *testing.T) {
	dir := t.TempDir()
	scripts := map[int]string{
		// Ignores SIGTERM, as do its children, and hangs.
		0: `trap "" TERM; sleep 300 & sleep 300 & echo ready; wait`,
		// Leaves a child behind and exits.
		1: `trap "" TERM; sleep 300 & echo ready; exit 0`,
		// Hangs, and is paused below.
		2: `sleep 300 & echo ready; wait`,
	}
	s := &Supervisor{
		Dir:   dir,
		Grace: 300 * time.Millisecond,
		Argv:  func(slot int) ([]string, error) { return []string{"sh", "-c", scripts[slot]}, nil },
		Env:   func(slot int) []string { return []string{"ONCEPROOF_INSTANCE=" + strconv.Itoa(slot)} },
	}
	var pgids []int
	for slot := range 3 {
		p, err := s.Start(slot)
		if err != nil {
			t.Fatal(err)
		}
		pgids = append(pgids, p.Pid)
	}
	// Wait until every script has started its children.
	for slot := range 3 {
		deadline := time.Now().Add(5 * time.Second)
		for {
			out, _ := os.ReadFile(filepath.Join(dir, "instance-"+strconv.Itoa(slot)+".stdout"))
			if strings.Contains(string(out), "ready") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d did not start: %q", slot, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, err := s.Signal(2, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(0); err == nil {
		t.Error("Start of a running slot: no error")
	}
	// Restarting a slot keeps its logs, with one header per incarnation.
	if ok, err := s.Kill(0); !ok || err != nil {
		t.Fatalf("Kill: %v %v", ok, err)
	}
	if p, err := s.Start(0); err != nil || p.Incarnation != 2 {
		t.Fatalf("restart: %+v %v", p, err)
	} else {
		pgids = append(pgids, p.Pid)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v, want about the 300ms grace", d)
	}
	for _, g := range pgids {
		deadline := time.Now().Add(2 * time.Second)
		for groupAlive(g) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // SIGKILL is delivered asynchronously
		}
		if groupAlive(g) {
			t.Errorf("process group %d still has a member after Close", g)
			killGroup(g)
		}
	}
	if _, err := s.Start(1); err == nil {
		t.Error("Start after Close: no error")
	}
	out, _ := os.ReadFile(filepath.Join(dir, "instance-0.stdout"))
	if n := strings.Count(string(out), "=== onceproof: instance 0, incarnation"); n != 2 {
		t.Errorf("instance-0.stdout has %d incarnation headers, want 2:\n%s", n, out)
	}
}

func TestSubstitute(t *testing.T) {
	got, err := Substitute([]string{"--b={{.Brokers}}", "{{.InputTopic}}:{{.OutputTopic}}", "{{.Group}}", "{{.TxnPrefix}}x", "{{.Instance}}", "plain"},
		Vars{Brokers: "h:1,h:2", InputTopic: "in", OutputTopic: "out", Group: "g", TxnPrefix: "t-1-", Instance: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--b=h:1,h:2", "in:out", "g", "t-1-x", "1", "plain"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"{{.Broker}}", "{{.Brokers"} {
		if err := CheckCommand([]string{"x", bad}); err == nil || !strings.Contains(err.Error(), "known: {{.Brokers}}") {
			t.Errorf("CheckCommand(%q): got %v, want an error naming the known substitutions", bad, err)
		}
	}
	if err := CheckCommand(nil); err == nil {
		t.Error("CheckCommand(nil): no error")
	}
}
