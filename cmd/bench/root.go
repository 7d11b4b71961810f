package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onceproof/onceproof/bench"
	"github.com/onceproof/onceproof/checkers"
	"github.com/onceproof/onceproof/engine"
	"github.com/onceproof/onceproof/engine/jobs"
	"github.com/onceproof/onceproof/engine/live"
	"github.com/onceproof/onceproof/engine/live/livetest"
	"github.com/onceproof/onceproof/internal/flagerr"
	"github.com/onceproof/onceproof/internal/invoke"
	"github.com/onceproof/onceproof/scenarios"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// usageError is bad input: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// inconclusiveError is a run that ended without a verdict: exit 4.
type inconclusiveError struct{ err error }

func (e inconclusiveError) Error() string { return e.err.Error() }
func (e inconclusiveError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ue usageError
	var ie inconclusiveError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue), errors.Is(err, bench.ErrUnreachable), errors.As(err, new(bench.InputError)):
		return 2
	case errors.As(err, &ie):
		return 4
	}
	return 1
}

// judge turns a live run's verdicts into its exit: nil only when the
// exactly-once checker ran and every check passed; exit 1 when the output
// is not exactly-once (or a transaction was left open); exit 4 when no
// verdict was reached, so that a run whose check did not run never passes.
func judge(vs []checkers.Result) error {
	err := livetest.Failed(vs)
	switch livetest.Verdict(vs) {
	case checkers.Ok:
		return nil
	case checkers.Unknown:
		return inconclusiveError{fmt.Errorf("inconclusive, no exactly-once verdict: %w", err)}
	}
	return fmt.Errorf("the output is not exactly-once: %w", err)
}

// NewRoot builds the command tree (a factory: fresh flags for each use).
func NewRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "bench",
		Short:         "Measure the engine live: throughput, latency, checkpoint cost, recovery; compare it; chart it",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       invoke.Read().String(),
	}
	root.SetVersionTemplate("bench {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usage(flagerr.Describe(err)) })
	// Without a command, the help; with one bench does not have, bad
	// usage (cobra's own error would exit 1).
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		var names []string
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() {
				names = append(names, c.Name())
			}
		}
		return usage(fmt.Errorf("unknown command %q (commands: %s)", args[0], strings.Join(names, ", ")))
	}
	addProfiling(root)
	root.AddCommand(runCmd(), compareCmd(), simCmd(), plotCmd(), brokerCmd(), nexmarkCmd())
	return root
}

// kafkaFlags are the options that reach external brokers.
type kafkaFlags struct {
	brokers       []string
	tls           bool
	tlsCA         string
	tlsSkipVerify bool
	tlsCert       string
	tlsKey        string
	saslMechanism string
	saslUser      string
	saslPassword  string
	saslTokenFile string
}

func (k *kafkaFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&k.brokers, "brokers", nil, "external seed brokers host:port,... (default: an in-process kfake broker)")
	f.BoolVar(&k.tls, "tls", false, "connect to --brokers over TLS")
	f.StringVar(&k.tlsCA, "tls-ca", "", "PEM file of the CA that signed the brokers' certificates (implies --tls)")
	f.BoolVar(&k.tlsSkipVerify, "tls-insecure-skip-verify", false, "do not verify the brokers' certificates")
	f.StringVar(&k.tlsCert, "tls-cert", "", "PEM file of this client's certificate, for brokers that authenticate clients by TLS (with --tls-key; implies --tls)")
	f.StringVar(&k.tlsKey, "tls-key", "", "PEM file of the private key of --tls-cert")
	f.StringVar(&k.saslMechanism, "sasl-mechanism", "", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER")
	f.StringVar(&k.saslUser, "sasl-user", "", "SASL user (PLAIN, SCRAM)")
	f.StringVar(&k.saslPassword, "sasl-password", "", "SASL password (PLAIN, SCRAM; or set BENCH_SASL_PASSWORD)")
	f.StringVar(&k.saslTokenFile, "sasl-token-file", "", "file holding the OAUTHBEARER token, read again at every authentication so that a refreshed token is used (or set BENCH_SASL_TOKEN)")
}

