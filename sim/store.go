package sim

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// StoreOp names an operation on the durable store, for fault hooks.
type StoreOp string

// The operations a store fault can intercept.
const (
	StorePut    StoreOp = "put"
	StoreGet    StoreOp = "get"
	StoreDelete StoreOp = "delete"
)

// ErrNotFound is returned by Store.Get for a missing object. It wraps
// fs.ErrNotExist, as engine.CheckpointStore asks.
var ErrNotFound = fmt.Errorf("sim: object not found: %w", fs.ErrNotExist)

// Store is durable storage outside the workers, where checkpoints and the
// checkpoint metadata live: it survives every kill. Objects are written
// atomically (temp file, sync, rename), so a reader sees the old object or the
// new one, never half of one.
//
// Where it differs from S3 or HDFS: operations are instantaneous and
// strongly consistent; slowness and failure come only from the fault hook.
type Store struct {
	w      *World
	fs     vfs.FS
	fault  func(op StoreOp, name string) error
	puts   int
	bytes  int64
	tmpSeq int
}

func newStore(w *World) *Store { return &Store{w: w, fs: vfs.NewMem()} }

// SetFault installs fn, which may fail any operation by returning an error
// (nil lets it through). A nil fn removes the hook.
func (s *Store) SetFault(fn func(op StoreOp, name string) error) { s.fault = fn }

func (s *Store) check(op StoreOp, name string) error {
	if s.fault == nil {
		return nil
	}
	if err := s.fault(op, name); err != nil {
		s.w.Record(Event{Kind: EventStoreFailed, Op: string(op), Name: name, Err: err})
		return fmt.Errorf("store %s %s: %w", op, name, err)
	}
	return nil
}

// Put writes data to name atomically.
func (s *Store) Put(name string, data []byte) error {
	if err := s.check(StorePut, name); err != nil {
		return err
	}
	if err := WriteFileAtomic(s.fs, name, data, &s.tmpSeq); err != nil {
		return fmt.Errorf("store put %s: %w", name, err)
	}
	s.puts++
	s.bytes += int64(len(data))
	return nil
}

// Get reads name. A missing object gives an error wrapping ErrNotFound.
func (s *Store) Get(name string) ([]byte, error) {
	if err := s.check(StoreGet, name); err != nil {
		return nil, err
	}
	return s.read("get", name)
}

// Peek reads name as it is in the store, past the fault hook and without a
// trace line: what the checkers' end-of-run reader sees. A store fault
// models an access that fails, not data that is gone, so it must not turn
// into a verdict about the data. A missing object gives an error wrapping
// ErrNotFound.
func (s *Store) Peek(name string) ([]byte, error) { return s.read("peek", name) }

func (s *Store) read(op, name string) ([]byte, error) {
	f, err := s.fs.Open(name)
	if err != nil {
		if os.IsNotExist(err) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("store %s %s: %w", op, name, ErrNotFound)
		}
		return nil, fmt.Errorf("store %s %s: %w", op, name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("store %s %s: %w", op, name, err)
	}
	return data, nil
}

// Delete removes name; deleting a missing object is not an error.
func (s *Store) Delete(name string) error {
	if err := s.check(StoreDelete, name); err != nil {
		return err
	}
	if err := s.fs.Remove(name); err != nil && !os.IsNotExist(err) && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store delete %s: %w", name, err)
	}
	return nil
}

// List returns the names of the objects directly in dir, sorted.
func (s *Store) List(dir string) ([]string, error) {
	names, err := s.fs.List(dir)
	if err != nil {
		if os.IsNotExist(err) || errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("store list %s: %w", dir, err)
	}
	out := names[:0]
	for _, n := range names {
		if path.Ext(n) != ".tmp" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Corrupt flips one byte of name in place, as bit rot or a torn write the
// storage did not detect would. It bypasses the fault hook and atomicity on
// purpose.
func (s *Store) Corrupt(name string, at int) error {
	data, err := s.Get(name)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return fmt.Errorf("store corrupt %s: object is empty", name)
	}
	data[at%len(data)] ^= 0x5a
	s.w.Record(Event{Kind: EventStoreCorrupt, Name: name, N: int64(at % len(data))})
	return WriteFileAtomic(s.fs, name, data, &s.tmpSeq)
}

// Stats returns the number of successful puts and the bytes they wrote.
func (s *Store) Stats() (puts int, bytes int64) { return s.puts, s.bytes }

// FS exposes the store's file system, for backends that clone files in and
// out of it (pebble checkpoints).
func (s *Store) FS() vfs.FS { return s.fs }

// WriteFileAtomic writes data to name on fs so that a crash leaves either the
// old file or the new one: it writes a temporary file, syncs it, renames it
// over name and syncs the directory. seq numbers the temporary files.
func WriteFileAtomic(fs vfs.FS, name string, data []byte, seq *int) error {
	dir := path.Dir(name)
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	*seq++
	tmp := fmt.Sprintf("%s.%d.tmp", name, *seq)
	f, err := fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fs.Rename(tmp, name); err != nil {
		return err
	}
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// PebbleLogger is a pebble logger for simulated disks. pebble's default logger
// calls os.Exit on a fatal error, which would end the whole simulation; this
// one panics with a PebbleFatal instead, which the caller recovers and treats
// as a crash of the process that owns the DB.
type PebbleLogger struct{}

// PebbleFatal is the panic value of PebbleLogger.Fatalf.
type PebbleFatal struct{ Msg string }

func (f PebbleFatal) Error() string { return "pebble fatal: " + f.Msg }

// Infof discards informational messages.
func (PebbleLogger) Infof(string, ...any) {}

// Errorf discards error messages; pebble also returns the errors that matter.
func (PebbleLogger) Errorf(string, ...any) {}

// Fatalf panics with a PebbleFatal.
func (PebbleLogger) Fatalf(format string, args ...any) {
	panic(PebbleFatal{Msg: fmt.Sprintf(format, args...)})
}
