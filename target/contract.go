package target

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/onceproof/onceproof/checkers"
)

// ContractKind names what a program promises to write for its input.
type ContractKind string

const (
	// Copy: each input record once in the output, with the same key and
	// the value mapped by the contract's Map rule (identity by default).
	Copy ContractKind = "copy"
	// Count: for the n-th input record of key k, one output record with
	// key k and the value n in decimal: a running count per key.
	Count ContractKind = "count"
	// Oracle: the output an oracle program prints for the input, once each
	// (see RunOracle for the protocol).
	Oracle ContractKind = "oracle"
)

// Contract is what the program under test must write, which the checkers
// hold it to. It round-trips through JSON so a failure bundle records it.
type Contract struct {
	// Kind is copy, count or oracle.
	Kind ContractKind `json:"kind"`
	// Map is the copy contract's value rule (see ParseMap); empty means
	// identity.
	Map string `json:"map,omitempty"`
	// Oracle is the oracle contract's command and arguments.
	Oracle []string `json:"oracle,omitempty"`
	// Order is the order the output must keep: per-key (the default for
	// copy and count, whose keys each live in one input partition) or
	// none ("").
	Order checkers.Order `json:"order,omitempty"`
}

// ParseContract builds a contract from chaosrun target's flags: expect is
// "copy" or "count" (or "" with an oracle command), mapRule the copy
// contract's --map, order "per-key", "none" or "" (the kind's default).
func ParseContract(expect, mapRule string, oracle []string, order string) (Contract, error) {
	var c Contract
	switch {
	case expect != "" && len(oracle) > 0:
		return c, errors.New("--expect and --oracle both given: a run has one contract")
	case len(oracle) > 0:
		c.Kind, c.Oracle = Oracle, oracle
	case expect == "":
		return c, errors.New("no contract: give --expect copy, --expect count or --oracle CMD")
	default:
		c.Kind = ContractKind(expect)
	}
	switch c.Kind {
	case Copy, Count:
		c.Order = checkers.PerKey
	case Oracle:
	default:
		return c, fmt.Errorf("--expect: unknown contract %q (want copy or count, or --oracle CMD)", expect)
	}
	if mapRule != "" {
		if c.Kind != Copy {
			return c, fmt.Errorf("--map applies to --expect copy only, not %s", c.Kind)
		}
		c.Map = mapRule
	}
	switch order {
	case "":
	case "none":
		c.Order = checkers.Unordered
	case "per-key":
		c.Order = checkers.PerKey
	default:
		return c, fmt.Errorf("--order: unknown order %q (want per-key or none)", order)
	}
	return c, c.Validate()
}

// Validate checks c as a bundle or a test built it.
func (c Contract) Validate() error {
	switch c.Kind {
	case Copy:
		_, err := ParseMap(c.Map)
		return err
	case Count:
		if c.Map != "" {
			return fmt.Errorf("contract count takes no map rule (got %q)", c.Map)
		}
	case Oracle:
		if len(c.Oracle) == 0 || c.Oracle[0] == "" {
			return errors.New("contract oracle needs a command")
		}
	default:
		return fmt.Errorf("unknown contract %q (want copy, count or oracle)", c.Kind)
	}
	switch c.Order {
	case checkers.Unordered, checkers.PerKey:
	default:
		return fmt.Errorf("unknown order %q (want per-key or none)", c.Order)
	}
	return nil
}

// String names the contract as the flags would.
func (c Contract) String() string {
	switch c.Kind {
	case Copy:
		if c.Map != "" {
			return "copy, map " + c.Map
		}
		return "copy"
	case Oracle:
		return "oracle " + strings.Join(c.Oracle, " ")
	}
	return string(c.Kind)
}

