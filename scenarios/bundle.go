package scenarios

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/faults"
	"github.com/onceproof/onceproof/internal/atomicfile"
	"github.com/onceproof/onceproof/internal/invoke"
)

// A failure bundle is a directory that holds everything needed to look at a
// failed run and to run it again (DESIGN.md, "Failure bundles and results"):
//
//	run.json     what ran and what the checkers said (Bundle, as JSON)
//	trace.txt    the full event trace, one line per event
//	report.html  a self-contained page: timeline picture, verdicts, plan
//	plan.json    the fault plan, loadable with chaosrun run --faults
//	REPRODUCE    the command that replays the run
//
// plus any attachments the outcome carried (Outcome.Attachments, such as
// porcupine's visualization). Every file is written atomically, and run.json
// last: a directory with a run.json is a complete bundle.
//
// A bundle cannot lie: run.json records the SHA-256 of every other file
// (file_sha256) and of itself (run_json_sha256: the SHA-256 of run.json with
// that field's value replaced by 64 zeros), and ReadBundle refuses a bundle
// whose files were edited or are missing, naming the file. A replay then
// reruns what was written, not what someone changed since.
const (
	BundleRunFile       = "run.json"
	BundleTraceFile     = "trace.txt"
	BundleReportFile    = "report.html"
	BundlePlanFile      = "plan.json"
	BundleReproduceFile = "REPRODUCE"
)

// bundleFormat is run.json's format version. ReadBundle reads it and
// bundleFormatUnverified, the format before bundles carried checksums, whose
// files it cannot check (Bundle.Verified is false).
const (
	bundleFormat           = 2
	bundleFormatUnverified = 1
)

// Plan sources, for Bundle.PlanSource.
const (
	// PlanFromScenario: the scenario's own plan, or the swarm plan drawn
	// from the seed. Replay lets the scenario choose it again.
	PlanFromScenario = "scenario"
	// PlanGiven: the caller passed the plan (chaosrun run --faults, a
	// shrunk plan from explore). Replay passes it again.
	PlanGiven = "given"
)

// Bundle is run.json: a failed run's identity (scenario, seed, build,
// mutants, plan) and what it did (digest, verdicts, fired faults).
type Bundle struct {
	// Dir is where the bundle was read from; not saved.
	Dir string `json:"-"`

	Format   int    `json:"format"`
	Scenario string `json:"scenario"`
	Seed     uint64 `json:"seed"`
	// Build names the code that ran: commit (or "devel") and Go version.
	// A replay on other code may legitimately give another digest.
	Build   string            `json:"build"`
	Options map[string]string `json:"options"`
	Swarm   string            `json:"swarm,omitempty"`
	Mutants []string          `json:"mutants,omitempty"`
	// PlanSource says whether replay must pass Plan (PlanGiven) or let the
	// scenario derive it from the seed (PlanFromScenario).
	PlanSource string      `json:"plan_source"`
	Plan       faults.Plan `json:"plan"`

	Verdict  checkers.Verdict  `json:"verdict"`
	Verdicts []checkers.Result `json:"verdicts"`
	// FirstBad is the first bad record of the worst failing checker.
	FirstBad *FirstBad `json:"first_bad,omitempty"`

	Digest  string         `json:"digest"`
	Events  int            `json:"events"`
	SimTime time.Duration  `json:"sim_time_ns"`
	Stats   map[string]int `json:"stats,omitempty"`
	Fired   []string       `json:"fired,omitempty"`

	// Reproduce is the command that replays the bundle (also in REPRODUCE).
	Reproduce string `json:"reproduce"`
	// Files lists the bundle's files besides run.json, attachments included.
	Files []string `json:"files"`
	// FileSHA256 is the hex SHA-256 of each file of Files.
	FileSHA256 map[string]string `json:"file_sha256,omitempty"`
	// RunSHA256 is the hex SHA-256 of run.json itself with this field's
	// value replaced by 64 zeros: an edit to the options, the plan or the
	// seed in run.json changes it.
	RunSHA256 string `json:"run_json_sha256,omitempty"`

	// Verified is set by ReadBundle when every checksum matched; false for
	// a bundle of format 1, which has none. Not saved.
	Verified bool `json:"-"`
}

// FirstBad points at one concrete record to look at.
type FirstBad struct {
	Checker string `json:"checker"`
	Anomaly string `json:"anomaly,omitempty"`
	Record  string `json:"record"`
}

// Build names the running code: the VCS revision the binary was built from
// ("+dirty" when the tree had changes), else its module version ("go
// install ...@v1.2.0"), else "devel"; and the Go version.
func Build() string {
	b := invoke.Read()
	rev := "devel"
	if b.Version != "" {
		rev = b.Version
	}
	if b.Revision != "" {
		rev = b.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if b.Modified {
			rev += "+dirty"
		}
	}
	return rev + " " + b.GoVersion
}

