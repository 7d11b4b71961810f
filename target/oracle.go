package target

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// OracleTimeout bounds an oracle program's run.
const OracleTimeout = time.Minute

// RunOracle runs an oracle program and returns the output it expects for
// in. The protocol, for a program in any language:
//
//   - stdin: the committed input records, one JSON object a line, in
//     partition then offset order:
//     {"partition":0,"offset":3,"key":"k1","value":"v7"}
//   - stdout: the expected output records, one JSON object a line, each to
//     be committed exactly once: {"key":"k1","value":"V7"}; blank lines are
//     skipped; any other field is an error
//   - exit status 0; anything else, or output that is not this protocol, is
//     an error that names the line.
//
// The oracle runs in its own process group and is killed with it after
// OracleTimeout.
func RunOracle(ctx context.Context, argv []string, in []InputRecord) ([]OutputRecord, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("oracle: no command")
	}
	var stdin bytes.Buffer
	enc := json.NewEncoder(&stdin)
	for _, r := range in {
		if err := enc.Encode(r); err != nil {
			return nil, fmt.Errorf("oracle: encode input: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, OracleTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	setGroup(cmd)
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &stdin, &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("oracle %s: no answer within %v", argv[0], OracleTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("oracle %s: %w%s", argv[0], err, tail(stderr.String()))
	}
	return ParseOracleOutput(stdout.Bytes())
}

// ParseOracleOutput parses an oracle's stdout (see RunOracle).
func ParseOracleOutput(out []byte) ([]OutputRecord, error) {
	var recs []OutputRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(text, &raw); err != nil {
			return nil, fmt.Errorf("oracle output line %d: not a JSON object {\"key\":...,\"value\":...}: %q", line, clip(string(text)))
		}
		var r OutputRecord
		for k, v := range raw { // lint:sorted each field is checked on its own
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, fmt.Errorf("oracle output line %d: field %q must be a string, got %s", line, k, clip(string(v)))
			}
			switch k {
			case "key":
				r.Key = s
			case "value":
				r.Value = s
			default:
				return nil, fmt.Errorf("oracle output line %d: unknown field %q (want key and value)", line, k)
			}
		}
		if _, ok := raw["value"]; !ok {
			return nil, fmt.Errorf("oracle output line %d: no \"value\" field", line)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("oracle output line %d: %w", line+1, err)
	}
	return recs, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func tail(stderr string) string {
	stderr = strings.TrimSpace(stderr)
	if stderr == "" {
		return ""
	}
	if len(stderr) > 400 {
		stderr = "..." + stderr[len(stderr)-400:]
	}
	return "; its stderr: " + stderr
}
