package checkers

import "fmt"

// The checkers' small enums (Verdict, Outcome, Status) are spelled by a
// names table indexed by the value; these functions do the spelling for
// all of them, with kind ("verdict") naming the enum in what they report.

// nameOf returns names[v], or kind(v) for a value outside the table.
func nameOf[T ~int](names []string, kind string, v T) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", kind, int(v))
}

// marshalName encodes v as its name, refusing a value outside the table.
func marshalName[T ~int](names []string, kind string, v T) ([]byte, error) {
	if v < 0 || int(v) >= len(names) {
		return nil, fmt.Errorf("marshal %s: invalid value %d", kind, int(v))
	}
	return []byte(names[v]), nil
}

// unmarshalName decodes a name written by marshalName.
func unmarshalName[T ~int](names []string, kind string, text []byte) (T, error) {
	for i, name := range names {
		if string(text) == name {
			return T(i), nil
		}
	}
	return 0, fmt.Errorf("unmarshal %s: unknown name %q", kind, text)
}
