package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestLayoutPaths(t *testing.T) {
	l := Layout{Prefix: "checkpoints/job"}
	for _, c := range []struct{ got, want string }{
		{l.Root(), "checkpoints/job"},
		{Layout{}.Root(), "."},
		{l.CoordinatorState(), "checkpoints/job/coordinator.json"},
		{l.CheckpointDir(7), "checkpoints/job/chk-7"},
		{l.Metadata(7), "checkpoints/job/chk-7/_metadata"},
		{l.TaskHandle(7, "count", 1), "checkpoints/job/chk-7/count-1"},
		{l.PrivateFile(7, "count", 1, "MANIFEST-000001"), "checkpoints/job/chk-7/count-1.MANIFEST-000001"},
		{l.SharedFile("ab12"), "checkpoints/job/shared/ab12.sst"},
		{Layout{}.Metadata(2), "chk-2/_metadata"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for name, want := range map[string]int64{"chk-1": 1, "chk-42": 42, "chk-0": 0, "chk-01": 0, "chk-1x": 0, "chk-": 0, "chk--1": 0, "shared": 0, "coordinator.json": 0} {
		n, ok := ParseCheckpointDir(name)
		if n != want || ok != (want > 0) {
			t.Errorf("ParseCheckpointDir(%q): got %d, %v; want %d, %v", name, n, ok, want, want > 0)
		}
	}
	if n, ok := ParseCheckpointDir(CheckpointDirName(9)); n != 9 || !ok {
		t.Errorf("round trip of 9: got %d, %v", n, ok)
	}
}

// memStore is a CheckpointStore in a map; fail fails Get of a name.
type memStore struct {
	objects map[string][]byte
	fail    map[string]error
	deleted []string
}

func (s *memStore) Put(name string, data []byte) error { s.objects[name] = data; return nil }

func (s *memStore) Get(name string) ([]byte, error) {
	if err := s.fail[name]; err != nil {
		return nil, err
	}
	d, ok := s.objects[name]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", name, fs.ErrNotExist)
	}
	return d, nil
}

func (s *memStore) List(dir string) ([]string, error) {
	seen := map[string]bool{}
	for name := range s.objects { // lint:sorted sorted below
		if rest, ok := strings.CutPrefix(name, dir+"/"); ok {
			first, _, _ := strings.Cut(rest, "/")
			seen[first] = true
		}
	}
	var out []string
	for n := range seen { // lint:sorted sorted below
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func (s *memStore) Delete(name string) error {
	delete(s.objects, name)
	s.deleted = append(s.deleted, name)
	return nil
}

func TestRecoverCoordinator(t *testing.T) {
	l := Layout{Prefix: "job"}
	md := func(n int64) []byte { return fmt.Appendf(nil, `{"job":"job","checkpoint":%d,"handles":{}}`, n) }
	store := func() *memStore {
		return &memStore{objects: map[string][]byte{
			l.CoordinatorState():     []byte(`{"counter":4,"attempt":3}`),
			l.Metadata(10):           md(10),
			l.Metadata(2):            md(2),
			l.TaskHandle(11, "a", 0): []byte("x"), // incomplete
			l.Metadata(5):            []byte("{"), // damaged
			l.Metadata(6):            md(5),       // in the wrong directory
			l.SharedFile("ab"):       []byte("y"),
		}}
	}
	rec, err := RecoverCoordinator(store(), l)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != (State{Counter: 11, Attempt: 3}) {
		t.Errorf("state: got %+v, want counter 11 (the highest directory), attempt 3", rec.State)
	}
	var got []int64
	for _, m := range rec.Completed {
		got = append(got, m.Checkpoint)
	}
	if !slices.Equal(got, []int64{2, 10}) {
		t.Errorf("completed: got %v, want [2 10] (oldest first, numerically)", got)
	}
	if len(rec.Damaged) != 2 || rec.Damaged[0].Checkpoint != 5 || rec.Damaged[1].Checkpoint != 6 || !errors.Is(rec.Damaged[0].Err, ErrCorruptSnapshot) {
		t.Errorf("damaged: got %+v, want 5 and 6, corrupt", rec.Damaged)
	}

	fresh, err := RecoverCoordinator(&memStore{objects: map[string][]byte{}}, l)
	if err != nil || fresh.State != (State{}) || len(fresh.Completed) != 0 {
		t.Errorf("empty storage: got %+v, %v; want zeros", fresh, err)
	}

	// A flipped byte in a field name is damage too, not a missing field.
	for _, bad := range []string{"{not json", `{"count?r":4,"attempt":3}`, `{"counter":4,"attempt":3}x`} {
		s := store()
		s.objects[l.CoordinatorState()] = []byte(bad)
		if _, err := RecoverCoordinator(s, l); !errors.Is(err, ErrCorruptCoordinatorState) {
			t.Errorf("coordinator state %s: got %v, want ErrCorruptCoordinatorState", bad, err)
		}
	}
	injected := errors.New("injected")
	for _, name := range []string{l.CoordinatorState(), l.Metadata(10)} {
		s := store()
		s.fail = map[string]error{name: injected}
		if _, err := RecoverCoordinator(s, l); !errors.Is(err, injected) {
			t.Errorf("read of %s fails: got %v, want the error (not a skipped checkpoint)", name, err)
		}
	}
}

func TestDeleteCheckpointFilesMetadataFirst(t *testing.T) {
	l := Layout{Prefix: "job"}
	s := &memStore{objects: map[string][]byte{
		l.Metadata(3): nil, l.TaskHandle(3, "a", 0): nil, l.PrivateFile(3, "a", 0, "OPTIONS"): nil, l.Metadata(4): nil,
	}}
	n, err := DeleteCheckpointFiles(s, l, 3)
	if err != nil || n != 3 {
		t.Fatalf("got %d, %v; want 3 objects", n, err)
	}
	if want := []string{l.Metadata(3), l.TaskHandle(3, "a", 0), l.PrivateFile(3, "a", 0, "OPTIONS")}; !slices.Equal(s.deleted, want) {
		t.Errorf("deleted: got %v, want %v (metadata first)", s.deleted, want)
	}
	if _, ok := s.objects[l.Metadata(4)]; !ok {
		t.Error("checkpoint 4 was deleted too")
	}
}
