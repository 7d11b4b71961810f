package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// PebbleBackend keeps a task's keyed state in a pebble DB on the task's
// local disk and checkpoints it incrementally, as Flink's RocksDB backend
// does: a checkpoint flushes the memtable, takes a pebble checkpoint (SSTs
// hard-linked, MANIFEST, OPTIONS, WAL and markers copied) and hands the task
// the files to upload. An SST is immutable and is uploaded once: storage
// names it by the SHA-256 of its bytes (a shared file), and later
// checkpoints only reference it. The small files change every time and are
// uploaded with each checkpoint (private files). Restore downloads every
// file a snapshot lists into a fresh directory and opens it there; nothing
// on the local disk from before is ever read, so a kill that loses unsynced
// local data (writes are NoSync) cannot hurt a restore.
//
// Keys are laid out so that a key group is one contiguous range:
//
//	kg (2 bytes, big-endian) | kind ('v' value, 'l' list) | uvarint len(name) | name | key
//
// A list is one value: uvarint count, then uvarint len and bytes per element.
//
// Determinism: pebble runs flushes and compactions on its own goroutines.
// The backend never lets it decide when: automatic compactions are off, the
// memtable is flushed explicitly (every FlushBytes written, and at every
// checkpoint) long before it could fill and rotate by itself, and the whole
// key space is compacted synchronously every CompactFlushes flushes. With
// every call made from the task's one thread, file numbers and SST bytes are
// the same in every run. MANIFEST bytes are not (pebble stamps tables with
// the wall clock): nothing but their size and checksum leaves the backend,
// and only the size reaches a trace.
//
// A read or write that fails (a disk error, or a fatal pebble error, which
// pebble reports through Logger.Fatalf, a panic the backend recovers at the
// boundary of each method) returns a *StateError, which the task turns into
// a failure: the job restarts from its latest checkpoint. After a fatal
// error the DB is never touched again, not even to close it.
type PebbleBackend struct {
	cfg PebbleConfig
	db  *pebble.DB
	// dbDir is the open DB's directory; opened counts the DBs this backend
	// opened, which names their directories.
	dbDir  string
	opened int
	// written counts bytes written since the last flush (with a per-entry
	// allowance for the memtable's own overhead); dirty says anything was.
	written int
	dirty   bool
	flushes int
	// known are the SSTs of the open DB that checkpoint storage holds, by
	// local file name: their uploads completed, or they were restored.
	known  map[string]StateFile
	broken error
	closed bool
	// values caches value state in front of a Background DB: a keyed
	// function reads the key it then writes, and a memtable full of
	// versions is slow to search. Writes go to the DB too. The cache is
	// dropped with the DB, and wholesale once it holds valueCacheMax keys.
	values map[string]cachedValue
}

type cachedValue struct {
	v  string
	ok bool
}

// valueCacheMax bounds a Background backend's value cache.
const valueCacheMax = 1 << 16

func (b *PebbleBackend) cacheValue(k []byte, v string, ok bool) {
	if !b.cfg.Background {
		return
	}
	if b.values == nil || len(b.values) >= valueCacheMax {
		b.values = make(map[string]cachedValue, 1024)
	}
	b.values[string(k)] = cachedValue{v: v, ok: ok}
}

