package engine

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Layout builds and parses every path of checkpoint storage; nothing else
// spells one out. Under Prefix (a job's directory, slash-separated):
//
//	coordinator.json                  the coordinator's State (counter, attempt)
//	chk-N/                            checkpoint N
//	chk-N/_metadata                   its Metadata: written last, the commit point
//	chk-N/<vertex>-<subtask>          one task's snapshot (its handle)
//	chk-N/<vertex>-<subtask>.<name>   a private state file of that task (pebble's
//	                                  MANIFEST, OPTIONS, WAL, markers)
//	shared/<sha256>.sst               a shared state file (an SST), named by content
//
// A chk-N directory without _metadata is a checkpoint that never completed.
// Deleting a checkpoint deletes its directory, metadata first
// (DeleteCheckpointFiles); a shared file goes once no retained checkpoint
// references it (Metadata.Shared). A pebble backend also names its local
// checkpoint directories with a Layout over its own directory.
type Layout struct {
	// Prefix is the job's directory in storage ("" for the root).
	Prefix string
}

// MetadataFile is the name of a checkpoint's metadata inside its directory.
const MetadataFile = "_metadata"

const (
	coordinatorStateFile = "coordinator.json"
	checkpointDirPrefix  = "chk-"
	sharedDir            = "shared"
)

func (l Layout) join(elem ...string) string {
	if l.Prefix == "" {
		return path.Join(elem...)
	}
	return path.Join(append([]string{l.Prefix}, elem...)...)
}

// Root is the job's directory: what List of it shows are checkpoint
// directories (ParseCheckpointDir), the coordinator state and the shared
// directory.
func (l Layout) Root() string { return l.join(".") }

// CoordinatorState is where the coordinator's State lives.
func (l Layout) CoordinatorState() string { return l.join(coordinatorStateFile) }

// CheckpointDirName is the name of checkpoint n's directory in the root.
func CheckpointDirName(n int64) string { return checkpointDirPrefix + strconv.FormatInt(n, 10) }

// CheckpointDir is checkpoint n's directory.
func (l Layout) CheckpointDir(n int64) string { return l.join(CheckpointDirName(n)) }

// Metadata is checkpoint n's metadata file.
func (l Layout) Metadata(n int64) string { return l.join(CheckpointDirName(n), MetadataFile) }

// taskName is a task's file name stem: "<vertex>-<subtask>".
func taskName(vertex string, subtask int) string { return fmt.Sprintf("%s-%d", vertex, subtask) }

// TaskHandle is the snapshot of subtask of vertex in checkpoint n.
func (l Layout) TaskHandle(n int64, vertex string, subtask int) string {
	return l.join(CheckpointDirName(n), taskName(vertex, subtask))
}

// PrivateFile is a private state file called name of subtask of vertex in
// checkpoint n: it belongs to that checkpoint and goes with its directory.
func (l Layout) PrivateFile(n int64, vertex string, subtask int, name string) string {
	return l.join(CheckpointDirName(n), taskName(vertex, subtask)+"."+name)
}

// SharedFile is the shared state file whose content has SHA-256 sum.
func (l Layout) SharedFile(sum string) string { return l.join(sharedDir, sum+".sst") }

// ParseCheckpointDir returns n for the name "chk-N" of a checkpoint
// directory (an entry of Root), and false for any other name ("chk-01" and
// "chk-1x" included, which no Layout makes).
func ParseCheckpointDir(name string) (int64, bool) {
	s, ok := strings.CutPrefix(name, checkpointDirPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || CheckpointDirName(n) != name {
		return 0, false
	}
	return n, true
}
