package flagerr

import (
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--seed", "x"}, `--seed "x" is not a number (want a whole number, 0 or more)`},
		{[]string{"--seed", "-1"}, `--seed "-1" is not a number (want a whole number, 0 or more)`},
		{[]string{"--n", "1.5"}, `--n "1.5" is not a number (want a whole number)`},
		{[]string{"--rate", "fast"}, `--rate "fast" is not a number (such as 1000 or 2.5)`},
		{[]string{"--interval", "1 s"}, `--interval "1 s" is not a duration (such as "1.5s" or "200ms")`},
		{[]string{"--verify=maybe"}, `--verify "maybe" is not true or false`},
		{[]string{"--interval"}, `--interval needs a value: a duration (such as "1.5s" or "200ms")`},
		{[]string{"--seeds"}, `--seeds needs a value (seeds to run: a range "A-B" or one seed "N")`},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
	} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		fs.Uint64("seed", 0, "")
		fs.Int("n", 0, "")
		fs.Float64("rate", 0, "")
		fs.Duration("interval", time.Second, "")
		fs.Bool("verify", true, "")
		fs.String("seeds", "1-100", `seeds to run: a range "A-B" or one seed "N"`)
		fs.SetOutput(discard{})
		err := fs.Parse(tc.args)
		if got := Describe(err); got == nil || got.Error() != tc.want {
			t.Errorf("%v: got %v, want %s", tc.args, got, tc.want)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