// ParseMap parses a copy contract's value rule: "identity" (or ""),
// "upper", "lower", "prefix:STR", "suffix:STR" or "replace:OLD=NEW".
func ParseMap(rule string) (func(string) string, error) {
	name, arg, hasArg := strings.Cut(rule, ":")
	noArg := func(f func(string) string) (func(string) string, error) {
		if hasArg {
			return nil, fmt.Errorf("--map %q: %s takes no argument", rule, name)
		}
		return f, nil
	}
	switch name {
	case "", "identity":
		return noArg(func(s string) string { return s })
	case "upper":
		return noArg(strings.ToUpper)
	case "lower":
		return noArg(strings.ToLower)
	case "prefix", "suffix":
		if !hasArg || arg == "" {
			return nil, fmt.Errorf("--map %q: %s needs a string, as in %s:x-", rule, name, name)
		}
		if name == "prefix" {
			return func(s string) string { return arg + s }, nil
		}
		return func(s string) string { return s + arg }, nil
	case "replace":
		old, repl, ok := strings.Cut(arg, "=")
		if !hasArg || !ok || old == "" {
			return nil, fmt.Errorf("--map %q: replace needs OLD=NEW with OLD not empty, as in replace:v=w", rule)
		}
		return func(s string) string { return strings.ReplaceAll(s, old, repl) }, nil
	}
	return nil, fmt.Errorf("--map %q: unknown rule %q (want identity, upper, lower, prefix:STR, suffix:STR or replace:OLD=NEW)", rule, name)
}

// InputRecord is one committed input record, as the oracle reads it.
type InputRecord struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

// OutputRecord is one expected output record, as the oracle prints it.
type OutputRecord struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Expectation is what a contract expects of the output for an input.
type Expectation struct {
	// Expected are the output records, each to be committed once, in the
	// order the contract's Order refers to.
	Expected []checkers.Expected
	// From maps a lineage to the input record it came from, when the
	// contract knows it (copy and count); a missing output whose input the
	// group never committed past is unfinished work, not a lost write.
	From map[string]InputRecord
	// mult counts the expected records per key and value, for Lineage.
	mult map[string]int
	kind ContractKind
}

// Expect computes what c expects for in, the committed input in partition
// and offset order. An oracle contract runs the oracle.
func (c Contract) Expect(ctx context.Context, in []InputRecord) (*Expectation, error) {
	e := &Expectation{From: map[string]InputRecord{}, mult: map[string]int{}, kind: c.Kind}
	switch c.Kind {
	case Copy:
		f, err := ParseMap(c.Map)
		if err != nil {
			return nil, err
		}
		for _, r := range in {
			e.addKV(r.Key, f(r.Value), &r)
		}
	case Count:
		n := map[string]int{}
		for _, r := range in {
			n[r.Key]++
			lin := countLineage(r.Key, strconv.Itoa(n[r.Key]))
			e.Expected = append(e.Expected, checkers.Expected{Lineage: lin, Key: r.Key, Value: strconv.Itoa(n[r.Key])})
			e.From[lin] = r
		}
	case Oracle:
		out, err := RunOracle(ctx, c.Oracle, in)
		if err != nil {
			return nil, err
		}
		for _, o := range out {
			e.addKV(o.Key, o.Value, nil)
		}
	default:
		return nil, fmt.Errorf("unknown contract %q", c.Kind)
	}
	return e, nil
}

func (e *Expectation) addKV(key, value string, from *InputRecord) {
	kv := kvID(key, value)
	e.mult[kv]++
	lin := kv + "#" + strconv.Itoa(e.mult[kv])
	e.Expected = append(e.Expected, checkers.Expected{Lineage: lin, Key: key, Value: value})
	if from != nil {
		e.From[lin] = *from
	}
}

// Lineage returns a fresh function that names the lineage of each observed
// output record, called in log order. For count it is the key and value;
// for copy and oracle, whose records carry no lineage of their own, it is
// the key and value with the occurrence number: the n-th record with a key
// and value is the n-th expected one. An occurrence beyond what is expected
// gets the last expected lineage again, so checkers.ExactlyOnce reports it
// as a duplicate rather than as unexpected.
func (e *Expectation) Lineage() func(key, value string) string {
	if e.kind == Count {
		return countLineage
	}
	seen := map[string]int{}
	return func(key, value string) string {
		kv := kvID(key, value)
		seen[kv]++
		n := seen[kv]
		if m := e.mult[kv]; m > 0 && n > m {
			n = m
		}
		return kv + "#" + strconv.Itoa(n)
	}
}

// kvID names a key and value as "key=value", quoting the key when it holds
// "=" or "#" or starts with a quote, so that two pairs never share a name.
func kvID(key, value string) string { return quoteKey(key) + "=" + value }

func countLineage(key, value string) string { return quoteKey(key) + "#" + value }

func quoteKey(key string) string {
	if strings.ContainsAny(key, "=#") || strings.HasPrefix(key, `"`) {
		return strconv.Quote(key)
	}
	return key
}
