package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// StateBackend holds a task's keyed state, by key group, so that a snapshot
// can be split by key group when a job is restored at another parallelism.
//
// Every method that can fail returns an error: a failed read or write fails
// the task (the job restarts from its latest checkpoint), a failed
// Checkpoint fails the task too (the synchronous part of a checkpoint, as
// in Flink). The task calls Open or a Restore before anything else, and
// Close when it is cancelled; nothing may use the backend afterwards.
type StateBackend interface {
	Get(kg int, name, key string) (string, bool, error)
	Set(kg int, name, key, value string) error
	Delete(kg int, name, key string) error
	// GetList returns the list; the caller may not modify it.
	GetList(kg int, name, key string) ([]string, error)
	Append(kg int, name, key, value string) error
	ClearList(kg int, name, key string) error
	// Open opens empty state, for a task that restores nothing.
	Open() error
	// Checkpoint is the synchronous part of checkpoint n: the state must
	// not change while it runs, and what it returns must not change
	// afterwards. The backend declares there what checkpoint storage must
	// hold for it: its whole state as key groups (a full checkpoint), or
	// the files it owns (an incremental one).
	Checkpoint(n int64) (StateCheckpoint, error)
	// Uploaded records that a shared file of a checkpoint is durable under
	// f.Object: later checkpoints reference it instead of uploading it.
	Uploaded(f StateFile)
	// Restore replaces the state with groups (those outside the task's
	// range are dropped by the caller before it gets here).
	Restore(groups []KeyGroupState) error
	// RestoreFiles replaces the state with what files hold (data[i] is
	// files[i]'s checked bytes), keeping key groups [start, end) only.
	// Damaged content gives an error wrapping ErrCorruptSnapshot.
	RestoreFiles(files []StateFile, data [][]byte, start, end int) error
	// Close releases the state.
	Close()
}

// StateCheckpoint is what a backend's checkpoint consists of: Keyed (a full
// snapshot, sorted) or Files (every file a restore needs, private and
// shared; a file with an Object is in storage already, the others carry
// their bytes and are named by the task, see Layout).
type StateCheckpoint struct {
	Keyed []KeyGroupState
	Files []CheckpointFile
}

// KeyGroupState is the state of one key group, sorted by name then key.
type KeyGroupState struct {
	KG     int          `json:"kg"`
	Values []ValueEntry `json:"values,omitempty"`
	Lists  []ListEntry  `json:"lists,omitempty"`
}

// ValueEntry is one value of a value state.
type ValueEntry struct {
	Name  string `json:"n"`
	Key   string `json:"k"`
	Value string `json:"v"`
}

// ListEntry is one list of a list state.
type ListEntry struct {
	Name   string   `json:"n"`
	Key    string   `json:"k"`
	Values []string `json:"v"`
}

type stateKey struct{ name, key string }

type heapGroup struct {
	values map[stateKey]string
	lists  map[stateKey][]string
}

// HeapBackend keeps state in Go maps and snapshots all of it every time (a
// full checkpoint), as Flink's HashMapStateBackend does.
type HeapBackend struct {
	groups map[int]*heapGroup
	// last is the group used last: a keyed function reads and writes
	// the same key, so most lookups hit it.
	last   *heapGroup
	lastKG int
}

// NewHeapBackend returns an empty heap backend.
func NewHeapBackend() *HeapBackend { return &HeapBackend{groups: map[int]*heapGroup{}} }

func (h *HeapBackend) group(kg int) *heapGroup {
	if h.last != nil && h.lastKG == kg {
		return h.last
	}
	g := h.groups[kg]
	if g == nil {
		g = &heapGroup{values: map[stateKey]string{}, lists: map[stateKey][]string{}}
		h.groups[kg] = g
	}
	h.last, h.lastKG = g, kg
	return g
}

// Get implements StateBackend; the heap never fails.
func (h *HeapBackend) Get(kg int, name, key string) (string, bool, error) {
	v, ok := h.group(kg).values[stateKey{name, key}]
	return v, ok, nil
}

// Set implements StateBackend.
func (h *HeapBackend) Set(kg int, name, key, value string) error {
	h.group(kg).values[stateKey{name, key}] = value
	return nil
}

// Delete implements StateBackend.
func (h *HeapBackend) Delete(kg int, name, key string) error {
	delete(h.group(kg).values, stateKey{name, key})
	return nil
}

// GetList implements StateBackend. The caller may not modify the result.
func (h *HeapBackend) GetList(kg int, name, key string) ([]string, error) {
	return h.group(kg).lists[stateKey{name, key}], nil
}

// Append implements StateBackend.
func (h *HeapBackend) Append(kg int, name, key, value string) error {
	g := h.group(kg)
	k := stateKey{name, key}
	// Copy on append so that a slice handed out by GetList or held by a
	// snapshot never changes under its holder.
	l := g.lists[k]
	nl := make([]string, len(l), len(l)+1)
	copy(nl, l)
	g.lists[k] = append(nl, value)
	return nil
}

// ClearList implements StateBackend.
func (h *HeapBackend) ClearList(kg int, name, key string) error {
	delete(h.group(kg).lists, stateKey{name, key})
	return nil
}

// Open implements StateBackend: the heap starts empty.
func (h *HeapBackend) Open() error { return nil }

// Checkpoint implements StateBackend: a full snapshot.
func (h *HeapBackend) Checkpoint(int64) (StateCheckpoint, error) {
	return StateCheckpoint{Keyed: h.Snapshot()}, nil
}

