package live

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/engine"
)

func TestStorageAtomicAndRecover(t *testing.T) {
	s := &storage{dir: t.TempDir()}
	if err := s.Put("job/chk-1/src-0", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("job/chk-1/src-0", []byte("b")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("job/chk-1/src-0")
	if err != nil || string(got) != "b" {
		t.Fatalf("get: got %q, %v; want b", got, err)
	}
	// No temporary file is left behind.
	left, _ := filepath.Glob(filepath.Join(s.dir, "job", "chk-1", ".tmp-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := s.Put("../escape", []byte("x")); err == nil {
		t.Error("put ../escape: got nil, want an error")
	}
	// Checkpoint 2 has metadata, 3 has none (incomplete), 4 has garbage.
	l := engine.Layout{Prefix: "job"}
	md := `{"job":"job","checkpoint":2,"handles":{},"offsets":{"in/0":7}}`
	must(t, s.Put(l.Metadata(2), []byte(md)))
	must(t, s.Put("job/chk-3/src-0", []byte("x")))
	must(t, s.Put(l.Metadata(4), []byte("{")))
	must(t, s.Put(l.CoordinatorState(), []byte(`{"counter":3,"attempt":2}`)))
	rec, err := engine.RecoverCoordinator(s, l)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != (engine.State{Counter: 4, Attempt: 2}) {
		t.Errorf("state: got %+v, want counter 4 (the highest directory) and attempt 2", rec.State)
	}
	if len(rec.Completed) != 1 || rec.Completed[0].Checkpoint != 2 {
		t.Errorf("completed: got %+v, want only checkpoint 2", rec.Completed)
	}
	if len(rec.Damaged) != 1 || rec.Damaged[0].Checkpoint != 4 || !errors.Is(rec.Damaged[0].Err, engine.ErrCorruptSnapshot) {
		t.Errorf("damaged: got %+v, want checkpoint 4, corrupt", rec.Damaged)
	}
	// Checkpoints 1 and 3, which have no metadata, are garbage; 4's
	// metadata exists, damaged, and is evidence.
	removed, err := s.removeIncomplete("job", 0, 100)
	if err != nil || !slices.Equal(removed, []int64{1, 3}) {
		t.Errorf("remove incomplete: got %v, %v; want [1 3]", removed, err)
	}
	for n, want := range map[int]bool{1: false, 2: true, 3: false, 4: true} {
		_, err := os.Stat(filepath.Join(s.dir, filepath.FromSlash(l.CheckpointDir(int64(n)))))
		if got := err == nil; got != want {
			t.Errorf("checkpoint %d there after removing incomplete ones: got %v, want %v", n, got, want)
		}
	}
	must(t, s.Put("job/chk-5/src-0", []byte("x")))
	must(t, s.Put("job/chk-7/src-0", []byte("x")))
	if removed, err := s.removeIncomplete("job", 5, 7); err != nil || len(removed) != 0 {
		t.Errorf("remove incomplete between 5 and 7: got %v, %v; want nothing (neither 5 nor 7 is between)", removed, err)
	}
	must(t, s.removeCheckpoint("job", 2))
	if _, err := os.Stat(filepath.Join(s.dir, "job", "chk-2")); !os.IsNotExist(err) {
		t.Errorf("checkpoint 2 still there after remove: %v", err)
	}
}

func TestLoadCheckpointPath(t *testing.T) {
	root := t.TempDir()
	s := &storage{dir: root}
	l := engine.Layout{Prefix: "job"}
	must(t, s.Put(l.Metadata(5), []byte(`{"job":"job","checkpoint":5,"handles":{"src/0":"job/chk-5/src-0"}}`)))
	for _, p := range []string{filepath.Join(root, "job", "chk-5"), filepath.Join(root, filepath.FromSlash(l.Metadata(5)))} {
		md, r, err := loadCheckpointPath(p, "job")
		if err != nil || md.Checkpoint != 5 || filepath.Clean(r) != filepath.Clean(root) {
			t.Errorf("%s: got checkpoint %d root %q err %v; want 5, %q", p, md.Checkpoint, r, err, root)
		}
	}
	// A checkpoint directory renamed away from its job's layout.
	other := filepath.Join(t.TempDir(), "elsewhere")
	must(t, os.Rename(filepath.Join(root, "job", "chk-5"), other))
	if _, _, err := loadCheckpointPath(other, "job"); err == nil || !strings.Contains(err.Error(), "should end in") {
		t.Errorf("renamed checkpoint: got %v, want a layout error", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