// PebbleConfig configures a PebbleBackend.
type PebbleConfig struct {
	// FS is the task's local disk (the worker's, in the simulator).
	FS vfs.FS
	// Dir is the backend's own directory on FS. Whatever is there at Open or
	// RestoreFiles is removed first: it is a previous incarnation's.
	Dir string
	// Logger gets pebble's informational and error messages (nil: they are
	// dropped). Its Fatalf is never called: the backend turns a fatal error
	// into a *StateError, so that the task can fail instead of the process
	// exiting.
	Logger pebble.Logger
	// FlushBytes is how many bytes (keys, values and an allowance per
	// entry) may be written before the memtable is flushed. It must stay
	// below pebble's first memtable size (256 KiB), so that pebble never
	// rotates a full memtable on its own. 0: 128 KiB.
	FlushBytes int
	// CompactFlushes is how many flushes may pile up in L0 before the whole
	// key space is compacted. The next checkpoint then uploads the
	// compacted files in full. 0: 16.
	CompactFlushes int
	// Background lets pebble flush and compact on its own goroutines,
	// with a memtable and a block cache of MemoryBytes each: for the live
	// runner, whose runs need not repeat byte for byte, and whose state
	// may be far larger than what a simulated run holds. FlushBytes and
	// CompactFlushes are then unused; the memtable is still flushed at
	// every checkpoint.
	Background  bool
	MemoryBytes int
}

// Defaults of PebbleConfig.
const (
	pebbleFlushBytes     = 128 << 10
	pebbleCompactFlushes = 16
	// pebbleEntryOverhead is the allowance per written entry for the
	// memtable's skiplist node and the key's trailer.
	pebbleEntryOverhead = 64
	// pebbleMemTableSize bounds pebble's memtable; pebble starts at 256 KiB
	// and doubles per memtable up to it.
	pebbleMemTableSize = 1 << 20
	pebbleCacheBytes   = 1 << 20
	// pebbleBackgroundMemory is a Background backend's memtable and cache
	// size, each.
	pebbleBackgroundMemory = 32 << 20
)

// NewPebbleBackend returns a backend on cfg.FS. It opens nothing yet: the
// task calls Open (fresh state) or RestoreFiles (from a checkpoint) first.
func NewPebbleBackend(cfg PebbleConfig) *PebbleBackend {
	if cfg.FlushBytes <= 0 {
		cfg.FlushBytes = pebbleFlushBytes
	}
	if cfg.CompactFlushes <= 0 {
		cfg.CompactFlushes = pebbleCompactFlushes
	}
	return &PebbleBackend{cfg: cfg, known: map[string]StateFile{}}
}

// StateError is the error of a state backend that cannot serve a read, a
// write or a checkpoint.
type StateError struct {
	Op  string
	Err error
}

func (e *StateError) Error() string { return fmt.Sprintf("state %s: %v", e.Op, e.Err) }
func (e *StateError) Unwrap() error { return e.Err }

// pebbleFatal is the panic value of pebbleLogger.Fatalf.
type pebbleFatal struct{ msg string }

func (f pebbleFatal) Error() string { return "pebble fatal: " + f.msg }

// pebbleLogger passes Infof and Errorf on and panics on Fatalf (pebble's
// default would os.Exit the whole process).
type pebbleLogger struct{ inner pebble.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	if l.inner != nil {
		l.inner.Infof(format, args...)
	}
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	if l.inner != nil {
		l.inner.Errorf(format, args...)
	}
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	panic(pebbleFatal{msg: fmt.Sprintf(format, args...)})
}

// catch is deferred by every method that calls pebble: a fatal pebble error
// (pebbleLogger's panic) becomes *err and marks the DB broken. Other panics
// (programmer errors) go on unchanged.
func (b *PebbleBackend) catch(op string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	if f, ok := r.(pebbleFatal); ok {
		b.broken = f
		*err = &StateError{Op: op, Err: f}
		return
	}
	panic(r)
}

// usable reports why the DB cannot be used, if it cannot.
func (b *PebbleBackend) usable(op string) error {
	switch {
	case b.broken != nil:
		return &StateError{Op: op, Err: fmt.Errorf("db unusable after an earlier fatal error: %w", b.broken)}
	case b.closed:
		return &StateError{Op: op, Err: errors.New("backend closed")}
	case b.db == nil:
		return &StateError{Op: op, Err: errors.New("backend not opened")}
	}
	return nil
}

