package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/live/livetest"
	"github.com/onceproof/onceproof/internal/atomicfile"
	"github.com/onceproof/onceproof/internal/jsonfile"
	"github.com/twmb/franz-go/pkg/kerr"
)

// A run's identity. Every run has a job id (given with --job-id, or made up
// from the clock): its topics are named onceproof-bench-<id>-<topic> on a
// shared cluster (unless --input-topic/--output-topic name them), and every
// transactional id its sinks use starts with onceproof-bench-<id>-. A run
// restarted under the same id therefore reaches, fences and resolves the
// transactions the previous attempt left open, from the checkpoints in its
// checkpoint directory, exactly as the engine does after a failure inside
// one process.
//
// The checkpoint directory also holds the run's manifest (ManifestName):
// the job id and every option that decides the input and the state, written
// before the run touches Kafka. A resume reads it back, takes the options
// it was not given from it, and refuses one that contradicts it.

// ManifestName is the manifest's file in a run's checkpoint directory.
const ManifestName = "bench-run.json"

// TopicPrefix starts the names of the topics bench creates on a shared
// cluster and of every transactional id it uses.
const TopicPrefix = "onceproof-bench-"

// validJobID is what a job id may hold: what a Kafka topic name may, with
// room left for the prefix and the job's own topic names.
var validJobID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,180}$`)

func checkJobID(id string) error {
	if !validJobID.MatchString(id) {
		if id == "" {
			return errors.New("--job-id: empty (want letters, digits, '.', '_' or '-')")
		}
		if len(id) > 180 {
			return fmt.Errorf("--job-id: %d characters, at most 180 fit in a Kafka topic name", len(id))
		}
		return fmt.Errorf("--job-id: %q holds a character a Kafka topic name cannot (use letters, digits, '.', '_' or '-')", id)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("--job-id: %q is not a name", id)
	}
	return nil
}

// TxnPrefixFor is the start of every transactional id of job id's sinks.
func TxnPrefixFor(jobID string) string { return TopicPrefix + jobID + "-" }

// DefaultCheckpointDir is where a run given --job-id and no
// --checkpoint-dir keeps its checkpoints: a directory of the system's
// temporary directory named after the job, so that it outlives a killed
// process and a rerun under the same id finds it.
func DefaultCheckpointDir(jobID string) string {
	return filepath.Join(os.TempDir(), "onceproof-bench", jobID)
}

// Manifest is what a resume needs to know of the run it resumes.
type Manifest struct {
	JobID string `json:"job_id"`
	// The options that decide the input and the state: a resume must run
	// with the same ones.
	Job         string `json:"job"`
	Parallelism int    `json:"parallelism"`
	Partitions  int32  `json:"partitions"`
	Records     int    `json:"records"`
	Keys        int    `json:"keys"`
	Seed        uint64 `json:"seed"`
	Guarantee   string `json:"guarantee"`
	Backend     string `json:"backend"`
	// InputTopics are the actual input topics, in the job's input order;
	// OutputTopic the actual output topic.
	InputTopics []string `json:"input_topics"`
	OutputTopic string   `json:"output_topic"`
	TxnPrefix   string   `json:"txn_prefix"`
	// Created are the topics the first run created: deleted when the job
	// completes, unless it was told to keep them.
	Created []string `json:"created,omitempty"`
	// Started is when the first run started; Runs counts the runs, the
	// first and every resume; Command is the first run's command line.
	Started time.Time `json:"started"`
	Runs    int       `json:"runs"`
	Command string    `json:"command,omitempty"`
	// Finished is set once a run of the job drained all its input and
	// stopped; Verdict is that run's exactly-once verdict.
	Finished bool   `json:"finished,omitempty"`
	Verdict  string `json:"verdict,omitempty"`
}

// newManifest records o, which names the job jobID.
func newManifest(o RunOptions, jobID string, inputs []string, output string, created []string) *Manifest {
	return &Manifest{JobID: jobID, Job: o.Job, Parallelism: o.Parallelism, Partitions: o.Partitions, Records: o.Records,
		Keys: o.Keys, Seed: o.Seed, Guarantee: o.Guarantee, Backend: o.Backend,
		InputTopics: inputs, OutputTopic: output, TxnPrefix: TxnPrefixFor(jobID), Created: created,
		Started: time.Now().UTC(), Runs: 1, Command: o.Command}
}

// ReadManifest reads the manifest of the run whose checkpoint directory is
// dir. A directory without one is not a bench run's.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if st, serr := os.Stat(dir); serr != nil || !st.IsDir() {
			return nil, InputError{fmt.Errorf("%s: no such directory", dir)}
		}
		return nil, InputError{fmt.Errorf("%s: not the checkpoint directory of a bench run (no %s)", dir, ManifestName)}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, InputError{fmt.Errorf("%s: %w", path, jsonfile.Describe(data, err))}
	}
	if m.JobID == "" || m.Job == "" {
		return nil, InputError{fmt.Errorf("%s: no job id or job: not a bench run's manifest", path)}
	}
	return &m, nil
}

// write saves m in dir atomically and durably.
func (m *Manifest) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint directory: %w", err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, ManifestName), append(data, '\n'))
}

// Mismatch names the first option of o that contradicts the run m records,
// as the flag a user would change. It is nil when o may resume m.
func (m *Manifest) Mismatch(o RunOptions) error {
	type field struct {
		flag      string
		was, want string
	}
	fields := []field{
		{"job", m.Job, o.Job},
		{"--parallelism", fmt.Sprint(m.Parallelism), fmt.Sprint(o.Parallelism)},
		{"--partitions", fmt.Sprint(m.Partitions), fmt.Sprint(o.Partitions)},
		{"--records", fmt.Sprint(m.Records), fmt.Sprint(o.Records)},
		{"--keys", fmt.Sprint(m.Keys), fmt.Sprint(o.Keys)},
		{"--seed", fmt.Sprint(m.Seed), fmt.Sprint(o.Seed)},
		{"--guarantee", m.Guarantee, o.Guarantee},
		{"--backend", m.Backend, o.Backend},
	}
	if o.JobID != "" {
		fields = append(fields, field{"--job-id", m.JobID, o.JobID})
	}
	if len(o.InputTopics) > 0 {
		fields = append(fields, field{"--input-topic", strings.Join(m.InputTopics, ","), strings.Join(o.InputTopics, ",")})
	}
	if o.OutputTopic != "" {
		fields = append(fields, field{"--output-topic", m.OutputTopic, o.OutputTopic})
	}
	for _, f := range fields {
		if f.was == f.want {
			continue
		}
		if f.flag == "job" {
			return InputError{fmt.Errorf("--from-checkpoint: the run there is of job %s, not %s", f.was, f.want)}
		}
		return InputError{fmt.Errorf("%s %s: the run being resumed had %s %s; a resume runs on the same input and state (leave %s out to take the resumed run's)",
			f.flag, f.want, f.flag, f.was, f.flag)}
	}
	return nil
}

// Apply takes every identity option o was not given (given false for its
// flag) from m, so that a resume needs no more than --from-checkpoint.
func (m *Manifest) Apply(o *RunOptions, given func(flag string) bool) {
	unlessGiven(given, "job", &o.Job, m.Job)
	unlessGiven(given, "--parallelism", &o.Parallelism, m.Parallelism)
	unlessGiven(given, "--partitions", &o.Partitions, m.Partitions)
	unlessGiven(given, "--records", &o.Records, m.Records)
	unlessGiven(given, "--keys", &o.Keys, m.Keys)
	unlessGiven(given, "--seed", &o.Seed, m.Seed)
	unlessGiven(given, "--guarantee", &o.Guarantee, m.Guarantee)
	unlessGiven(given, "--backend", &o.Backend, m.Backend)
	unlessGiven(given, "--job-id", &o.JobID, m.JobID)
}

// unlessGiven sets *opt to the manifest's v unless flag was given.
func unlessGiven[T any](given func(flag string) bool, flag string, opt *T, v T) {
	if !given(flag) {
		*opt = v
	}
}

// InputError is bad input to a run that only shows once the run looks at
// the world: a checkpoint directory that is not a run's, a resume that
// contradicts the run it resumes, a topic that is not what the run needs.
// The CLI exits 2 on it.
type InputError struct{ Err error }

func (e InputError) Error() string { return e.Err.Error() }
func (e InputError) Unwrap() error { return e.Err }

// runJob is one run's identity and what it found and made: its job id,
// checkpoint directory, actual topic names and the input already there.
type runJob struct {
	jobID string
	dir   string
	// tempDir: dir is a temporary directory, removed at the end (nothing
	// can resume the run); ownDir: dir is the job id's default, removed
	// once the job has finished and its topics are gone.
	tempDir, ownDir bool
	manifest        *Manifest // nil on an in-process broker: nothing to resume against
	topics          map[string]string
	// created are the topics the job owns (deleted when it finishes);
	// made the ones this run created; fresh says this run is the job's
	// first.
	created, made []string
	fresh         bool
	// had[i] says input record i was in its topic before this run wrote
	// anything; present counts them.
	had     []bool
	present int
	brokers []string
	done    bool
}

// name maps a topic name of the job to the actual topic.
func (j *runJob) name(t string) string {
	if n, ok := j.topics[t]; ok {
		return n
	}
	return t
}

func (j *runJob) resumable() bool { return j.manifest != nil && !j.tempDir }

// dirKept is the checkpoint directory if it outlives the run.
func (j *runJob) dirKept() string {
	if j.tempDir {
		return ""
	}
	return j.dir
}

var validTopic = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// prepareJob settles the run's identity, checkpoint directory and topics,
// creates the topics it owns, and works out which input records are already
// in the input topics (a resumed run, or an input topic given full). It
// returns a runJob whenever there is something to clean up, even with an
// error.
func prepareJob(ctx context.Context, c *Cluster, o RunOptions, spec *jobs.Spec, p jobs.Params, in *Input) (*runJob, error) {
	j := &runJob{topics: map[string]string{}, brokers: o.Brokers}
	external := c.Broker == nil
	inputs, out := spec.Inputs(p), spec.Output(p)
	var prev *Manifest
	switch {
	case o.Resume:
		j.dir = o.CheckpointDir
		m, err := ReadManifest(j.dir)
		if err != nil {
			return nil, err
		}
		if m.Finished {
			return nil, InputError{fmt.Errorf("--from-checkpoint %s: job %s finished there (verdict %s); there is nothing to resume", j.dir, m.JobID, m.Verdict)}
		}
		if err := m.Mismatch(o); err != nil {
			return nil, err
		}
		prev, j.jobID = m, m.JobID
		j.ownDir = j.dir == DefaultCheckpointDir(m.JobID)
	default:
		j.fresh = true
		j.jobID = o.JobID
		if j.jobID == "" {
			j.jobID = fmt.Sprint(time.Now().UnixNano())
		}
		switch {
		case o.CheckpointDir != "":
			j.dir = o.CheckpointDir
		case o.JobID != "" && external:
			j.dir, j.ownDir = DefaultCheckpointDir(o.JobID), true
		default:
			dir, err := os.MkdirTemp("", "bench-checkpoints-")
			if err != nil {
				return nil, err
			}
			j.dir, j.tempDir = dir, true
		}
		if m, err := ReadManifest(j.dir); err == nil && external {
			state := "was killed or stopped before it finished: resume it with --from-checkpoint " + j.dir
			if m.Finished {
				state = "finished (verdict " + m.Verdict + "); give another --job-id or --checkpoint-dir, or delete " + j.dir
			}
			return nil, InputError{fmt.Errorf("checkpoint directory %s holds job %s, which %s", j.dir, m.JobID, state)}
		}
	}

	// Topic names: the manifest's on a resume; else the ones given, or
	// the job's own, prefixed with the job id on a shared cluster.
	own := func(t string) string {
		if external {
			return TopicPrefix + j.jobID + "-" + t
		}
		return t
	}
	var actualIn []string
	for i, t := range inputs {
		n := own(t.Name)
		switch {
		case prev != nil:
			n = prev.InputTopics[i]
		case len(o.InputTopics) > 0:
			n = o.InputTopics[i]
		}
		j.topics[t.Name] = n
		actualIn = append(actualIn, n)
	}
	outName := own(out.Name)
	switch {
	case prev != nil:
		outName = prev.OutputTopic
	case o.OutputTopic != "":
		outName = o.OutputTopic
	}
	j.topics[out.Name] = outName
	// The job's own topics are created, and must not exist yet; named
	// ones with --create-topics are created if they do not exist, and are
	// the job's only then.
	var ifMissing []string
	switch {
	case prev != nil:
		j.created = prev.Created
	default:
		if len(o.InputTopics) == 0 {
			j.created = append(j.created, actualIn...)
		} else if o.CreateTopics {
			ifMissing = append(ifMissing, actualIn...)
		}
		if o.OutputTopic == "" {
			j.created = append(j.created, outName)
		} else if o.CreateTopics {
			ifMissing = append(ifMissing, outName)
		}
	}

	// The manifest goes first: a run killed from here on can be resumed.
	if external {
		if prev != nil {
			prev.Runs++
			j.manifest = prev
		} else {
			j.manifest = newManifest(o, j.jobID, actualIn, outName, j.created)
		}
		if err := j.manifest.write(j.dir); err != nil {
			return j, err
		}
	}

	parts := map[string]int32{outName: out.Partitions}
	for i, t := range inputs {
		parts[actualIn[i]] = t.Partitions
	}
	for _, t := range append(append([]string(nil), actualIn...), outName) {
		if err := j.ensureTopic(ctx, c, o, t, parts[t], prev != nil, slices.Contains(ifMissing, t)); err != nil {
			return j, err
		}
	}
	// Named topics this run created are the job's from now on. (A run
	// killed before this write leaves them out: never deleted, rather
	// than a topic that existed before taken for the job's.)
	var added []string
	for _, t := range j.made {
		if !slices.Contains(j.created, t) {
			added = append(added, t)
		}
	}
	if len(added) > 0 {
		j.created = append(j.created, added...)
		if j.manifest != nil {
			j.manifest.Created = j.created
			if err := j.manifest.write(j.dir); err != nil {
				return j, err
			}
		}
	}

	// The output must hold nothing but this job's output.
	if prev == nil {
		ends, err := c.Ends(ctx, outName, out.Partitions)
		if err != nil {
			return j, err
		}
		var n int64
		for _, v := range ends { // lint:sorted sums
			n += v
		}
		if n > 0 {
			instead := "another --job-id"
			if o.OutputTopic != "" {
				instead = "an empty --output-topic"
			}
			return j, InputError{fmt.Errorf("output topic %s is not empty (its partitions end at %d offsets in all): the exactly-once check needs an output only this job writes; give %s", outName, n, instead)}
		}
	}
	return j, j.planInput(ctx, c, in, inputs)
}

// ensureTopic creates topic if the run owns it, and checks that it exists
// with the partitions the job needs.
//
// ifMissing (a topic named with --create-topics) creates it only if it
// does not exist.
func (j *runJob) ensureTopic(ctx context.Context, c *Cluster, o RunOptions, topic string, partitions int32, resume, ifMissing bool) error {
	if slices.Contains(j.created, topic) || ifMissing {
		err := c.CreateTopicSpec(ctx, topic, partitions, o.Topics)
		if err == nil {
			j.made = append(j.made, topic)
		}
		switch {
		case errors.Is(err, kerr.TopicAlreadyExists) && (resume || ifMissing):
		case errors.Is(err, kerr.TopicAlreadyExists):
			return InputError{fmt.Errorf("topic %s already exists: job %s ran before? Resume it with --from-checkpoint, choose another --job-id, or name existing topics with --input-topic and --output-topic", topic, j.jobID)}
		case err != nil:
			return err
		}
	}
	// A topic just created may take a moment to show in metadata.
	var n int32
	var err error
	for try := 0; try < 20; try++ {
		if n, err = c.Partitions(ctx, topic); !errors.Is(err, kerr.UnknownTopicOrPartition) || !slices.Contains(j.made, topic) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition) && resume:
		return InputError{fmt.Errorf("topic %s of job %s no longer exists: the job cannot be resumed", topic, j.jobID)}
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return InputError{fmt.Errorf("topic %s does not exist (give --create-topics to create it)", topic)}
	case err != nil:
		return err
	case n != partitions:
		return InputError{fmt.Errorf("topic %s has %d partitions, the job needs %d (give --partitions %d)", topic, n, partitions, n)}
	}
	return nil
}

// planInput finds how much of the input is in its topics already. Each
// partition of an input topic is written in order by an idempotent
// producer, so what a killed run wrote is a prefix of each partition's
// share of the input: those records are kept (had), the rest is this run's
// to write (in.todo). A partition holding more than its share, or whose
// log does not start at 0, holds something else, and is refused.
func (j *runJob) planInput(ctx context.Context, c *Cluster, in *Input, inputs []jobs.Topic) error {
	have := map[string]int64{}
	for _, t := range inputs {
		topic := j.name(t.Name)
		ends, err := c.Ends(ctx, topic, t.Partitions)
		if err != nil {
			return err
		}
		starts, err := c.Starts(ctx, topic, t.Partitions)
		if err != nil {
			return err
		}
		for k, v := range ends { // lint:sorted checks each
			if v > 0 && starts[k] != 0 {
				return InputError{fmt.Errorf("input topic partition %s starts at offset %d: records were deleted from it, so it cannot hold this job's input; give an empty topic", k, starts[k])}
			}
			have[k] = v
		}
	}
	want := map[string]int64{}
	j.had = make([]bool, len(in.Records))
	in.todo = in.todo[:0]
	for i, r := range in.Records {
		k := fmt.Sprintf("%s/%d", j.name(r.Topic), r.Partition)
		want[k]++
		if want[k] <= have[k] {
			j.had[i] = true
			j.present++
		} else {
			in.todo = append(in.todo, i)
		}
	}
	for _, k := range sortedKeys(have) {
		if have[k] > want[k] {
			return InputError{fmt.Errorf("input topic partition %s holds %d records, more than the %d of this job's input (--records, --keys, --seed): it holds other data; give an empty topic", k, have[k], want[k])}
		}
	}
	return nil
}

// finish ends a run that drained its input: the manifest says the job
// finished, and the topics it created are deleted unless they are to be
// kept (--keep-topics, or a verdict that is not ok: they are the
// evidence). It reports whether the topics were deleted.
func (j *runJob) finish(ctx context.Context, c *Cluster, o RunOptions, res *RunResult) bool {
	j.done = true
	verdict := livetest.Verdict(res.Verdicts)
	if j.manifest != nil {
		j.manifest.Finished, j.manifest.Verdict = true, verdict.String()
		if !o.Verify {
			j.manifest.Verdict = "none (--verify=false)"
		}
		if err := j.manifest.write(j.dir); err != nil {
			logf(o.Log, "job %s: could not mark the checkpoint directory finished: %v", j.jobID, err)
		}
	}
	if c.Broker != nil || len(j.created) == 0 {
		j.removeDir()
		return false // the in-process broker takes its topics with it
	}
	switch {
	case o.KeepTopics:
		logf(o.Log, "kept topics %s (--keep-topics)", strings.Join(j.created, ", "))
		return false
	case o.Verify && verdict != checkers.Ok:
		logf(o.Log, "kept topics %s: the verdict is not ok, and they are its evidence", strings.Join(j.created, ", "))
		return false
	}
	if err := c.DeleteTopics(ctx, j.created...); err != nil {
		logf(o.Log, "job %s: %v", j.jobID, err)
		return false
	}
	logf(o.Log, "deleted topics %s", strings.Join(j.created, ", "))
	if j.ownDir {
		j.tempDir = true // nothing is left to resume
	}
	j.removeDir()
	return true
}

func (j *runJob) removeDir() {
	if j.tempDir {
		_ = os.RemoveAll(j.dir) // scratch; a leftover costs space only
	}
}

// abandon cleans up after a run that ended before it finished. A first run
// refused for bad input undoes what it made (topics, manifest). A resumable
// run keeps its checkpoints and topics and says how to resume it. One that
// cannot be resumed (its checkpoints were temporary) deletes the topics it
// created.
func (j *runJob) abandon(c *Cluster, log io.Writer, runErr error) {
	if j.done {
		return
	}
	j.done = true
	refused := errors.As(runErr, new(InputError))
	if j.resumable() && !(refused && j.fresh) {
		if runErr != nil && !refused {
			topics := slices.Sorted(maps.Values(j.topics))
			logf(log, "job %s can be resumed: bench run --from-checkpoint %s --brokers %s, with the same TLS and SASL flags (its checkpoints and topics %s are kept)",
				j.jobID, j.dir, strings.Join(j.brokers, ","), strings.Join(topics, ", "))
		}
		return
	}
	if c.Broker == nil && len(j.made) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.DeleteTopics(ctx, j.made...); err != nil {
			logf(log, "job %s: %v", j.jobID, err)
		}
	}
	if refused && j.fresh && j.manifest != nil {
		_ = os.Remove(filepath.Join(j.dir, ManifestName)) // the job never ran: nothing to resume
		if j.ownDir {
			j.tempDir = true
		}
	}
	j.removeDir()
}