// Uploaded implements StateBackend: the heap has no files.
func (h *HeapBackend) Uploaded(StateFile) {}

// RestoreFiles implements StateBackend: the heap reads a file-based
// snapshot (a pebble one) into memory.
func (h *HeapBackend) RestoreFiles(files []StateFile, data [][]byte, start, end int) error {
	groups, err := ReadStateFiles(files, data)
	if err != nil {
		if !errors.Is(err, ErrCorruptSnapshot) {
			// Every file checked out, yet they do not open.
			err = fmt.Errorf("%w: state files do not open: %v", ErrCorruptSnapshot, err)
		}
		return err
	}
	return h.Restore(keyGroupsIn(groups, start, end))
}

// Close implements StateBackend.
func (h *HeapBackend) Close() {}

// Snapshot returns the whole state, sorted.
func (h *HeapBackend) Snapshot() []KeyGroupState {
	kgs := make([]int, 0, len(h.groups))
	for kg := range h.groups { // lint:sorted the key groups are sorted below
		kgs = append(kgs, kg)
	}
	sort.Ints(kgs)
	var out []KeyGroupState
	for _, kg := range kgs {
		g := h.groups[kg]
		s := KeyGroupState{KG: kg}
		for k, v := range g.values { // lint:sorted entries are sorted below
			s.Values = append(s.Values, ValueEntry{Name: k.name, Key: k.key, Value: v})
		}
		for k, v := range g.lists { // lint:sorted entries are sorted below
			s.Lists = append(s.Lists, ListEntry{Name: k.name, Key: k.key, Values: v})
		}
		s.sortEntries()
		if len(s.Values) > 0 || len(s.Lists) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// sortEntries puts g's values and lists in snapshot order: by name, then
// key.
func (g *KeyGroupState) sortEntries() {
	sort.Slice(g.Values, func(i, j int) bool {
		a, b := g.Values[i], g.Values[j]
		return a.Name < b.Name || (a.Name == b.Name && a.Key < b.Key)
	})
	sort.Slice(g.Lists, func(i, j int) bool {
		a, b := g.Lists[i], g.Lists[j]
		return a.Name < b.Name || (a.Name == b.Name && a.Key < b.Key)
	})
}

// Restore implements StateBackend.
func (h *HeapBackend) Restore(groups []KeyGroupState) error {
	h.groups, h.last = map[int]*heapGroup{}, nil
	for _, s := range groups {
		g := h.group(s.KG)
		for _, e := range s.Values {
			g.values[stateKey{e.Name, e.Key}] = e.Value
		}
		for _, e := range s.Lists {
			g.lists[stateKey{e.Name, e.Key}] = append([]string(nil), e.Values...)
		}
	}
	return nil
}

// TaskSnapshot is everything one task saves at a checkpoint.
type TaskSnapshot struct {
	Task       string          `json:"task"`
	Checkpoint int64           `json:"checkpoint"`
	Keyed      []KeyGroupState `json:"keyed,omitempty"`
	Timers     []timer         `json:"timers,omitempty"`
	Source     *SourceState    `json:"source,omitempty"`
	Sink       *SinkState      `json:"sink,omitempty"`
	// EventTimers are the event-time timers not yet fired; Watermarks is
	// the task's event-time position (nil for a task no watermark reached).
	EventTimers []timer         `json:"event_timers,omitempty"`
	Watermarks  *WatermarkState `json:"watermarks,omitempty"`
	// ChannelState is the in-flight input an unaligned checkpoint saved.
	ChannelState []ChannelState `json:"channel_state,omitempty"`
	// Files hold the keyed state of a file backend (pebble) instead of
	// Keyed: every file the restore needs, private and shared, with its
	// size and checksum (pebble_task.go).
	Files []StateFile `json:"files,omitempty"`
	// uploads are the files of Files that storage does not hold yet, with
	// their bytes: the asynchronous part of the checkpoint writes them
	// before the snapshot itself. Never serialized.
	uploads []CheckpointFile
}

// snapshotFormat versions the envelope.
const snapshotFormat = 1

// envelope wraps a snapshot body with its checksum, so that corruption in
// storage is detected at restore instead of restoring garbage.
type envelope struct {
	Format int             `json:"format"`
	SHA256 string          `json:"sha256"`
	Body   json.RawMessage `json:"body"`
}

// ErrCorruptSnapshot is wrapped by DecodeSnapshot when the data is not an
// intact snapshot.
var ErrCorruptSnapshot = errors.New("corrupt snapshot")

// EncodeSnapshot serializes s with a checksum.
func EncodeSnapshot(s *TaskSnapshot) ([]byte, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot of %s: %w", s.Task, err)
	}
	sum := sha256.Sum256(body)
	return json.Marshal(envelope{Format: snapshotFormat, SHA256: hex.EncodeToString(sum[:]), Body: body})
}

// DecodeSnapshot checks and decodes data written by EncodeSnapshot.
func DecodeSnapshot(data []byte) (*TaskSnapshot, error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrCorruptSnapshot, err)
	}
	if env.Format != snapshotFormat {
		return nil, fmt.Errorf("%w: format %d, want %d", ErrCorruptSnapshot, env.Format, snapshotFormat)
	}
	sum := sha256.Sum256(env.Body)
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorruptSnapshot)
	}
	var s TaskSnapshot
	if err := json.Unmarshal(env.Body, &s); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrCorruptSnapshot, err)
	}
	return &s, nil
}