// BundleName is the directory name chaosrun gives a bundle:
// "<scenario>-seed<N>", with "-mutant-<a>+<b>" when mutants were on, so
// that sweeps of different mutants do not overwrite each other's bundles.
func BundleName(scenario string, seed uint64, mutants []string) string {
	name := fmt.Sprintf("%s-seed%d", scenario, seed)
	if len(mutants) > 0 {
		name += "-mutant-" + strings.Join(mutants, "+")
	}
	return name
}

// firstBad picks the first bad record of the worst failing verdict.
func firstBad(vs []checkers.Result) *FirstBad {
	worst := checkers.Worst(vs...)
	for _, pass := range []bool{true, false} {
		for _, v := range vs {
			if v.Verdict == checkers.Ok || v.FirstBad == "" || (pass && v.Verdict != worst) {
				continue
			}
			return &FirstBad{Checker: v.Checker, Anomaly: v.Anomaly, Record: v.FirstBad}
		}
	}
	return nil
}

// NewBundle describes outcome o of a run with options ro as the bundle that
// would be written to dir.
func NewBundle(dir string, o *Outcome, ro RunOptions, build string) *Bundle {
	b := &Bundle{
		Dir: dir, Format: bundleFormat, Scenario: o.Scenario, Seed: o.Seed, Build: build,
		Options: o.Options, Swarm: o.Swarm, PlanSource: PlanFromScenario, Plan: o.Plan,
		Verdict: o.Verdict(), Verdicts: o.Verdicts, FirstBad: firstBad(o.Verdicts),
		Digest: o.Digest, Events: o.Events, SimTime: o.SimTime, Stats: o.Stats, Fired: o.Fired,
	}
	for _, m := range ro.Mutants {
		b.Mutants = append(b.Mutants, string(m))
	}
	if ro.Plan != nil {
		b.PlanSource = PlanGiven
	}
	b.Reproduce = b.ReplayCommand()
	return b
}

// ReplayCommand is the one command that replays the bundle, from any
// directory of the machine that wrote it: chaosrun as it was invoked (see
// invoke.Command) and the bundle's absolute path.
func (b *Bundle) ReplayCommand() string {
	return invoke.Command("chaosrun") + " replay " + invoke.Quote(absPath(b.Dir))
}

// PortableReplayCommand replays the bundle from the root of a checkout of
// onceproof at the bundle's build, with the bundle at its path as written.
func (b *Bundle) PortableReplayCommand() string {
	return "go run ./cmd/chaosrun replay " + invoke.Quote(b.Dir)
}

// absPath is path made absolute, or path when that fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// RunCommand is the chaosrun run command equivalent to replaying the bundle
// (without the digest comparison).
func (b *Bundle) RunCommand() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s run %s --seed %d", invoke.Command("chaosrun"), invoke.Quote(b.Scenario), b.Seed)
	if b.PlanSource == PlanGiven {
		sb.WriteString(" --faults " + invoke.Quote(filepath.Join(absPath(b.Dir), BundlePlanFile)))
	}
	for _, m := range b.Mutants {
		sb.WriteString(" --mutant " + invoke.Quote(m))
	}
	return sb.String()
}