func (b *PebbleBackend) options() *pebble.Options {
	if b.cfg.Background {
		mem := b.cfg.MemoryBytes
		if mem <= 0 {
			mem = pebbleBackgroundMemory
		}
		return &pebble.Options{
			FS:                 b.cfg.FS,
			Logger:             pebbleLogger{inner: b.cfg.Logger},
			MemTableSize:       uint64(mem),
			FormatMajorVersion: pebble.FormatNewest,
			// No WAL: a checkpoint flushes the memtable before it
			// takes the DB's files, and a task that fails restores
			// from a checkpoint into a fresh directory, never from
			// what it left on disk.
			DisableWAL: true,
		}
	}
	o := &pebble.Options{
		FS:                          b.cfg.FS,
		Logger:                      pebbleLogger{inner: b.cfg.Logger},
		DisableAutomaticCompactions: true,
		DisableTableStats:           true,
		MemTableSize:                pebbleMemTableSize,
		// Writes never stall on L0: only the backend compacts, and it does
		// so from the write path (flush), which a stall would deadlock.
		L0StopWritesThreshold: 1 << 30,
		L0CompactionThreshold: 1 << 29,
		FormatMajorVersion:    pebble.FormatNewest,
	}
	// Reads would otherwise sample keys and schedule read compactions.
	o.Experimental.ReadSamplingMultiplier = -1
	return o
}

// freshDir removes what a previous incarnation left and returns the
// directory for the next DB.
func (b *PebbleBackend) freshDir() (string, error) {
	if b.opened == 0 {
		if err := b.cfg.FS.RemoveAll(b.cfg.Dir); err != nil {
			return "", fmt.Errorf("clear %s: %w", b.cfg.Dir, err)
		}
	}
	b.opened++
	dir := path.Join(b.cfg.Dir, fmt.Sprintf("db-%d", b.opened))
	if err := b.cfg.FS.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	return dir, nil
}

func (b *PebbleBackend) open(dir string) error {
	o := b.options()
	cacheBytes := int64(pebbleCacheBytes)
	if b.cfg.Background {
		cacheBytes = int64(o.MemTableSize)
	}
	cache := pebble.NewCache(cacheBytes)
	defer cache.Unref()
	o.Cache = cache
	db, err := pebble.Open(dir, o)
	if err != nil {
		return fmt.Errorf("open pebble in %s: %w", dir, err)
	}
	b.db, b.dbDir, b.values = db, dir, nil
	b.known = map[string]StateFile{}
	b.written, b.dirty, b.flushes = 0, false, 0
	return nil
}

// Open opens empty state in a fresh directory.
func (b *PebbleBackend) Open() (err error) {
	defer b.catch("open", &err)
	b.closeDB()
	dir, err := b.freshDir()
	if err != nil {
		return err
	}
	return b.open(dir)
}

// Close closes the DB. It is what a cancelled task does; after a kill the
// driver calls it on the old disk, which no one reads any more. A broken
// DB is left alone: pebble may have died holding its locks.
func (b *PebbleBackend) Close() {
	b.closeDB()
	b.closed = true
}

func (b *PebbleBackend) closeDB() {
	if b.db == nil || b.broken != nil {
		b.db = nil
		return
	}
	db := b.db
	b.db = nil
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(pebbleFatal); !ok {
					panic(r)
				}
			}
		}()
		// A close error (a leaked iterator would be a bug here; a disk
		// error on the way out is not) changes nothing: the directory is
		// never opened again.
		_ = db.Close()
	}()
}

// Key layout.

const (
	kindValue byte = 'v'
	kindList  byte = 'l'
)

func stateKeyBytes(kg int, kind byte, name, key string) []byte {
	b := make([]byte, 0, 3+binary.MaxVarintLen64+len(name)+len(key))
	b = binary.BigEndian.AppendUint16(b, uint16(kg))
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	return append(b, key...)
}

// keyGroupStart is the first key of key group kg; keyGroupStart(kg+1) ends it.
func keyGroupStart(kg int) []byte {
	if kg > 0xffff {
		return []byte{0xff, 0xff, 0xff}
	}
	return binary.BigEndian.AppendUint16(nil, uint16(kg))
}

