package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onceproof/onceproof/bench"
	"github.com/onceproof/onceproof/engine/live"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMain lets a test run this binary as the bench command: with
// BENCH_TEST_MAIN=1 it is bench, given its arguments.
func TestMain(m *testing.M) {
	if os.Getenv("BENCH_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// TestSIGKILLAndResume kills a bench run process with SIGKILL in the middle
// of its job, against a broker that outlives it, and resumes it from its
// checkpoint directory: the killed run's open transaction is resolved (no
// transaction is left open), its input is reused, not written again, and
// the output of both runs, checked together, is exactly once.
func TestSIGKILLAndResume(t *testing.T) {
	b, err := live.StartTCPBroker(0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Cluster.ListenAddrs()[0]
	dir := filepath.Join(t.TempDir(), "checkpoints")
	// Preloaded, so that the sinks produce full batches all the time:
	// a transaction is open whenever the kill comes.
	args := []string{"run", "keyed-count", "--brokers", addr, "--job-id", "sigkill", "--checkpoint-dir", dir,
		"--records", "150000", "--keys", "50000", "--partitions", "2", "--interval", "50ms"}
	child := exec.Command(os.Args[0], args...)
	child.Env = append(os.Environ(), "BENCH_TEST_MAIN=1")
	var childOut strings.Builder
	child.Stdout, child.Stderr = &childOut, &childOut
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	// Kill it once a checkpoint has completed (output is committed) and
	// while a transaction is open (more is on its way): a transaction is
	// open for tens of milliseconds at a time, polled every millisecond.
	out := bench.TopicPrefix + "sigkill-counts"
	deadline := time.Now().Add(60 * time.Second)
	for {
		done, _ := live.CompletedCheckpoints(dir, "keyed-count")
		if len(done) >= 1 && openTxn(t, addr, out) {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the run ended before a checkpoint completed (%v):\n%s", err, childOut.String())
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint after 60s:\n%s", childOut.String())
		}
	}
	if err := child.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the run was not killed (it finished first: %v):\n%s", err, childOut.String())
	}
	if !openTxn(t, addr, out) {
		t.Fatalf("the kill left no open transaction on %s: nothing for the resume to resolve", out)
	}

	// A resume that contradicts the run is refused, and changes nothing.
	msg, code := execute(t, "run", "--from-checkpoint", dir, "--brokers", addr, "--seed", "9")
	if code != 2 || !strings.Contains(msg, "--seed 9: the run being resumed had --seed 1") {
		t.Fatalf("resume with another seed: got exit %d:\n%s", code, msg)
	}

	res := filepath.Join(t.TempDir(), "results")
	msg, code = execute(t, "run", "--from-checkpoint", dir, "--brokers", addr, "--out", res)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, msg)
	}
	for _, want := range []string{"resumed      from checkpoint", "150000 of 150000 input records were in the topics already",
		"exactly-once       ok    all 150000 expected records", "open-transactions  ok", "input              ok"} {
		if !strings.Contains(msg, want) {
			t.Errorf("resume output lacks %q:\n%s", want, msg)
		}
	}
	files, _ := filepath.Glob(filepath.Join(res, "run-*.json"))
	if len(files) != 1 {
		t.Fatalf("result files: got %v, want one", files)
	}
	r, err := bench.ReadResult(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if x := r.Run; x.JobID != "sigkill" || !x.Resumed || x.ResumedFrom < 1 || x.InputReused != 150000 || !x.TopicsDeleted {
		t.Errorf("result: got job %q resumed %v from %d, input reused %d, topics deleted %v; want sigkill, a resume from a checkpoint, all input reused, topics deleted",
			x.JobID, x.Resumed, x.ResumedFrom, x.InputReused, x.TopicsDeleted)
	}
	m, err := bench.ReadManifest(dir)
	if err != nil || !m.Finished || m.Runs != 2 {
		t.Errorf("manifest after the resume: got %+v, %v; want finished after 2 runs", m, err)
	}
	// Finished: a second resume has nothing to do.
	msg, code = execute(t, "run", "--from-checkpoint", dir, "--brokers", addr)
	if code != 2 || !strings.Contains(msg, "there is nothing to resume") {
		t.Errorf("resume of a finished job: got exit %d:\n%s", code, msg)
	}
}

// openTxn reports whether a transaction is open on topic: a partition's
// last stable offset below its high watermark. The high watermark is read
// first, so a transaction that ends between the two reads is missed, never
// made up. A topic that does not exist yet has none open.
func openTxn(t *testing.T, addr, topic string) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DisableClientMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends := map[int8]map[int32]int64{}
	for _, iso := range []int8{0, 1} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = iso
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for p := int32(0); p < 2; p++ {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(context.Background(), cl)
		if err != nil {
			return false
		}
		ends[iso] = map[int32]int64{}
		for _, tp := range resp.Topics {
			for _, p := range tp.Partitions {
				if p.ErrorCode == 0 {
					ends[iso][p.Partition] = p.Offset
				}
			}
		}
	}
	for p, hwm := range ends[0] {
		if lso, ok := ends[1][p]; ok && lso < hwm {
			return true
		}
	}
	return false
}