// WriteBundle writes the failure bundle of outcome o, a run with options
// ro, to dir (created if needed; files of an older bundle there are
// replaced). o must carry its trace (RunOptions.KeepTrace). build names the
// code that ran (see Build).
func WriteBundle(dir string, o *Outcome, ro RunOptions, build string) error {
	if o == nil || o.Scenario == "" {
		return errors.New("write bundle: no outcome")
	}
	if len(o.Trace) == 0 {
		return fmt.Errorf("write bundle %s: the outcome has no trace (run with KeepTrace)", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	b := NewBundle(dir, o, ro, build)

	files := map[string][]byte{
		BundlePlanFile:  o.Plan.JSON(),
		BundleTraceFile: []byte(strings.Join(o.Trace, "\n") + "\n"),
		BundleReproduceFile: []byte(fmt.Sprintf("# %s seed %d: %s, digest %s\n%s\n# or, equivalently, without the digest check:\n# %s\n# or, on another machine, from a checkout of onceproof at %s:\n# %s\n",
			b.Scenario, b.Seed, b.Verdict, b.Digest, b.ReplayCommand(), b.RunCommand(), b.Build, b.PortableReplayCommand())),
	}
	var attachments []string
	for name, data := range o.Attachments {
		if err := attachmentName(name); err != nil {
			return fmt.Errorf("write bundle %s: %w", dir, err)
		}
		files[name] = data
		attachments = append(attachments, name)
	}
	sort.Strings(attachments)
	report, err := RenderReport(b, o.TraceEvents, attachments)
	if err != nil {
		return fmt.Errorf("write bundle %s: %w", dir, err)
	}
	files[BundleReportFile] = report
	for name := range files {
		b.Files = append(b.Files, name)
	}
	sort.Strings(b.Files)
	b.FileSHA256 = map[string]string{}
	for _, name := range b.Files {
		b.FileSHA256[name] = sha256Hex(files[name])
		if err := atomicfile.WriteFile(filepath.Join(dir, name), files[name]); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
	}
	b.RunSHA256 = zeroSHA256
	run, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("write bundle %s: %s: %w", dir, BundleRunFile, err)
	}
	run = append(run, '\n')
	// The checksum of run.json with its own value zeroed, then put in.
	sum := sha256Hex(run)
	at := runSHA256Field.FindAllSubmatchIndex(run, -1)
	if len(at) != 1 {
		return fmt.Errorf("write bundle %s: %s: field run_json_sha256 found %d times", dir, BundleRunFile, len(at))
	}
	copy(run[at[0][2]:at[0][3]], sum)
	// run.json last: its presence means every other file is in place.
	if err := atomicfile.WriteFile(filepath.Join(dir, BundleRunFile), run); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

var (
	zeroSHA256 = strings.Repeat("0", 64)
	// runSHA256Field finds run_json_sha256 in run.json. Its value is hex,
	// so the pattern cannot match inside another JSON string (whose quotes
	// would be escaped).
	runSHA256Field = regexp.MustCompile(`"run_json_sha256"\s*:\s*"([0-9a-f]*)"`)
)

func sha256Hex(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// verify checks the checksums of a bundle of format 2 against run.json's
// bytes (data) and the files in b.Dir. Its errors name the file that
// changed.
func (b *Bundle) verify(data []byte) error {
	switch {
	case b.RunSHA256 == "":
		return fmt.Errorf("bundle %s: %s: field \"run_json_sha256\" is missing", b.Dir, BundleRunFile)
	case b.FileSHA256 == nil:
		return fmt.Errorf("bundle %s: %s: field \"file_sha256\" is missing", b.Dir, BundleRunFile)
	}
	at := runSHA256Field.FindAllSubmatchIndex(data, -1)
	if len(at) != 1 {
		return fmt.Errorf("bundle %s: %s: field \"run_json_sha256\" appears %d times", b.Dir, BundleRunFile, len(at))
	}
	zeroed := slices.Concat(data[:at[0][2]], []byte(zeroSHA256), data[at[0][3]:])
	if got := sha256Hex(zeroed); got != b.RunSHA256 {
		return fmt.Errorf("bundle %s: %s was edited after the bundle was written: sha256 %s, want %s", b.Dir, BundleRunFile, got, b.RunSHA256)
	}
	for _, name := range b.Files {
		want, ok := b.FileSHA256[name]
		if !ok {
			return fmt.Errorf("bundle %s: %s: field \"file_sha256\" has no checksum for %s", b.Dir, BundleRunFile, name)
		}
		if name == "" || name != filepath.Base(name) || name == "." || name == ".." || name == BundleRunFile {
			return fmt.Errorf("bundle %s: %s: field \"files\": %q is not a file of the bundle", b.Dir, BundleRunFile, name)
		}
		content, err := os.ReadFile(filepath.Join(b.Dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("bundle %s: %s is missing (the bundle was written with it, sha256 %s)", b.Dir, name, want)
		}
		if err != nil {
			return fmt.Errorf("bundle %s: %w", b.Dir, err)
		}
		if got := sha256Hex(content); got != want {
			return fmt.Errorf("bundle %s: %s was edited after the bundle was written: sha256 %s, want %s", b.Dir, name, got, want)
		}
	}
	for name := range b.FileSHA256 {
		if !slices.Contains(b.Files, name) {
			return fmt.Errorf("bundle %s: %s: field \"file_sha256\" names %s, which \"files\" does not list", b.Dir, BundleRunFile, name)
		}
	}
	return nil
}

// attachmentName accepts a plain file name that is not one of the
// bundle's own files.
func attachmentName(name string) error {
	reserved := []string{BundleRunFile, BundleTraceFile, BundleReportFile, BundlePlanFile, BundleReproduceFile}
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) || slices.Contains(reserved, name) {
		return fmt.Errorf("attachment %q: want a plain file name other than the bundle's own files", name)
	}
	return nil
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{16,128}$`)

// ReadBundle reads and checks the bundle in dir. Its errors name the file
// and the field that is wrong.
func ReadBundle(dir string) (*Bundle, error) {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s: no such directory", dir)
		}
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("bundle %s: not a directory (give the bundle's directory)", dir)
	}
	path := filepath.Join(dir, BundleRunFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("bundle %s: %s is missing (not a failure bundle, or an incomplete one)", dir, BundleRunFile)
		}
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("bundle %s: %s: empty file", dir, BundleRunFile)
	}
	// Required fields are decoded as pointers so that "missing" differs
	// from zero (seed 0 is a seed).
	var req struct {
		Format   *int             `json:"format"`
		Scenario *string          `json:"scenario"`
		Seed     *uint64          `json:"seed"`
		Digest   *string          `json:"digest"`
		Plan     *json.RawMessage `json:"plan"`
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("bundle %s: %s: %s", dir, BundleRunFile, jsonError(data, err))
	}
	missing := func(field string) error {
		return fmt.Errorf("bundle %s: %s: field %q is missing", dir, BundleRunFile, field)
	}
	switch {
	case req.Format == nil:
		return nil, missing("format")
	case *req.Format != bundleFormat && *req.Format != bundleFormatUnverified:
		return nil, fmt.Errorf("bundle %s: %s: format %d, this chaosrun reads formats %d and %d", dir, BundleRunFile, *req.Format, bundleFormatUnverified, bundleFormat)
	case req.Scenario == nil || *req.Scenario == "":
		return nil, missing("scenario")
	case req.Seed == nil:
		return nil, missing("seed")
	case req.Digest == nil || *req.Digest == "":
		return nil, missing("digest")
	case !hexDigest.MatchString(*req.Digest):
		return nil, fmt.Errorf("bundle %s: %s: field \"digest\": %q is not a hex digest", dir, BundleRunFile, *req.Digest)
	case req.Plan == nil:
		return nil, missing("plan")
	}
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("bundle %s: %s: %s", dir, BundleRunFile, jsonError(data, err))
	}
	b.Dir = dir
	if _, err := Lookup(b.Scenario); err != nil {
		return nil, fmt.Errorf("bundle %s: %s: field \"scenario\": %w", dir, BundleRunFile, err)
	}
	if _, err := ParseMutants(b.Mutants); err != nil {
		return nil, fmt.Errorf("bundle %s: %s: field \"mutants\": %w", dir, BundleRunFile, err)
	}
	if b.PlanSource != PlanFromScenario && b.PlanSource != PlanGiven {
		return nil, fmt.Errorf("bundle %s: %s: field \"plan_source\": %q is neither %q nor %q", dir, BundleRunFile, b.PlanSource, PlanFromScenario, PlanGiven)
	}
	if b.Format == bundleFormatUnverified {
		return &b, nil // no checksums to verify; the caller says so
	}
	if err := b.verify(data); err != nil {
		return nil, err
	}
	b.Verified = true
	return &b, nil
}

// jsonError says where in data a decoding error is, as a line number.
func jsonError(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("bad JSON at line %d: %v", 1+bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n")), err)
	case errors.As(err, &te) && te.Field == "":
		return fmt.Sprintf("got a JSON %s, want an object", te.Value)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: got a JSON %s, want %s", te.Field, te.Value, jsonKind(te.Type))
	case errors.Is(err, io.EOF):
		return "unexpected end of file"
	}
	// Such as `json: unknown field "colour"`: the prefix names Go's
	// package, not the problem.
	return strings.TrimPrefix(oneLine(err), "json: ")
}

// jsonKind says in JSON's terms what a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "an object"
}

// oneLine joins a multi-line error (errors.Join) with "; ".
func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// RunOptions gives the options that replay the bundle: the same seed,
// mutants and (when it was given) plan, keeping the trace.
func (b *Bundle) RunOptions() (RunOptions, error) {
	ms, err := ParseMutants(b.Mutants)
	if err != nil {
		return RunOptions{}, err
	}
	ro := RunOptions{Seed: b.Seed, KeepTrace: true, Mutants: ms}
	if b.PlanSource == PlanGiven {
		p := b.Plan
		ro.Plan = &p
	}
	return ro, nil
}

// Replay reruns the bundle's run. Reproduced reports whether the trace
// digest equals the bundle's: the run was the same run, event for event.
func Replay(ctx context.Context, b *Bundle) (out *Outcome, reproduced bool, err error) {
	s, err := Lookup(b.Scenario)
	if err != nil {
		return nil, false, &BadInputError{Err: err}
	}
	ro, err := b.RunOptions()
	if err != nil {
		return nil, false, &BadInputError{Err: err}
	}
	out, err = s.Run(ctx, ro)
	if err != nil {
		return nil, false, err
	}
	return out, out.Digest == b.Digest, nil
}