// keySpaceEnd is above every key.
var keySpaceEnd = []byte{0xff, 0xff, 0xff}

func decodeStateKey(k []byte) (kg int, kind byte, name, key string, err error) {
	if len(k) < 4 {
		return 0, 0, "", "", fmt.Errorf("state key %x too short", k)
	}
	kg, kind = int(binary.BigEndian.Uint16(k)), k[2]
	n, w := binary.Uvarint(k[3:])
	if w <= 0 || uint64(len(k)-3-w) < n {
		return 0, 0, "", "", fmt.Errorf("state key %x: bad name length", k)
	}
	rest := k[3+w:]
	return kg, kind, string(rest[:n]), string(rest[n:]), nil
}

func encodeList(l []string) []byte {
	n := binary.MaxVarintLen64
	for _, s := range l {
		n += binary.MaxVarintLen64 + len(s)
	}
	b := binary.AppendUvarint(make([]byte, 0, n), uint64(len(l)))
	for _, s := range l {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeList(b []byte) ([]string, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, errors.New("bad list length")
	}
	b = b[w:]
	out := make([]string, 0, n)
	for i := uint64(0); i < n; i++ {
		l, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < l {
			return nil, errors.New("bad list element")
		}
		out = append(out, string(b[w:w+int(l)]))
		b = b[w+int(l):]
	}
	if len(b) != 0 {
		return nil, errors.New("trailing bytes after list")
	}
	return out, nil
}

// Reads and writes.

func (b *PebbleBackend) get(op string, k []byte) ([]byte, bool, error) {
	v, closer, err := b.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, &StateError{Op: op, Err: err}
	}
	out := bytes.Clone(v)
	if err := closer.Close(); err != nil {
		return nil, false, &StateError{Op: op, Err: err}
	}
	return out, true, nil
}

func (b *PebbleBackend) set(op string, k, v []byte) error {
	if err := b.db.Set(k, v, pebble.NoSync); err != nil {
		return &StateError{Op: op, Err: err}
	}
	return b.wrote(len(k) + len(v))
}

func (b *PebbleBackend) del(op string, k []byte) error {
	if err := b.db.Delete(k, pebble.NoSync); err != nil {
		return &StateError{Op: op, Err: err}
	}
	return b.wrote(len(k))
}

// wrote counts a write and flushes once FlushBytes were written.
func (b *PebbleBackend) wrote(n int) error {
	b.dirty = true
	if b.cfg.Background {
		return nil // pebble flushes and compacts on its own
	}
	b.written += n + pebbleEntryOverhead
	if b.written >= b.cfg.FlushBytes {
		if err := b.flush(); err != nil {
			return &StateError{Op: "flush", Err: err}
		}
	}
	return nil
}

// flush turns the memtable into an L0 SST and waits for it, then compacts
// the whole key space once CompactFlushes flushes have piled up.
func (b *PebbleBackend) flush() error {
	if !b.dirty {
		return nil
	}
	if err := b.db.Flush(); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	b.written, b.dirty = 0, false
	b.flushes++
	if !b.cfg.Background && b.flushes >= b.cfg.CompactFlushes {
		if err := b.db.Compact(context.Background(), keyGroupStart(0), keySpaceEnd, false); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		b.flushes = 0
	}
	return nil
}

// Get implements StateBackend.
func (b *PebbleBackend) Get(kg int, name, key string) (v string, ok bool, err error) {
	defer b.catch("get", &err)
	if err := b.usable("get"); err != nil {
		return "", false, err
	}
	k := stateKeyBytes(kg, kindValue, name, key)
	if c, hit := b.values[string(k)]; hit {
		return c.v, c.ok, nil
	}
	raw, ok, err := b.get("get", k)
	if err != nil {
		return "", false, err
	}
	b.cacheValue(k, string(raw), ok)
	return string(raw), ok, nil
}

