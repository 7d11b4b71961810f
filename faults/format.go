package faults

import (
	"fmt"
	"strings"
	"time"
)

// String returns one line per fault, for the start of a run and for failure
// bundles, or "no faults".
func (p Plan) String() string {
	if len(p.Faults) == 0 {
		return "no faults"
	}
	lines := make([]string, len(p.Faults))
	for i, f := range p.Faults {
		lines[i] = f.String()
	}
	return strings.Join(lines, "\n")
}

// String describes the fault in one line: "at 150ms: kill w1 (restart after
// 200ms)". A name, if any, follows in brackets.
func (f Fault) String() string {
	s := f.Trigger.String() + ": " + f.Action.String()
	if f.Name != "" {
		s += " [" + f.Name + "]"
	}
	return s
}

// String describes the trigger: "at 150ms", "at checkpoint 3
// metadata-written", "at checkpoint 2 barrier-received on sink/0", "after
// 2nd EndTxn".
func (t Trigger) String() string {
	var parts []string
	if t.At != nil {
		parts = append(parts, "at "+t.At.String())
	}
	if ph := t.Phase; ph != nil {
		s := fmt.Sprintf("at checkpoint %d %s", ph.Checkpoint, ph.Phase)
		if ph.Task != "" {
			s += " on " + ph.Task
		}
		parts = append(parts, s)
	}
	if rt := t.AfterRequests; rt != nil {
		parts = append(parts, fmt.Sprintf("after %s %s", ordinal(rt.Count), rt.Kind))
	}
	if len(parts) == 0 {
		return "never (no trigger)"
	}
	return strings.Join(parts, " and ")
}

// String describes the action: "kill w1 (restart after 200ms)", "drop
// response of EndTxn".
func (a Action) String() string {
	var s string
	switch a.Kind {
	case KillWorker:
		s = "kill " + a.Worker + restart(a.Duration)
	case KillCoordinator:
		s = "kill " + Coordinator + restart(a.Duration)
	case PauseWorker:
		s = "pause " + a.Worker + lasting(a.Duration)
	case Partition:
		s = "partition " + a.Worker + "|" + a.Peer + lasting(a.Duration)
	case PartitionOneWay:
		s = "cut " + a.Worker + "->" + a.Peer + lasting(a.Duration)
	case Isolate:
		s = "isolate " + a.Worker + lasting(a.Duration)
	case SlowLink:
		s = "slow " + a.Worker + "|" + a.Peer + " by +" + a.Extra.String() + lasting(a.Duration)
	case KafkaError:
		s = "fail " + a.Request + " with " + a.Error + times(a.Count)
	case DropRequest:
		s = "drop request of " + a.Request + times(a.Count)
	case DropResponse:
		s = "drop response of " + a.Request + times(a.Count)
	case RestartBroker:
		s = "restart broker"
	case ExpireTxn:
		if a.TxnID == "" {
			s = "expire the sink's current transaction"
		} else {
			s = "expire transaction " + a.TxnID
		}
	case DiskCrash:
		s = "crash " + a.Worker + " losing unsynced disk data" + restart(a.Duration)
	case DiskReadError:
		s = "fail disk reads on " + a.Worker + times(a.Count)
		if a.Percent != 0 {
			s += fmt.Sprintf(" with probability %d%%", a.Percent)
		}
	case StorageWriteFail:
		s = "fail checkpoint storage writes" + times(a.Count)
	case StorageSlow:
		s = "slow checkpoint storage by +" + a.Extra.String() + lasting(a.Duration)
	case CorruptCheckpoint:
		s = "corrupt checkpoint object " + a.Object
	case DeleteCheckpointFile:
		s = "delete checkpoint object " + a.Object
	case DropMessage:
		s = "drop " + a.messages() + times(max(a.Count, 1))
	case DelayMessage:
		s = "delay " + a.messages() + " by " + a.Extra.String() + times(max(a.Count, 1))
	case DuplicateMessage:
		s = "duplicate " + a.messages()
		if a.Extra > 0 {
			s += ", the copy " + a.Extra.String() + " later"
		}
		s += times(max(a.Count, 1))
	default:
		return fmt.Sprintf("unknown action %q", a.Kind)
	}
	return s
}

// messages describes the control messages a message fault chooses:
// "notify-complete message of checkpoint 3 from coordinator to sink/0".
func (a Action) messages() string {
	s := "any control message"
	if a.Message != "" {
		s = a.Message + " message"
	}
	if a.Checkpoint != 0 {
		s += fmt.Sprintf(" of checkpoint %d", a.Checkpoint)
	}
	if a.From != "" {
		s += " from " + a.From
	}
	if a.To != "" {
		s += " to " + a.To
	}
	return s
}

func restart(d time.Duration) string {
	if d == 0 {
		return " (no restart until healed)"
	}
	return " (restart after " + d.String() + ")"
}

func lasting(d time.Duration) string {
	if d == 0 {
		return " until healed"
	}
	return " for " + d.String()
}

func times(n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(" (%d times)", n)
}

// ordinal spells n as "1st", "2nd", "3rd", "4th", "11th", "21st".
func ordinal(n int) string {
	suffix := "th"
	if n%100 < 11 || n%100 > 13 {
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
