package engine

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/onceproof/onceproof/engine/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTestPebble(t *testing.T, fs vfs.FS, dir string) *PebbleBackend {
	t.Helper()
	b := NewPebbleBackend(PebbleConfig{FS: fs, Dir: dir})
	t.Cleanup(b.Close)
	return b
}

// openTestPebble returns an open backend in memory holding what ops write.
func openTestPebble(t *testing.T, ops []stateOp) *PebbleBackend {
	t.Helper()
	b := newTestPebble(t, vfs.NewMem(), "s")
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	applyOps(b, ops)
	return b
}

// uploadAll plays checkpoint storage for a backend test: it keeps the bytes
// of every file a checkpoint hands out (by object name), names new files as
// the task would, and reports shared ones uploaded. It returns the
// checkpoint's file list and the bytes it uploaded.
func uploadAll(t *testing.T, b *PebbleBackend, n int64, store map[string][]byte) ([]StateFile, int64) {
	t.Helper()
	c, err := b.Checkpoint(n)
	files := c.Files
	if err != nil {
		t.Fatalf("checkpoint %d: %v", n, err)
	}
	var out []StateFile
	var uploaded int64
	for _, f := range files {
		if f.Object == "" {
			f.Object = Layout{}.PrivateFile(n, "t", 0, f.Name)
			if f.Shared {
				f.Object = Layout{}.SharedFile(f.SHA256)
			}
			store[f.Object] = f.Data
			uploaded += int64(len(f.Data))
			b.Uploaded(f.StateFile)
		}
		out = append(out, f.StateFile)
	}
	return out, uploaded
}