// Set implements StateBackend.
func (b *PebbleBackend) Set(kg int, name, key, value string) (err error) {
	defer b.catch("set", &err)
	if err := b.usable("set"); err != nil {
		return err
	}
	k := stateKeyBytes(kg, kindValue, name, key)
	if err := b.set("set", k, []byte(value)); err != nil {
		return err
	}
	b.cacheValue(k, value, true)
	return nil
}

// Delete implements StateBackend.
func (b *PebbleBackend) Delete(kg int, name, key string) (err error) {
	defer b.catch("delete", &err)
	if err := b.usable("delete"); err != nil {
		return err
	}
	k := stateKeyBytes(kg, kindValue, name, key)
	if err := b.del("delete", k); err != nil {
		return err
	}
	b.cacheValue(k, "", false)
	return nil
}

// GetList implements StateBackend. The result is the caller's.
func (b *PebbleBackend) GetList(kg int, name, key string) (l []string, err error) {
	defer b.catch("get list", &err)
	if err := b.usable("get list"); err != nil {
		return nil, err
	}
	v, ok, err := b.get("get list", stateKeyBytes(kg, kindList, name, key))
	if err != nil || !ok {
		return nil, err
	}
	if l, err = decodeList(v); err != nil {
		return nil, &StateError{Op: "get list", Err: err}
	}
	return l, nil
}

// Append implements StateBackend: read, append, write back.
func (b *PebbleBackend) Append(kg int, name, key, value string) (err error) {
	defer b.catch("append", &err)
	if err := b.usable("append"); err != nil {
		return err
	}
	k := stateKeyBytes(kg, kindList, name, key)
	v, ok, err := b.get("append", k)
	if err != nil {
		return err
	}
	var l []string
	if ok {
		if l, err = decodeList(v); err != nil {
			return &StateError{Op: "append", Err: err}
		}
	}
	return b.set("append", k, encodeList(append(l, value)))
}

// ClearList implements StateBackend.
func (b *PebbleBackend) ClearList(kg int, name, key string) (err error) {
	defer b.catch("clear list", &err)
	if err := b.usable("clear list"); err != nil {
		return err
	}
	return b.del("clear list", stateKeyBytes(kg, kindList, name, key))
}

// Snapshot returns the whole state, read back from the DB, sorted as the
// heap backend sorts it. Checkpoints do not use it (they upload files);
// tests and backend switches do.
func (b *PebbleBackend) Snapshot() (groups []KeyGroupState, err error) {
	defer b.catch("snapshot", &err)
	if err := b.usable("snapshot"); err != nil {
		return nil, err
	}
	if groups, err = scanState(b.db); err != nil {
		return nil, &StateError{Op: "snapshot", Err: err}
	}
	return groups, nil
}

// scanState reads every key of db into key groups.
func scanState(db *pebble.DB) (out []KeyGroupState, err error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: keyGroupStart(0), UpperBound: keySpaceEnd})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := it.Close(); err == nil {
			err = cerr
		}
	}()
	for it.First(); it.Valid(); it.Next() {
		kg, kind, name, key, err := decodeStateKey(it.Key())
		if err != nil {
			return nil, err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].KG != kg {
			out = append(out, KeyGroupState{KG: kg})
		}
		g := &out[len(out)-1]
		switch kind {
		case kindValue:
			g.Values = append(g.Values, ValueEntry{Name: name, Key: key, Value: string(v)})
		case kindList:
			l, err := decodeList(v)
			if err != nil {
				return nil, fmt.Errorf("list %s[%s]: %w", name, key, err)
			}
			g.Lists = append(g.Lists, ListEntry{Name: name, Key: key, Values: l})
		default:
			return nil, fmt.Errorf("state key %x: unknown kind %q", it.Key(), kind)
		}
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	// Keys sort by length-prefixed name; snapshots sort by name, then key.
	for i := range out {
		out[i].sortEntries()
	}
	return out, nil
}

