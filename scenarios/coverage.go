package scenarios

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/sim"
)

// Coverage is what a sweep's faults reached: which fault kinds hit which
// roles at which moment of the checkpoint protocol, and which control
// messages the message faults caught. A fault plan whose faults all land
// on the same cell tries one schedule many times; a gap in the grid is a
// kind of bug no run looked for.
//
// A run's cells are keys "phase|kind|role" and "message|type|action":
//   - phase is the last checkpoint phase the run reached before the fault
//     fired ("start" before the first), kind the fault's kind, role what it
//     hit: "coordinator", "source", "operator" or "sink" (the roles of the
//     tasks on the worker it hit, one cell each), "broker", "storage";
//   - type is a control message's type and action what a message fault did
//     to it.

// PhaseStart is the phase of a fault that fired before any checkpoint phase.
const PhaseStart = "start"

// coverageOf lists the cells a run reached, sorted, each once.
func coverageOf(job *engine.Job, events []sim.Event, fired []faultFired) []string {
	set := map[string]bool{}
	phase := PhaseStart
	roles := map[string][]string{} // worker -> roles of its tasks
	next := 0
	for _, e := range events {
		switch e.Kind {
		case sim.EventProtocol:
			if e.Phase.Valid() {
				phase = string(e.Phase)
			}
		case sim.EventDeploy:
			roles = placementRoles(job, e.Detail)
		case sim.EventMessageFault:
			set["message|"+e.Name+"|"+e.Op] = true
		case sim.EventFaultFired:
			for next < len(fired) && fired[next].index != int(e.N) {
				next++
			}
			if next == len(fired) {
				continue
			}
			a := fired[next].action
			for _, r := range hitRoles(job, a, roles) {
				set[phase+"|"+string(a.Kind)+"|"+r] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set { // lint:sorted sorted below
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type faultFired struct {
	index  int
	action faults.Action
}

// placementRoles reads a deploy's placement, "src/0@w0 count/0@w1 ...",
// into the roles each worker hosts.
func placementRoles(job *engine.Job, placement string) map[string][]string {
	out := map[string][]string{}
	for _, f := range strings.Fields(placement) {
		task, worker, ok := strings.Cut(f, "@")
		vertex, _, _ := strings.Cut(task, "/")
		if !ok {
			continue
		}
		for _, v := range job.Vertices {
			if v.Name == vertex {
				if r := vertexRole(v); !slices.Contains(out[worker], r) {
					out[worker] = append(out[worker], r)
				}
			}
		}
	}
	return out
}

func vertexRole(v *engine.Vertex) string {
	switch v.Kind {
	case engine.SourceVertex:
		return "source"
	case engine.SinkVertex:
		return "sink"
	}
	return "operator"
}

// hitRoles names what a fault hits.
func hitRoles(job *engine.Job, a faults.Action, roles map[string][]string) []string {
	proc := func(name string) []string {
		if name == faults.Coordinator {
			return []string{"coordinator"}
		}
		return roles[name]
	}
	switch a.Kind {
	case faults.KillCoordinator:
		return []string{"coordinator"}
	case faults.KafkaError, faults.DropRequest, faults.DropResponse:
		switch a.Request {
		case "Fetch":
			return []string{"source"}
		case "Produce", "EndTxn", "InitProducerID", "AddPartitionsToTxn":
			return []string{"sink"}
		}
		return []string{"broker"}
	case faults.RestartBroker:
		return []string{"broker"}
	case faults.ExpireTxn:
		return []string{"sink"}
	case faults.StorageWriteFail, faults.StorageSlow, faults.CorruptCheckpoint, faults.DeleteCheckpointFile:
		return []string{"storage"}
	case faults.DropMessage, faults.DelayMessage, faults.DuplicateMessage:
		if a.To == "" || a.To == faults.Coordinator || a.To == "executor" {
			return []string{"coordinator"}
		}
		vertex, _, _ := strings.Cut(a.To, "/")
		for _, v := range job.Vertices {
			if v.Name == vertex {
				return []string{vertexRole(v)}
			}
		}
		return nil
	}
	out := slices.Clone(proc(a.Worker))
	if a.Peer != "" {
		for _, r := range proc(a.Peer) {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// coverageRoles are the roles a fault can hit, in print order.
var coverageRoles = []string{"coordinator", "source", "operator", "sink", "broker", "storage"}

// CoverageGrid counts, over runs, the runs that reached each cell.
type CoverageGrid map[string]int

// CoverageOfSummary adds up the cells of every run of s.
func CoverageOfSummary(s *SweepSummary) CoverageGrid {
	g := CoverageGrid{}
	for _, r := range s.Runs {
		for _, c := range r.Coverage {
			g[c]++
		}
	}
	return g
}

// WriteCoverage prints the (phase x fault kind) grid, counting runs over
// every role, the (message type x action) grid and the cells not reached.
func WriteCoverage(w io.Writer, g CoverageGrid) error {
	phases := append([]string{PhaseStart}, phaseNames()...)
	kinds := faults.AllKinds()
	byPhaseKind, byKindRole := map[string]int{}, map[string]int{}
	for cell, n := range g { // lint:sorted sums only; printed in a fixed order
		parts := strings.Split(cell, "|")
		if len(parts) != 3 || parts[0] == "message" {
			continue
		}
		byPhaseKind[parts[0]+"|"+parts[1]] += n
		byKindRole[parts[1]+"|"+parts[2]] += n
	}
	tw := tabwriter.NewWriter(w, 0, 2, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "faults fired, by the checkpoint phase the run was in (runs; . = not reached):")
	fmt.Fprint(tw, "\t")
	for _, p := range phases {
		fmt.Fprintf(tw, "%s\t", shortPhase[p])
	}
	fmt.Fprintln(tw)
	gaps := map[string][]string{} // kind or "message TYPE" -> what it did not reach
	var gapKeys []string
	gap := func(key, what string) {
		if len(gaps[key]) == 0 {
			gapKeys = append(gapKeys, key)
		}
		gaps[key] = append(gaps[key], what)
	}
	for _, k := range kinds {
		fmt.Fprintf(tw, "%s\t", k)
		for _, p := range phases {
			key := p + "|" + string(k)
			switch n := byPhaseKind[key]; {
			case n > 0:
				fmt.Fprintf(tw, "%d\t", n)
			default:
				fmt.Fprint(tw, ".\t")
				gap(string(k), shortPhase[p])
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var legend []string
	for _, p := range phases {
		legend = append(legend, shortPhase[p]+"="+p)
	}
	fmt.Fprintf(w, "(%s)\n", strings.Join(legend, " "))
	fmt.Fprintln(w, "\nthe roles each kind hit (runs, summed over phases):")
	for _, k := range kinds {
		var hit []string
		for _, r := range coverageRoles {
			if n := byKindRole[string(k)+"|"+r]; n > 0 {
				hit = append(hit, fmt.Sprintf("%s %d", r, n))
			}
		}
		if len(hit) == 0 {
			hit = []string{"none"}
		}
		fmt.Fprintf(w, "  %-24s %s\n", k, strings.Join(hit, ", "))
	}
	fmt.Fprintln(w, "\ncontrol messages hit by message faults (runs):")
	tw = tabwriter.NewWriter(w, 0, 2, 1, ' ', tabwriter.AlignRight)
	actions := []string{"drop", "delay", "duplicate"}
	fmt.Fprintf(tw, "\t%s\t\n", strings.Join(actions, "\t"))
	for _, t := range faults.ControlMessages() {
		fmt.Fprintf(tw, "%s\t", t)
		for _, a := range actions {
			if n := g["message|"+t+"|"+a]; n > 0 {
				fmt.Fprintf(tw, "%d\t", n)
			} else {
				fmt.Fprint(tw, ".\t")
				gap("message "+t, a)
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	n := 0
	for _, g := range gaps { // lint:sorted a count
		n += len(g)
	}
	fmt.Fprintf(w, "\n%d cells not reached\n", n)
	for _, k := range gapKeys {
		fmt.Fprintf(w, "  %-24s %s\n", k, strings.Join(gaps[k], " "))
	}
	return nil
}

func phaseNames() []string {
	var out []string
	for _, p := range protocol.Phases() {
		out = append(out, string(p))
	}
	return out
}

// shortPhase abbreviates a phase for a grid column.
var shortPhase = map[string]string{
	PhaseStart: "start", string(protocol.Triggered): "trig", string(protocol.BarrierInjected): "inj",
	string(protocol.BarrierReceived): "recv", string(protocol.Aligned): "align", string(protocol.SnapshotTaken): "snap",
	string(protocol.SnapshotDurable): "dur", string(protocol.AckSent): "ack", string(protocol.MetadataWritten): "meta",
	string(protocol.CompleteDelivered): "done", string(protocol.EndTxnSent): "etx", string(protocol.EndTxnApplied): "etxa",
}