// restoreFrom opens a fresh backend from files kept in store, with key
// groups [start, end).
func restoreFrom(t *testing.T, files []StateFile, store map[string][]byte, start, end int) *PebbleBackend {
	t.Helper()
	r := newTestPebble(t, vfs.NewMem(), "restored")
	data := make([][]byte, len(files))
	for i, f := range files {
		data[i] = store[f.Object]
		if err := f.Verify(data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.RestoreFiles(files, data, start, end); err != nil {
		t.Fatalf("restore: %v", err)
	}
	return r
}

// TestPebbleBackendOps: the pebble backend holds what the heap backend
// holds for the same writes, and snapshots it in the same order.
func TestPebbleBackendOps(t *testing.T) {
	b := openTestPebble(t, sampleOps)
	if got := mustSnapshot(t, b); !reflect.DeepEqual(got, sampleState) {
		t.Errorf("Snapshot:\ngot  %+v\nwant %+v", got, sampleState)
	}
	checkGets(t, b, "", []getCase{
		{7, "count", "k2", "2", true},
		{7, "sum", "k1", "40", true},
		{42, "gone", "kx", "", false},
		{8, "count", "k1", "", false}, // same name and key, other key group
		{7, "left", "k1", "", false},  // a list is not a value
	})
	if got, _ := b.GetList(7, "left", "k1"); !slices.Equal(got, []string{"l1", "l2"}) {
		t.Errorf("GetList(7, left, k1): got %q", got)
	}
	if got, _ := b.GetList(64, "tmp", "ky"); got != nil {
		t.Errorf("GetList of a cleared list: got %q, want nil", got)
	}
	// Lists keep empty strings and separators as they are.
	b.Append(3, "l", "k", "")
	b.Append(3, "l", "k", "a,b")
	if got, _ := b.GetList(3, "l", "k"); !slices.Equal(got, []string{"", "a,b"}) {
		t.Errorf("GetList with awkward elements: got %q", got)
	}
}

// TestPebbleCheckpointRestoreRoundTrip: a restore from a checkpoint's files
// holds exactly the state at that checkpoint; the second checkpoint
// re-uploads no SST of the first.
func TestPebbleCheckpointRestoreRoundTrip(t *testing.T) {
	b := openTestPebble(t, sampleOps)
	store := map[string][]byte{}
	files1, _ := uploadAll(t, b, 1, store)
	b.Set(7, "count", "k1", "4")
	b.Delete(0, "count", "k0")
	b.Append(127, "right", "kz", "r2")
	want2 := mustSnapshot(t, b)
	files2, _ := uploadAll(t, b, 2, store)

	for _, f := range files1 {
		if !f.Shared {
			continue
		}
		i := slices.IndexFunc(files2, func(g StateFile) bool { return g.Name == f.Name })
		if i < 0 || files2[i].Object != f.Object {
			t.Errorf("checkpoint 2 does not reference checkpoint 1's %s as %s", f.Name, f.Object)
		}
	}
	if got := mustSnapshot(t, restoreFrom(t, files1, store, 0, 128)); !reflect.DeepEqual(got, sampleState) {
		t.Errorf("restored checkpoint 1:\ngot  %+v\nwant %+v", got, sampleState)
	}
	r := restoreFrom(t, files2, store, 0, 128)
	if got := mustSnapshot(t, r); !reflect.DeepEqual(got, want2) {
		t.Errorf("restored checkpoint 2:\ngot  %+v\nwant %+v", got, want2)
	}
	// The restored DB goes on: its own next checkpoint references the
	// restored SSTs without uploading them again.
	r.Set(7, "count", "k9", "1")
	files3, uploaded := uploadAll(t, r, 3, store)
	for _, f := range files3 {
		if f.Shared && !strings.HasPrefix(f.Object, "shared/") {
			t.Errorf("shared file %s named %s", f.Name, f.Object)
		}
	}
	if got, err := ReadStateFiles(files3, dataOf(files3, store)); err != nil || len(got) != len(want2) {
		t.Errorf("ReadStateFiles(checkpoint 3): %v, %d groups", err, len(got))
	}
	t.Logf("checkpoint 3 after a restore uploaded %d bytes", uploaded)
}

func dataOf(files []StateFile, store map[string][]byte) [][]byte {
	data := make([][]byte, len(files))
	for i, f := range files {
		data[i] = store[f.Object]
	}
	return data
}

// TestPebbleRestoreKeyGroupRange: a restore keeps only the task's key
// groups; the others are gone for reads and for the next checkpoint.
func TestPebbleRestoreKeyGroupRange(t *testing.T) {
	b := openTestPebble(t, sampleOps)
	store := map[string][]byte{}
	files, _ := uploadAll(t, b, 1, store)
	r := restoreFrom(t, files, store, 7, 64)
	want := []KeyGroupState{sampleState[1]}
	if got := mustSnapshot(t, r); !reflect.DeepEqual(got, want) {
		t.Errorf("restored [7,64):\ngot  %+v\nwant %+v", got, want)
	}
	if _, ok, _ := r.Get(0, "count", "k0"); ok {
		t.Error("key group 0 is outside [7,64) but still readable")
	}
	files2, _ := uploadAll(t, r, 2, store)
	got, err := ReadStateFiles(files2, dataOf(files2, store))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("next checkpoint after the restore: %v\ngot  %+v\nwant %+v", err, got, want)
	}
}

// TestPebbleDeterministicFiles: the same writes give the same files (names,
// sizes, and bytes for all but the MANIFEST, which pebble stamps with the
// wall clock) in two backends, with flushes and a compaction on the way.
func TestPebbleDeterministicFiles(t *testing.T) {
	run := func() []StateFile {
		b := NewPebbleBackend(PebbleConfig{FS: vfs.NewMem(), Dir: "s", FlushBytes: 8 << 10, CompactFlushes: 4})
		defer b.Close()
		if err := b.Open(); err != nil {
			t.Fatal(err)
		}
		store := map[string][]byte{}
		var all []StateFile
		rng := rand.New(rand.NewPCG(1, 2))
		for n := int64(1); n <= 6; n++ {
			for i := 0; i < 300; i++ {
				k := rng.IntN(500)
				b.Set(k%128, "v", fmt.Sprint("k", k), fmt.Sprint(n, "-", i))
				if i%7 == 0 {
					b.Append(k%128, "l", fmt.Sprint("k", k), fmt.Sprint(i))
				}
			}
			files, _ := uploadAll(t, b, n, store)
			all = append(all, files...)
		}
		return all
	}
	a, b := run(), run()
	for i := range a {
		if strings.HasPrefix(a[i].Name, "MANIFEST") {
			a[i].SHA256, b[i].SHA256 = "", ""
			a[i].Object, b[i].Object = "", ""
		}
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs of the same writes differ:\n%+v\n%+v", a, b)
	}
}

// TestPebbleFatalBecomesStateError: a fatal pebble error (Logger.Fatalf)
// surfaces as a *StateError and leaves the backend unusable.
func TestPebbleFatalBecomesStateError(t *testing.T) {
	b := openTestPebble(t, nil)
	got := func() (err error) {
		defer b.catch("set", &err)
		pebbleLogger{}.Fatalf("pebble: fatal commit error: %v", "disk on fire")
		return nil
	}()
	var se *StateError
	if !errors.As(got, &se) || !strings.Contains(se.Error(), "disk on fire") {
		t.Fatalf("got %v, want a *StateError", got)
	}
	if _, _, err := b.Get(1, "v", "k"); !errors.As(err, &se) {
		t.Fatalf("a get after the fatal error: got %v, want a *StateError", err)
	}
	if _, err := b.Checkpoint(1); err == nil {
		t.Fatal("a checkpoint after the fatal error succeeded")
	}
}

func TestTrimWALKeepsRecords(t *testing.T) {
	b := openTestPebble(t, nil)
	store := map[string][]byte{}
	for n := int64(1); n <= 3; n++ {
		for i := 0; i < 200; i++ {
			b.Set(1, "v", fmt.Sprint("k", i), strings.Repeat("x", 50))
		}
		files, _ := uploadAll(t, b, n, store)
		for _, f := range files {
			// After the flush the WAL holds only the checkpoint's empty
			// log record, however large the recycled file was.
			if strings.HasSuffix(f.Name, ".log") && f.Size > 64 {
				t.Errorf("checkpoint %d: WAL %s is %d bytes, want the few of one record", n, f.Name, f.Size)
			}
		}
	}
}

// A job for task-level tests: src -> store (keyed: keeps the last value per
// key in value state "v", and fails a read on value "boom") -> sink.

// boomBackend is a backend whose reads fail for key "boom".
type boomBackend struct{ StateBackend }

func (b boomBackend) Get(kg int, name, key string) (string, bool, error) {
	if key == "boom" {
		return "", false, &StateError{Op: "get", Err: errors.New("injected read error")}
	}
	return b.StateBackend.Get(kg, name, key)
}

func storeFn(ctx *Context, _ int, r Record) error {
	v := ctx.Value("v")
	old, _, err := v.Get()
	if err != nil || old == r.Value {
		return err
	}
	return v.Set(r.Value)
}

func storeJob(t *testing.T) *Job {
	t.Helper()
	b := NewJob("store")
	b.Source("src", "in", 1, 1).KeyBy(func(r Record) string { return r.Key }).
		Process("store", 1, func() KeyedProcessFunction { return ProcessFunc(storeFn) }).
		SinkTo("sink", "out", 1, 1, ExactlyOnce)
	job, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// memEnv is a TaskEnv over an in-memory checkpoint store. Callbacks wait in
// a queue until drain runs them, in order; it counts bytes persisted.
type memEnv struct {
	store     map[string][]byte
	queue     []func()
	persisted int64
	acks      []Ack
	fails     []Failure
	declines  []string
	events    []Event
}

func newMemEnv() *memEnv { return &memEnv{store: map[string][]byte{}} }

func (e *memEnv) Now() int64 { return 0 }
func (e *memEnv) Send(m Message) {
	switch m.Type {
	case protocol.MsgAck:
		e.acks = append(e.acks, *m.Ack)
	case protocol.MsgDecline:
		e.declines = append(e.declines, m.Reason)
	case protocol.MsgFailed:
		e.fails = append(e.fails, *m.Failure)
	}
}
func (e *memEnv) Kafka(kmsg.Request, func(kmsg.Response, error)) {}
func (e *memEnv) After(time.Duration, func())                    {}
func (e *memEnv) Event(ev Event)                                 { e.events = append(e.events, ev) }
func (e *memEnv) Persist(name string, data []byte, cb func(error)) {
	e.later(func() { e.put(name, data); cb(nil) })
}
func (e *memEnv) Load(name string, cb func([]byte, error)) { e.later(func() { cb(e.get(name)) }) }
func (e *memEnv) later(fn func())                          { e.queue = append(e.queue, fn) }
func (e *memEnv) put(name string, data []byte) {
	e.store[name] = bytes.Clone(data)
	e.persisted += int64(len(data))
}
func (e *memEnv) get(name string) ([]byte, error) {
	d, ok := e.store[name]
	if !ok {
		return nil, fmt.Errorf("%s: not found", name)
	}
	return bytes.Clone(d), nil
}

func (e *memEnv) drain() {
	for len(e.queue) > 0 {
		fn := e.queue[0]
		e.queue = e.queue[1:]
		fn()
	}
}

var _ TaskEnv = (*memEnv)(nil)

// storeTask is the store operator's task on env, with state (nil: heap);
// restore > 0 restores it from that checkpoint's handle.
func storeTask(t *testing.T, env *memEnv, state StateBackend, restore int64) *Task {
	t.Helper()
	job := storeJob(t)
	dep := Deployment{Task: TaskID{Vertex: vertexIndex(t, job, "store")}, StoragePrefix: "chk", FenceUpTo: 1}
	if restore > 0 {
		dep.Restore, dep.Handle = restore, Layout{Prefix: "chk"}.TaskHandle(restore, "store", 0)
	}
	task := NewTask(job, dep, env, DefaultTaskConfig(), state)
	task.Start()
	env.drain()
	return task
}

func feed(task *Task, key, value string) {
	deliverStream(task, 0, 0, StreamMsg{Kind: KindRecord, Record: Record{Key: key, Value: value}})
}

// checkpointBytes takes checkpoint n and returns the bytes it persisted.
func checkpointBytes(t *testing.T, task *Task, env *memEnv, n int64) int64 {
	t.Helper()
	before, acks := env.persisted, len(env.acks)
	deliverStream(task, 0, 0, StreamMsg{Kind: KindBarrier, Checkpoint: n})
	env.drain()
	if len(env.acks) != acks+1 || len(env.fails) > 0 || len(env.declines) > 0 {
		t.Fatalf("checkpoint %d: acks %d, failures %v, declines %v", n, len(env.acks)-acks, env.fails, env.declines)
	}
	return env.persisted - before
}

// TestIncrementalCheckpointUploadsLittle is the acceptance test of
// incremental checkpoints: with 20,000 keys of 100-byte values, changing 1%
// of the keys between two checkpoints uploads at most 10% of what the full
// first checkpoint uploaded (measured as bytes persisted to checkpoint
// storage, handle included).
func TestIncrementalCheckpointUploadsLittle(t *testing.T) {
	const keys, changed = 20_000, 200
	env := newMemEnv()
	task := storeTask(t, env, newTestPebble(t, vfs.NewMem(), "state/store-0"), 0)
	rng := rand.New(rand.NewPCG(4, 2))
	value := func() string {
		b := make([]byte, 50)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return fmt.Sprintf("%x", b) // 100 bytes that do not compress
	}
	for i := 0; i < keys; i++ {
		feed(task, fmt.Sprintf("key-%05d", i), value())
	}
	full := checkpointBytes(t, task, env, 1)
	for i := 0; i < changed; i++ {
		feed(task, fmt.Sprintf("key-%05d", i*(keys/changed)), value())
	}
	incremental := checkpointBytes(t, task, env, 2)
	t.Logf("full checkpoint (%d keys x 100 B): %d bytes uploaded; after %d keys changed: %d bytes (%.1f%%)",
		keys, full, changed, incremental, 100*float64(incremental)/float64(full))
	if incremental*10 > full {
		t.Fatalf("incremental checkpoint uploaded %d bytes, more than 10%% of the full %d", incremental, full)
	}
	if a := env.acks[1]; a.Size != incremental || a.Metrics.CheckpointedSize != incremental || len(a.Shared) == 0 {
		t.Errorf("ack of checkpoint 2: size %d, checkpointed %d, %d shared files; want %d, %d, some",
			a.Size, a.Metrics.CheckpointedSize, len(a.Shared), incremental, incremental)
	}

	// Both checkpoints restore to the state they hold, into pebble and into
	// the heap (a backend switch).
	for _, restore := range []struct {
		n     int64
		state func() StateBackend
	}{
		{2, func() StateBackend { return newTestPebble(t, vfs.NewMem(), "state/store-0") }},
		{2, func() StateBackend { return nil }},
		{1, func() StateBackend { return newTestPebble(t, vfs.NewMem(), "state/store-0") }},
	} {
		renv := newMemEnv()
		renv.store = env.store
		r := storeTask(t, renv, restore.state(), restore.n)
		if len(renv.fails) > 0 {
			t.Fatalf("restore of checkpoint %d: %v", restore.n, renv.fails)
		}
		got := mustSnapshot(t, r.state)
		n := 0
		for _, g := range got {
			n += len(g.Values)
		}
		if n != keys {
			t.Errorf("restore of checkpoint %d into %T: %d keys, want %d", restore.n, r.state, n, keys)
		}
	}
}

// TestRestoreDetectsCorruptStateFile: a state file whose bytes changed in
// storage fails the restore with Failure.RestoreCheckpoint set, so the
// coordinator falls back to an older checkpoint.
func TestRestoreDetectsCorruptStateFile(t *testing.T) {
	env := newMemEnv()
	task := storeTask(t, env, newTestPebble(t, vfs.NewMem(), "s"), 0)
	for i := 0; i < 50; i++ {
		feed(task, fmt.Sprint("k", i), fmt.Sprint(i))
	}
	checkpointBytes(t, task, env, 1)
	var sst string
	for _, f := range task.state.(*PebbleBackend).known { // lint:sorted the smallest name is kept
		if sst == "" || f.Object < sst {
			sst = f.Object
		}
	}
	if sst == "" {
		t.Fatal("checkpoint 1 uploaded no SST")
	}
	env.store[sst][3] ^= 0x5a
	renv := newMemEnv()
	renv.store = env.store
	storeTask(t, renv, newTestPebble(t, vfs.NewMem(), "s"), 1)
	if len(renv.fails) != 1 || renv.fails[0].RestoreCheckpoint != 1 || !strings.Contains(renv.fails[0].Reason, "checksum") {
		t.Fatalf("got failures %+v, want one restore failure of checkpoint 1 naming the checksum", renv.fails)
	}
	delete(env.store, sst)
	renv = newMemEnv()
	renv.store = env.store
	storeTask(t, renv, newTestPebble(t, vfs.NewMem(), "s"), 1)
	if len(renv.fails) != 1 || renv.fails[0].RestoreCheckpoint != 1 {
		t.Fatalf("missing file: got failures %+v, want one restore failure of checkpoint 1", renv.fails)
	}
}

// TestStateErrorFailsTask: a read the backend cannot serve fails the task
// (the job restarts from its checkpoint) instead of crashing the process,
// and the task takes no more input.
func TestStateErrorFailsTask(t *testing.T) {
	env := newMemEnv()
	task := storeTask(t, env, boomBackend{NewHeapBackend()}, 0)
	feed(task, "a", "1")
	feed(task, "boom", "2")
	feed(task, "b", "3")
	if len(env.fails) != 1 || !strings.Contains(env.fails[0].Reason, "injected read error") || env.fails[0].RestoreCheckpoint != 0 {
		t.Fatalf("got failures %+v, want one naming the read error", env.fails)
	}
	if _, ok, _ := task.state.Get(KeyGroup("b", task.job.MaxParallelism), "v", "b"); ok {
		t.Fatal("the failed task went on processing input")
	}
}

// sharedCoordEnv is fakeCoordEnv (which logs shared-file deletion).
type sharedCoordEnv struct{ *fakeCoordEnv }

// TestCoordinatorDeletesSharedAtRefcountZero: with two checkpoints
// retained, retiring a checkpoint deletes its directory and only those of
// its shared files no retained checkpoint references.
func TestCoordinatorDeletesSharedAtRefcountZero(t *testing.T) {
	job := twoInputJob(t)
	fake := newFakeCoordEnv(job)
	env := sharedCoordEnv{fake}
	c := NewCoordinator(job, env, testCheckpointConfig(), fixedRestart(), nil, "chk")
	c.Start()
	fake.completeState(0, nil)
	for _, id := range job.Tasks() {
		fromTask(c, Message{Type: protocol.MsgRunning}, 1, id)
	}
	// op/0's shared files per checkpoint: x is kept throughout, y is
	// replaced by z at checkpoint 2 (a compaction), z by w at 4.
	shared := map[int64][]string{1: {"s/x", "s/y"}, 2: {"s/x", "s/z"}, 3: {"s/x", "s/z"}, 4: {"s/w", "s/x"}, 5: {"s/w", "s/x"}}
	var deleted []string
	for n := int64(1); n <= 5; n++ {
		fake.fireTimers(time.Duration(n) * 50 * time.Millisecond)
		fake.completeState(0, nil)
		for _, id := range job.Tasks() {
			a := Ack{Task: id, Checkpoint: n, Handle: handle(job.TaskName(id), n)}
			if job.TaskName(id) == "op/0" {
				a.Shared = shared[n]
			}
			ackFrom(c, 1, a)
		}
		fake.take()
		fake.completeMetadata(0, nil)
		for _, l := range fake.take() {
			if strings.HasPrefix(l, "delete") {
				deleted = append(deleted, fmt.Sprintf("after %d: %s", n, l))
			}
		}
	}
	want := []string{
		"after 3: delete cp=1", "after 3: delete-shared s/y",
		"after 4: delete cp=2",
		"after 5: delete cp=3", "after 5: delete-shared s/z",
	}
	if !slices.Equal(deleted, want) {
		t.Fatalf("deletions:\ngot  %q\nwant %q", deleted, want)
	}
	if got := c.Completed()[1].Shared; !slices.Equal(got, []string{"s/w", "s/x"}) {
		t.Errorf("metadata of checkpoint 5 lists shared %v", got)
	}
}

// TestPebbleBackgroundValueCache: a Background backend (the live runner's)
// caches value state in front of the DB; reads must see every write and
// delete, across the cache being dropped when full, and a checkpoint must
// hold what was written, not what the cache held.
func TestPebbleBackgroundValueCache(t *testing.T) {
	b := NewPebbleBackend(PebbleConfig{FS: vfs.NewMem(), Dir: "bg", Background: true})
	t.Cleanup(b.Close)
	if err := b.Open(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range valueCacheMax + 1000 {
		k := fmt.Sprint("k", i%(valueCacheMax/2+7))
		v := fmt.Sprint(i)
		b.Set(i%4, "n", k, v)
		want[fmt.Sprint(i%4, "/", k)] = v
		if i%5 == 0 {
			b.Delete(i%4, "n", k)
			delete(want, fmt.Sprint(i%4, "/", k))
		}
		if got, ok, _ := b.Get(i%4, "n", k); ok != (i%5 != 0) || (ok && got != v) {
			t.Fatalf("write %d: get %q=%q,%v after writing %q", i, k, got, ok, v)
		}
	}
	store := map[string][]byte{}
	files, _ := uploadAll(t, b, 1, store)
	r := restoreFrom(t, files, store, 0, 4)
	got := map[string]string{}
	for _, g := range mustSnapshot(t, r) {
		for _, v := range g.Values {
			got[fmt.Sprint(g.KG, "/", v.Key)] = v.Value
		}
	}
	if len(got) != len(want) {
		t.Fatalf("restored %d values, want %d", len(got), len(want))
	}
	for k, v := range want { // lint:sorted compares every key; order does not matter
		if got[k] != v {
			t.Fatalf("restored %s=%q, want %q", k, got[k], v)
		}
	}
}

// mustSnapshot is b's whole state.
func mustSnapshot(t *testing.T, b StateBackend) []KeyGroupState {
	t.Helper()
	switch b := b.(type) {
	case *HeapBackend:
		return b.Snapshot()
	case *PebbleBackend:
		groups, err := b.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		return groups
	}
	t.Fatalf("no snapshot of a %T", b)
	return nil
}