// opts turns the flags into kgo options, passed through to every client.
func (k *kafkaFlags) opts() ([]kgo.Opt, error) {
	var out []kgo.Opt
	if (k.tlsCert == "") != (k.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key: give both (the client's certificate and its key) or neither")
	}
	if k.tls || k.tlsCA != "" || k.tlsSkipVerify || k.tlsCert != "" {
		cfg := &tls.Config{InsecureSkipVerify: k.tlsSkipVerify} // #nosec G402 -- only when asked for
		if k.tlsCert != "" {
			pair, err := tls.LoadX509KeyPair(k.tlsCert, k.tlsKey)
			if err != nil {
				return nil, fmt.Errorf("--tls-cert %s and --tls-key %s: %w", k.tlsCert, k.tlsKey, plainTLSError(err))
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		if k.tlsCA != "" {
			pem, err := os.ReadFile(k.tlsCA)
			if err != nil {
				return nil, fmt.Errorf("--tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca: no certificate in %s", k.tlsCA)
			}
			cfg.RootCAs = pool
		}
		out = append(out, kgo.DialTLSConfig(cfg))
	}
	pass := k.saslPassword
	if pass == "" {
		pass = os.Getenv("BENCH_SASL_PASSWORD")
	}
	switch strings.ToUpper(k.saslMechanism) {
	case "":
	case "PLAIN":
		out = append(out, kgo.SASL(plain.Auth{User: k.saslUser, Pass: pass}.AsMechanism()))
	case "SCRAM-SHA-256":
		out = append(out, kgo.SASL(scram.Auth{User: k.saslUser, Pass: pass}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		out = append(out, kgo.SASL(scram.Auth{User: k.saslUser, Pass: pass}.AsSha512Mechanism()))
	case "OAUTHBEARER":
		token, err := k.oauthToken()
		if err != nil {
			return nil, err
		}
		out = append(out, kgo.SASL(oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			t, err := token()
			return oauth.Auth{Token: t}, err
		})))
	default:
		return nil, fmt.Errorf("--sasl-mechanism: %q is not PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER", k.saslMechanism)
	}
	if k.saslTokenFile != "" && !strings.EqualFold(k.saslMechanism, "OAUTHBEARER") {
		return nil, errors.New("--sasl-token-file: applies to --sasl-mechanism OAUTHBEARER")
	}
	if len(out) > 0 && len(k.brokers) == 0 {
		return nil, errors.New("--tls, --tls-ca, --tls-cert, --tls-insecure-skip-verify and --sasl-mechanism apply to --brokers; none given")
	}
	return out, nil
}

// oauthToken returns what reads the OAUTHBEARER token: the file again at
// every authentication (a sidecar may refresh it), or BENCH_SASL_TOKEN.
// A token that cannot be had now is bad input.
func (k *kafkaFlags) oauthToken() (func() (string, error), error) {
	if k.saslTokenFile == "" {
		t := strings.TrimSpace(os.Getenv("BENCH_SASL_TOKEN"))
		if t == "" {
			return nil, errors.New("--sasl-mechanism OAUTHBEARER: no token: give --sasl-token-file or set BENCH_SASL_TOKEN")
		}
		return func() (string, error) { return t, nil }, nil
	}
	read := func() (string, error) {
		data, err := os.ReadFile(k.saslTokenFile)
		if err != nil {
			return "", fmt.Errorf("--sasl-token-file: %w", err)
		}
		t := strings.TrimSpace(string(data))
		if t == "" {
			return "", fmt.Errorf("--sasl-token-file: %s is empty", k.saslTokenFile)
		}
		return t, nil
	}
	if _, err := read(); err != nil {
		return nil, err
	}
	return read, nil
}

// plainTLSError says what is wrong with a certificate or key file in the
// user's terms where Go's error would name its own internals.
func plainTLSError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	switch msg := err.Error(); {
	case strings.Contains(msg, "failed to find any PEM data in certificate"):
		return errors.New("no PEM certificate in --tls-cert")
	case strings.Contains(msg, "failed to find any PEM data in key"), strings.Contains(msg, "failed to find PEM block with type ending in \"PRIVATE KEY\""):
		return errors.New("no PEM private key in --tls-key")
	case strings.Contains(msg, "private key does not match public key"):
		return errors.New("the key does not belong to the certificate")
	}
	return err
}

// save writes res under dir and prints its benchmark lines and path.
func save(w io.Writer, dir string, res *bench.Result) error {
	for _, l := range res.BenchLines() {
		fmt.Fprintln(w, l)
	}
	if dir == "" {
		return nil
	}
	path, err := res.Write(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "results: %s\n", path)
	return nil
}

func commandLine() string { return strings.Join(os.Args, " ") }

func jobArg(cmd *cobra.Command, args []string) error {
	if len(args) == 0 && cmd.Flags().Lookup("from-checkpoint") != nil && cmd.Flags().Changed("from-checkpoint") {
		return nil // a resume takes the job from the run it resumes
	}
	if len(args) != 1 {
		if len(args) == 0 {
			return usage(fmt.Errorf("%s needs one job (known: %s)", cmd.Name(), strings.Join(jobs.Names(), ", ")))
		}
		// Two words where one job belongs is often "--verify false": a
		// true/false flag takes its value after "=".
		return usage(fmt.Errorf("%s needs one job, got %d arguments: %s (a true/false flag takes its value as --verify=false)",
			cmd.Name(), len(args), strings.Join(args, " ")))
	}
	if _, err := jobs.Lookup(args[0]); err != nil {
		return usage(err)
	}
	return nil
}

// resume points o at the run --from-checkpoint names and takes from its
// manifest every option of the job's identity the command line left out.
func resume(cmd *cobra.Command, args []string, from string, o *bench.RunOptions) error {
	f := cmd.Flags()
	dir := from
	if from == "latest" {
		switch {
		case o.CheckpointDir != "":
			dir = o.CheckpointDir
		case o.JobID != "":
			dir = bench.DefaultCheckpointDir(o.JobID)
		default:
			return errors.New("--from-checkpoint latest: latest in which directory? Give --job-id (whose checkpoints are in $TMPDIR/onceproof-bench/<job-id>) or --checkpoint-dir")
		}
	} else if f.Changed("checkpoint-dir") && filepath.Clean(o.CheckpointDir) != filepath.Clean(from) {
		return fmt.Errorf("--from-checkpoint %s and --checkpoint-dir %s: a resume goes on in the killed run's directory; give one", from, o.CheckpointDir)
	}
	m, err := bench.ReadManifest(dir)
	if err != nil {
		return fmt.Errorf("--from-checkpoint: %w", err)
	}
	given := func(flag string) bool {
		switch flag {
		case "job":
			return len(args) > 0
		case "--records":
			return f.Changed("records") || f.Changed("duration")
		}
		return f.Changed(strings.TrimPrefix(flag, "--"))
	}
	m.Apply(o, given)
	o.CheckpointDir, o.Resume = dir, true
	return m.Mismatch(*o)
}

func runCmd() *cobra.Command {
	o := bench.DefaultRunOptions("")
	var k kafkaFlags
	var out, from string
	var records int
	var mutants []string
	parallelism := []int{o.Parallelism}
	cmd := &cobra.Command{
		Use:   "run JOB",
		Short: "Run a job live once: throughput, latency, checkpoints, recovery after --kill-at, peak memory; resume a killed run",
		Long: `Run a job live once on the engine and measure it.

Without --rate or --duration the input (--records) is written first and the
job's throughput is measured from its start until all of it is committed.
With --rate (records/s) or --duration, the input is written while the job
runs, and the end-to-end latency of every output record is measured: the
time a polling read_committed consumer saw it minus the time the broker
acknowledged the input record that caused it. --kill-at kills every task at
that time after the start; the recovery time is from the kill to the first
checkpoint completed after it. Every restart, whatever caused it, and every
failed checkpoint is printed and kept in the result. The committed output is
then checked with the exactly-once checker: the exit code is 0 only when it
ran and passed, 1 when it found the output not exactly-once, 4 when it
reached no verdict (--verify=false, or the output could not be read back).
A line of progress goes to stderr every 5 seconds.

A job and its identity: --job-id names the job. On --brokers its topics are
onceproof-bench-ID-<topic> (or --input-topic/--output-topic), every
transactional id starts with onceproof-bench-ID-, and its checkpoints go to
--checkpoint-dir, by default ` + bench.DefaultCheckpointDir("ID") + `. The
checkpoint directory holds the run's manifest (` + bench.ManifestName + `:
job id, job, input and state options, seed, topics) from the start. Without
--job-id a job id is made up from the clock and the checkpoints are
temporary unless --checkpoint-dir is given.

Resuming: after the process was killed (SIGKILL, a crash, Ctrl-C), 

  bench run --from-checkpoint DIR --brokers ...      DIR: the killed run's checkpoint directory
  bench run --job-id ID --from-checkpoint latest --brokers ...

runs the same job again from its latest completed checkpoint: the same
topics and transactional ids, so the killed run's open transactions are
resolved as the engine resolves them after any failure (the ones the
checkpoint pre-committed are committed, every other one is fenced and
aborted). Options left out are taken from the manifest; one that contradicts
it (another --records, --seed, --parallelism, ...) is refused. The input is
not written twice: what the input topic already holds is kept (an idempotent
producer writes each partition in order, so the killed run wrote a prefix of
each partition's share), and only the records it lacks are written, at
--rate. The exactly-once check reads the whole output topic: every run's
output, checked together against the whole input.

Topics: the topics a run creates (the job's own, or --input-topic and
--output-topic with --create-topics, with --replication-factor and
--min-insync-replicas) are deleted once the job has drained its input and
its verdict is ok, unless --keep-topics. A run that ends early keeps them
when it can be resumed (its checkpoints are not temporary) and prints how to
resume it; otherwise it deletes them. Existing topics named with
--input-topic/--output-topic are never deleted; the output topic must be
empty at the first run. See docs/live.md for running against a real
cluster (ACLs, transaction timeouts).

Scaling: --parallelism 1,2,4 runs the job once at each parallelism, one
after another on this machine, each on a fresh in-process broker (or its
own topics on --brokers), and prints a table: records/s, the speed-up over
the first, the efficiency (speed-up over the parallelism's), records per
CPU-second, peak RSS and the verdict. It measures throughput over preloaded
--records, so --rate, --duration, --kill-at, --from-checkpoint and the
options that name one job (--job-id, --checkpoint-dir, --input-topic,
--output-topic) do not go with it. Give --partitions at least the largest
parallelism for every source subtask to have something to read.`,
		Args: jobArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				o.Job = args[0]
			}
			if cmd.Flags().Changed("records") && cmd.Flags().Changed("duration") {
				return usage(errors.New("--records and --duration: give one (with --duration, --rate sets the size)"))
			}
			// RunOptions.Duration 0 means "preload the input"; given on
			// the command line, it is a mistake, not that.
			if cmd.Flags().Changed("duration") && o.Duration <= 0 {
				return usage(fmt.Errorf("--duration %v: must be positive (leave it out to preload --records instead)", o.Duration))
			}
			if cmd.Flags().Changed("records") {
				o.Records = records
			} else if o.Duration > 0 {
				o.Records = 2_000_000 // a cap; the duration ends the input
				if o.Rate > 0 {
					o.Records = int(o.Rate*o.Duration.Seconds()) + 1
				}
			}
			// 0 is the default's "the broker's"; given, it is a mistake.
			if cmd.Flags().Changed("replication-factor") && o.Topics.ReplicationFactor == 0 {
				return usage(errors.New("--replication-factor: must be at least 1, got 0 (leave it out for the broker's default)"))
			}
			if cmd.Flags().Changed("min-insync-replicas") && o.Topics.MinInsyncReplicas == 0 {
				return usage(errors.New("--min-insync-replicas: must be at least 1, got 0 (leave it out for the broker's default)"))
			}
			if cmd.Flags().Changed("txn-timeout") && o.TxnTimeout == 0 {
				return usage(errors.New("--txn-timeout: must be positive, got 0s"))
			}
			if cmd.Flags().Changed("job-id") && o.JobID == "" {
				return usage(errors.New("--job-id: empty (want letters, digits, '.', '_' or '-')"))
			}
			if from != "" {
				if err := resume(cmd, args, from, &o); err != nil {
					return usage(err)
				}
			} else if cmd.Flags().Changed("from-checkpoint") {
				return usage(errors.New("--from-checkpoint: empty (want the killed run's checkpoint directory, or latest)"))
			}
			for _, name := range mutants {
				m, err := engine.ParseMutant(name)
				if err != nil {
					return usage(fmt.Errorf("--mutant: %w", err))
				}
				if o.Task == nil {
					t := live.DefaultConfig(nil, "").Task
					o.Task = &t
				}
				o.Task.Mutants = append(o.Task.Mutants, m)
			}
			kopts, err := k.opts()
			if err != nil {
				return usage(err)
			}
			o.Brokers, o.Kafka = k.brokers, kopts
			o.Parallelism = parallelism[0]
			if err := bench.ValidateScaling(o, parallelism); err != nil {
				return usage(err)
			}
			if err := o.Validate(); err != nil {
				return usage(err)
			}
			o.Log = cmd.ErrOrStderr()
			o.Command = commandLine()
			env := bench.CurrentEnvironment()
			if len(parallelism) > 1 {
				return runScaling(cmd, o, parallelism, env, out)
			}
			res, err := bench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			res.Print(cmd.OutOrStdout())
			if err := save(cmd.OutOrStdout(), out, bench.NewResult(commandLine(), env, res)); err != nil {
				return err
			}
			if !o.Verify {
				return inconclusiveError{errors.New("inconclusive, no exactly-once verdict: --verify=false skipped the check (the figures above stand)")}
			}
			return judge(res.Verdicts)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.Interval, "interval", o.Interval, "checkpoint interval")
	f.StringVar(&o.Checkpoints, "checkpoints", o.Checkpoints, "aligned, unaligned or off (off: only a final checkpoint at the end of input; at-least-once only)")
	f.StringVar(&o.Backend, "backend", o.Backend, "keyed state backend: heap or pebble")
	f.StringVar(&o.Guarantee, "guarantee", o.Guarantee, "exactly-once or at-least-once")
	f.IntSliceVar(&parallelism, "parallelism", parallelism, "parallelism of every vertex; several (1,2,4) run the job at each and print a scaling table")
	f.Int32Var(&o.Partitions, "partitions", o.Partitions, "partitions of every topic")
	f.IntVar(&records, "records", o.Records, "input records")
	f.IntVar(&o.Keys, "keys", o.Keys, "distinct keys")
	f.DurationVar(&o.Duration, "duration", 0, "write input for this long while the job runs (instead of --records)")
	f.Float64Var(&o.Rate, "rate", 0, "input rate in records/s, written while the job runs (0: preload the input)")
	f.DurationVar(&o.KillAt, "kill-at", 0, "kill every task this long after the start")
	f.StringVar(&o.KillPhase, "kill-phase", "", "with --kill-at: kill at the first checkpoint-protocol event of this phase from then on (ack-sent, metadata-written, endtxn-sent, ...)")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the generated input")
	f.BoolVar(&o.Verify, "verify", o.Verify, "check the output with the exactly-once checker")
	f.StringVar(&o.CheckpointDir, "checkpoint-dir", "", "checkpoint directory, which also holds the run's manifest (default: with --job-id and --brokers "+bench.DefaultCheckpointDir("ID")+", else a temporary one)")
	f.StringVar(&from, "from-checkpoint", "", "resume a killed run: its checkpoint directory, or latest (the one of --job-id or --checkpoint-dir); JOB and the input options may be left out")
	f.StringVar(&o.JobID, "job-id", "", "name of the job: its topics (onceproof-bench-ID-<topic>) and transactional ids (onceproof-bench-ID-...) derive from it (default: made up from the clock)")
	f.StringSliceVar(&o.InputTopics, "input-topic", nil, "existing topic(s) to read, one per input of the job in its order (default: the job's own, created)")
	f.StringVar(&o.OutputTopic, "output-topic", "", "existing, empty topic to write the output to (default: the job's own, created)")
	f.BoolVar(&o.CreateTopics, "create-topics", false, "create --input-topic and --output-topic (then deleted at the end like the job's own, unless --keep-topics)")
	f.Int16Var(&o.Topics.ReplicationFactor, "replication-factor", 0, "replication factor of the topics the run creates (default: the broker's)")
	f.IntVar(&o.Topics.MinInsyncReplicas, "min-insync-replicas", 0, "min.insync.replicas of the topics the run creates (default: the broker's)")
	f.BoolVar(&o.KeepTopics, "keep-topics", false, "keep the topics the run created once the job has finished (default: deleted on --brokers when the verdict is ok)")
	f.DurationVar(&o.TxnTimeout, "txn-timeout", 0, "the sinks' transaction timeout, at most the brokers' transaction.max.timeout.ms (default 10m)")
	f.StringSliceVar(&mutants, "mutant", nil, "switch on a deliberate bug of the engine, to see the checkers catch it live (repeatable; an unknown name lists the known ones)")
	f.BoolVar(&o.TCP, "tcp", false, "run the in-process kfake broker over TCP on 127.0.0.1 (default: an in-memory VirtualNetwork)")
	f.StringVar(&out, "out", "", "directory for the result JSON and benchmark lines, such as results/bench (default: none written)")
	k.add(cmd)
	return cmd
}

// runScaling runs o at each parallelism and prints the table; its exit is
// that of the worst verdict.
func runScaling(cmd *cobra.Command, o bench.RunOptions, ps []int, env bench.Environment, out string) error {
	res, err := bench.RunScaling(cmd.Context(), o, ps)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	res.Print(w)
	if err := save(w, out, bench.NewResult(commandLine(), env, res)); err != nil {
		return err
	}
	if !o.Verify {
		return inconclusiveError{errors.New("inconclusive, no exactly-once verdict: --verify=false skipped the checks (the figures above stand)")}
	}
	return judge(res.Verdicts())
}

func compareCmd() *cobra.Command {
	o := bench.DefaultCompareOptions("")
	var out string
	cmd := &cobra.Command{
		Use:   "compare JOB",
		Short: "The engine against the Kafka ceiling and franz-go's transactional loop, interleaved, same broker and input",
		Long: `Compare writes the input once to an in-process broker, then runs, in
interleaved rounds (a warm-up, then --rounds measured ones), each contender
from that same input into an output topic of its own, deleted after the run:

  engine      the job on the live runner, exactly-once, a checkpoint per interval
  engine-off  the same job at-least-once with checkpoints off (one final
              checkpoint): the engine's run without the checkpoint cost
  ceiling     a hand-written loop of raw requests: read_committed fetches,
              produced in transactions committed once per interval, no engine
              (a copy)
  franz-go    kgo.GroupTransactSession consume-transform-produce, committing
              once per interval (what a Go user would write)

Each is timed from its start until all input is committed, and its committed
output is checked by count and digest against the oracle's (the engine's
first round also by the exactly-once checker, up to ` + fmt.Sprint(bench.FullVerifyRecords) + ` records).

Steady state: the warm-up round is not counted. Unless --interval is given,
it sizes the interval: the fastest warm-up run divided by ` + fmt.Sprint(2*bench.MinCommits) + ` (the warm-up
runs cold, so twice what is needed), so that every measured run spans at
least ` + fmt.Sprint(bench.MinCommits) + ` checkpoints or commits at that one interval. A ratio with a
contender that committed fewer than ` + fmt.Sprint(bench.MinCommits) + ` times in a measured run (a loop: any
one of its subtasks) is refused: the output and the JSON (no_ratio) say why
and how many --records would do, and the exit code is 4.

It prints every run with its commits, the medians, the ratios engine/ceiling
and engine/franz-go, and the checkpoint cost: per round, 1 - engine/engine-off
records/s of the two runs back to back, and their median.`,
		Args: jobArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Job = args[0]
			if cmd.Flags().Changed("interval") && o.Interval <= 0 {
				return usage(fmt.Errorf("--interval %v: must be positive (leave it out to size it from the warm-up round)", o.Interval))
			}
			if err := o.Validate(); err != nil {
				return usage(err)
			}
			o.Log, o.Progress = cmd.OutOrStdout(), cmd.ErrOrStderr()
			start, env := time.Now(), bench.CurrentEnvironment()
			res, err := bench.Compare(cmd.Context(), o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			res.Print(w)
			fmt.Fprintf(w, "peak RSS  %.0f MiB   wall %v\n", float64(res.PeakRSSBytes)/(1<<20), time.Since(start).Round(time.Second))
			fmt.Fprintf(w, "machine   %s, %d cores, %s, load average at start %s\n", env.CPU, env.Cores, env.GoVersion, env.LoadAvg)
			if err := save(w, out, bench.NewResult(commandLine(), env, res)); err != nil {
				return err
			}
			if len(o.Only) == 0 && len(res.NoRatio) > 0 {
				return inconclusiveError{fmt.Errorf("no comparison: %d of the ratios refused (too few commits; see above)", len(res.NoRatio))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Parallelism, "parallelism", o.Parallelism, "subtasks (engine) and sessions/loops (others)")
	f.Int32Var(&o.Partitions, "partitions", o.Partitions, "partitions of every topic")
	f.IntVar(&o.Records, "records", o.Records, "input records (written once, shared by every run)")
	f.IntVar(&o.Keys, "keys", o.Keys, "distinct keys")
	f.DurationVar(&o.Interval, "interval", 0, "checkpoint interval (and the loops' commit interval) (default: sized from the warm-up round so that every run spans at least "+fmt.Sprint(bench.MinCommits)+")")
	f.IntVar(&o.Rounds, "rounds", o.Rounds, "measured rounds of every contender, after one warm-up round")
	f.StringSliceVar(&o.Only, "only", nil, "run only these contenders: engine, engine-off, ceiling, franz-go (no ratios without the others)")
	f.StringVar(&o.Backend, "backend", o.Backend, "the engine's keyed state backend: heap or pebble")
	f.BoolVar(&o.TCP, "tcp", false, "run the in-process kfake broker over TCP on 127.0.0.1 (default: an in-memory VirtualNetwork)")
	f.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the generated input")
	f.BoolVar(&o.Verify, "verify", o.Verify, "check the engine's first-round output with the exactly-once checker (up to "+fmt.Sprint(bench.FullVerifyRecords)+" records)")
	f.StringVar(&out, "out", "", "directory for the result JSON and benchmark lines, such as results/bench (default: none written)")
	return cmd
}

func simCmd() *cobra.Command {
	o := bench.SimOptions{Seeds: 10}
	var out, job string
	var scale bool
	cmd := &cobra.Command{
		Use:   "sim [SCENARIO...]",
		Short: "The simulator's speed: simulated seconds per wall second, events per second, seeds per hour per core",
		Long: `Sim runs every scenario (or those named) --seeds times, one seed after
another on one goroutine, and prints the simulator's speed for each.

With --scale it runs one job (--job, default ` + bench.ScaleJob + `) instead, without
faults, at parallelism ` + strings.Trim(fmt.Sprint(bench.ScaleSizes), "[]") + `, partitions and workers growing with it (3p/2
each, records 150p, keys 6p: the simulator's defaults at parallelism 2),
and prints for each size the wall time per simulated second, events per
second, the peak RSS over its seeds and the bytes allocated per seed: how
the cost grows with the work.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if scale && len(args) > 0 {
				return usage(fmt.Errorf("--scale runs one job (--job), not scenarios: drop %s", strings.Join(args, " ")))
			}
			if cmd.Flags().Changed("job") && !scale {
				return usage(errors.New("--job: applies to --scale (without it, sim runs scenarios)"))
			}
			for _, a := range args {
				if _, err := scenarios.Lookup(a); err != nil {
					return usage(err)
				}
			}
			if o.Seeds < 1 {
				return usage(fmt.Errorf("--seeds: must be at least 1, got %d", o.Seeds))
			}
			if _, err := jobs.Lookup(job); err != nil {
				return usage(fmt.Errorf("--job: %w", err))
			}
			o.Scenarios = args
			o.Log, o.Progress = cmd.OutOrStdout(), cmd.ErrOrStderr()
			env := bench.CurrentEnvironment()
			if scale {
				sizes, err := bench.SimScale(cmd.Context(), o, job, nil)
				if err != nil {
					return err
				}
				return save(cmd.OutOrStdout(), out, bench.NewResult(commandLine(), env, &bench.SimResult{Options: o, Scenario: "scale-" + job, Scale: sizes}))
			}
			res, err := bench.Sim(cmd.Context(), o)
			if err != nil {
				return err
			}
			t := res.Total
			fmt.Fprintf(cmd.OutOrStdout(), "%-34s %3d seeds  %6.1f sim-s/wall-s  %8.0f events/s  %8.0f seeds/h/core\n",
				"total", t.Seeds, t.SimPerWall, t.EventsPerSec, t.SeedsPerHourPerCore)
			return save(cmd.OutOrStdout(), out, bench.NewResult(commandLine(), env, res))
		},
	}
	cmd.Flags().IntVar(&o.Seeds, "seeds", o.Seeds, "seeds per scenario (with --scale: per size)")
	cmd.Flags().BoolVar(&scale, "scale", false, "run one job at parallelism "+strings.Trim(fmt.Sprint(bench.ScaleSizes), "[]")+" and print the cost of each size")
	cmd.Flags().StringVar(&job, "job", bench.ScaleJob, "with --scale: the job to run")
	cmd.Flags().StringVar(&out, "out", "", "directory for the result JSON and benchmark lines, such as results/bench (default: none written)")
	return cmd
}

func plotCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "plot RESULTS.json...",
		Short: "SVG charts of results: throughput against interval, latency distribution, checkpoint duration over time",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usage(errors.New("plot needs at least one result file"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var rs []*bench.Result
			for _, a := range args {
				r, err := bench.ReadResult(a)
				if err != nil {
					return usage(err)
				}
				rs = append(rs, r)
			}
			files, err := bench.Plot(rs, out)
			if err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintln(cmd.OutOrStdout(), f)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "results/bench/plots", "directory for the SVG files")
	return cmd
}