// Restore implements StateBackend: it replaces the state with groups (a
// full snapshot, from the heap backend say), in a freshly opened DB.
func (b *PebbleBackend) Restore(groups []KeyGroupState) (err error) {
	if err := b.Open(); err != nil {
		return &StateError{Op: "restore", Err: err}
	}
	defer b.catch("restore", &err)
	for _, g := range groups {
		for _, v := range g.Values {
			if err := b.set("restore", stateKeyBytes(g.KG, kindValue, v.Name, v.Key), []byte(v.Value)); err != nil {
				return err
			}
		}
		for _, l := range g.Lists {
			if err := b.set("restore", stateKeyBytes(g.KG, kindList, l.Name, l.Key), encodeList(l.Values)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Checkpoints.

// Checkpoint is the synchronous part of checkpoint n: flush, take a pebble
// checkpoint with a flushed WAL into a local directory, and return its
// files, sorted by name. An SST storage already holds comes back without
// data and with its Object; every other file comes with its bytes and no
// Object (the task names it). The local directory is removed before
// Checkpoint returns: the bytes are in memory, the DB's own files are
// immutable.
func (b *PebbleBackend) Checkpoint(n int64) (StateCheckpoint, error) {
	files, err := b.checkpointFiles(n)
	return StateCheckpoint{Files: files}, err
}

func (b *PebbleBackend) checkpointFiles(n int64) (files []CheckpointFile, err error) {
	defer b.catch("checkpoint", &err)
	if err := b.usable("checkpoint"); err != nil {
		return nil, err
	}
	if err := b.flush(); err != nil {
		return nil, err
	}
	fs := b.cfg.FS
	dir := Layout{Prefix: b.cfg.Dir}.CheckpointDir(n)
	if err := fs.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := b.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return nil, fmt.Errorf("pebble checkpoint: %w", err)
	}
	defer func() {
		if rerr := fs.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("remove %s: %w", dir, rerr)
		}
	}()
	names, err := fs.List(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	sort.Strings(names)
	known := map[string]StateFile{}
	for _, name := range names {
		shared := strings.HasSuffix(name, ".sst")
		if f, ok := b.known[name]; ok && shared {
			known[name] = f
			files = append(files, CheckpointFile{StateFile: f})
			continue
		}
		data, err := readFile(fs, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(name, ".log") {
			data = trimWAL(name, data)
		}
		files = append(files, CheckpointFile{StateFile: StateFile{Name: name, Shared: shared, Size: int64(len(data)), SHA256: sha256Hex(data)}, Data: data})
	}
	// SSTs compacted away are gone for good: forget them.
	b.known = known
	return files, nil
}

// Uploaded records that f (a shared file of a checkpoint) is durable in
// storage under f.Object: later checkpoints reference it instead of
// uploading it again.
func (b *PebbleBackend) Uploaded(f StateFile) {
	if f.Shared && f.Object != "" {
		b.known[f.Name] = f
	}
}

// RestoreFiles restores the state from a checkpoint's files (data[i] holds
// files[i]'s bytes, checked by the caller): it writes them into a fresh
// directory, opens the DB there, and deletes every key group outside
// [start, end), which another subtask owns. The restored shared files are
// in storage already: they are not uploaded again.
func (b *PebbleBackend) RestoreFiles(files []StateFile, data [][]byte, start, end int) (err error) {
	defer b.catch("restore", &err)
	b.closeDB()
	dir, err := b.freshDir()
	if err != nil {
		return err
	}
	for i, f := range files {
		if f.Name != path.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return fmt.Errorf("%w: state file name %q", ErrCorruptSnapshot, f.Name)
		}
		if err := writeFile(b.cfg.FS, path.Join(dir, f.Name), data[i]); err != nil {
			return err
		}
	}
	if err := b.open(dir); err != nil {
		return err
	}
	if start > 0 {
		if err := b.db.DeleteRange(keyGroupStart(0), keyGroupStart(start), pebble.NoSync); err != nil {
			return fmt.Errorf("drop key groups below %d: %w", start, err)
		}
		b.dirty = true
	}
	if end <= 0xffff {
		if err := b.db.DeleteRange(keyGroupStart(end), keySpaceEnd, pebble.NoSync); err != nil {
			return fmt.Errorf("drop key groups from %d: %w", end, err)
		}
		b.dirty = true
	}
	for _, f := range files {
		b.Uploaded(f)
	}
	return nil
}

// ReadStateFiles returns the keyed state that a pebble checkpoint's files
// hold (data[i] is files[i]'s bytes), opened in memory, as Snapshot would:
// what a restore of every key group would see. The checkers read
// checkpoints with it, and the heap backend restores a pebble snapshot.
func ReadStateFiles(files []StateFile, data [][]byte) (groups []KeyGroupState, err error) {
	for i, f := range files {
		if err := f.Verify(data[i]); err != nil {
			return nil, err
		}
	}
	b := NewPebbleBackend(PebbleConfig{FS: vfs.NewMem(), Dir: "read"})
	defer b.Close()
	if err := b.RestoreFiles(files, data, 0, 1<<16); err != nil {
		return nil, err
	}
	defer b.catch("read", &err)
	return scanState(b.db)
}

// StateFile is one file of a file-based snapshot (pebble).
type StateFile struct {
	// Name is the file's name in the DB directory ("000005.sst").
	Name string `json:"name"`
	// Object is where checkpoint storage holds it.
	Object string `json:"object"`
	// Shared files (SSTs) are named by content and referenced by every
	// checkpoint that includes them; the others belong to one checkpoint.
	Shared bool   `json:"shared,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Verify checks that data is f's content.
func (f StateFile) Verify(data []byte) error {
	if int64(len(data)) != f.Size {
		return fmt.Errorf("%w: state file %s (%s): %d bytes, want %d", ErrCorruptSnapshot, f.Name, f.Object, len(data), f.Size)
	}
	if sha256Hex(data) != f.SHA256 {
		return fmt.Errorf("%w: state file %s (%s): checksum mismatch", ErrCorruptSnapshot, f.Name, f.Object)
	}
	return nil
}

// CheckpointFile is a StateFile of a local checkpoint with its bytes when
// they must be uploaded (nil: storage holds them already).
type CheckpointFile struct {
	StateFile
	Data []byte
}

// trimWAL cuts a copied WAL file after its last record. pebble recycles
// WAL files: a new log is written over an old one from offset 0, and the
// checkpoint copies the whole file, stale tail included (up to a memtable's
// worth of writes, uploaded at every checkpoint for nothing). What follows
// the last record of the log's own number is what a replay ignores anyway;
// cut there, the file is what a fresh, never recycled WAL would hold. A
// file that does not read cleanly is left whole.
func trimWAL(name string, data []byte) []byte {
	var num uint64
	if _, err := fmt.Sscanf(name, "%d.log", &num); err != nil {
		return data
	}
	r := newWALReader(record.NewReader, bytes.NewReader(data), num)
	end := int64(0)
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, record.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return data
		}
		if _, err := io.Copy(io.Discard, rec); err != nil {
			return data
		}
		end = r.Offset()
	}
	if end > int64(len(data)) {
		return data
	}
	return data[:end]
}

// newWALReader calls record.NewReader, whose log number type is internal
// to pebble: T is inferred from the function.
func newWALReader[T ~uint64](newReader func(io.Reader, T) *record.Reader, r io.Reader, num uint64) *record.Reader {
	return newReader(r, T(num))
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func readFile(fs vfs.FS, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

// writeFile writes data to name without syncing it: restored files only
// need to outlive the incarnation that wrote them. It writes a copy: pebble's
// MemFS scribbles over the buffer it was given in invariant (race) builds,
// and data is the caller's.
func writeFile(fs vfs.FS, name string, data []byte) error {
	f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(bytes.Clone(data)); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
