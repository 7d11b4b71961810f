package target

import (
	"context"
	"strings"
	"testing"

	"github.com/onceproof/onceproof/checkers"
)

func TestParseContract(t *testing.T) {
	for _, tc := range []struct {
		expect, mapRule, order string
		oracle                 []string
		want                   Contract
		err                    string
	}{
		{expect: "copy", want: Contract{Kind: Copy, Order: checkers.PerKey}},
		{expect: "copy", mapRule: "upper", order: "none", want: Contract{Kind: Copy, Map: "upper"}},
		{expect: "count", want: Contract{Kind: Count, Order: checkers.PerKey}},
		{oracle: []string{"./o"}, want: Contract{Kind: Oracle, Oracle: []string{"./o"}}},
		{oracle: []string{"./o"}, order: "per-key", want: Contract{Kind: Oracle, Oracle: []string{"./o"}, Order: checkers.PerKey}},
		{expect: "", err: "no contract: give --expect copy"},
		{expect: "sum", err: `--expect: unknown contract "sum" (want copy or count, or --oracle CMD)`},
		{expect: "copy", oracle: []string{"x"}, err: "--expect and --oracle both given"},
		{expect: "count", mapRule: "upper", err: "--map applies to --expect copy only, not count"},
		{expect: "copy", mapRule: "shout", err: `--map "shout": unknown rule "shout"`},
		{expect: "copy", mapRule: "prefix:", err: `--map "prefix:": prefix needs a string`},
		{expect: "copy", mapRule: "upper:x", err: `--map "upper:x": upper takes no argument`},
		{expect: "copy", mapRule: "replace:x", err: `--map "replace:x": replace needs OLD=NEW`},
		{expect: "copy", order: "sorted", err: `--order: unknown order "sorted" (want per-key or none)`},
	} {
		got, err := ParseContract(tc.expect, tc.mapRule, tc.oracle, tc.order)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseContract(%q, %q, %q, %q): got error %v, want one containing %q", tc.expect, tc.mapRule, tc.oracle, tc.order, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseContract(%q, %q, %q, %q): %v", tc.expect, tc.mapRule, tc.oracle, tc.order, err)
			continue
		}
		if got.String() != tc.want.String() || got.Order != tc.want.Order {
			t.Errorf("ParseContract(%q, %q, %q, %q) = %+v, want %+v", tc.expect, tc.mapRule, tc.oracle, tc.order, got, tc.want)
		}
	}
}

func TestParseMap(t *testing.T) {
	for _, tc := range []struct{ rule, in, want string }{
		{"", "Ab", "Ab"}, {"identity", "Ab", "Ab"}, {"upper", "Ab", "AB"}, {"lower", "Ab", "ab"},
		{"prefix:x-", "v", "x-v"}, {"suffix::1", "v", "v:1"}, {"replace:v=w", "vav", "waw"}, {"replace:v=", "vav", "a"},
	} {
		f, err := ParseMap(tc.rule)
		if err != nil {
			t.Fatalf("ParseMap(%q): %v", tc.rule, err)
		}
		if got := f(tc.in); got != tc.want {
			t.Errorf("ParseMap(%q)(%q) = %q, want %q", tc.rule, tc.in, got, tc.want)
		}
	}
}

// judgeKV runs the exactly-once checker on observed key/value pairs in
// one partition against e.
func judgeKV(e *Expectation, kvs ...[2]string) checkers.Result {
	lin := e.Lineage()
	var obs []checkers.Observed
	for i, kv := range kvs {
		obs = append(obs, checkers.Observed{Lineage: lin(kv[0], kv[1]), Key: kv[0], Value: kv[1], Offset: int64(i)})
	}
	return checkers.ExactlyOnce(e.Expected, obs, nil, checkers.ExactlyOnceOptions{Order: checkers.PerKey})
}

func TestExpectations(t *testing.T) {
	in := []InputRecord{{0, 0, "a", "v1"}, {0, 1, "b", "v2"}, {0, 2, "a", "v3"}, {1, 0, "c=d", "v1"}}
	ctx := context.Background()
	cp, err := Contract{Kind: Copy, Map: "upper"}.Expect(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		e       *Expectation
		kvs     [][2]string
		verdict checkers.Verdict
		anomaly string
	}{
		{"copy ok", cp, [][2]string{{"a", "V1"}, {"b", "V2"}, {"a", "V3"}, {"c=d", "V1"}}, checkers.Ok, ""},
		{"copy duplicate", cp, [][2]string{{"a", "V1"}, {"b", "V2"}, {"a", "V1"}, {"a", "V3"}, {"c=d", "V1"}}, checkers.Violation, "duplicate"},
		{"copy lost", cp, [][2]string{{"a", "V1"}, {"a", "V3"}, {"c=d", "V1"}}, checkers.Violation, "lost-write"},
		{"copy unmapped", cp, [][2]string{{"a", "v1"}, {"b", "V2"}, {"a", "V3"}, {"c=d", "V1"}}, checkers.Violation, "unexpected"},
		{"copy reordered", cp, [][2]string{{"a", "V3"}, {"b", "V2"}, {"a", "V1"}, {"c=d", "V1"}}, checkers.Violation, "nonmonotonic"},
	} {
		r := judgeKV(tc.e, tc.kvs...)
		if r.Verdict != tc.verdict || r.Anomaly != tc.anomaly {
			t.Errorf("%s: got %v %q (%s), want %v %q", tc.name, r.Verdict, r.Anomaly, r.Explanation, tc.verdict, tc.anomaly)
		}
	}
	cnt, err := Contract{Kind: Count}.Expect(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if r := judgeKV(cnt, [2]string{"a", "1"}, [2]string{"b", "1"}, [2]string{"a", "2"}, [2]string{"c=d", "1"}); r.Verdict != checkers.Ok {
		t.Errorf("count ok: got %v (%s)", r.Verdict, r.Explanation)
	}
	if r := judgeKV(cnt, [2]string{"a", "1"}, [2]string{"b", "1"}, [2]string{"a", "1"}, [2]string{"a", "2"}, [2]string{"c=d", "1"}); r.Anomaly != "duplicate" {
		t.Errorf("count duplicate: got %v %q (%s)", r.Verdict, r.Anomaly, r.Explanation)
	}
	if r := judgeKV(cnt, [2]string{"a", "1"}, [2]string{"b", "1"}, [2]string{"a", "3"}, [2]string{"c=d", "1"}); r.Verdict != checkers.Violation {
		t.Errorf("count skipped: got %v (%s), want a violation", r.Verdict, r.Explanation)
	}
	if got := cnt.From[countLineage("a", "2")]; got != in[2] {
		t.Errorf("count lineage a#2 comes from %+v, want %+v", got, in[2])
	}
}
