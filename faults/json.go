package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/onceproof/onceproof/internal/jsonfile"
)

// The JSON form of a plan is what failure bundles save and people edit by
// hand, so it is strict and readable: durations are Go duration strings
// ("150ms"), fields a kind does not use are omitted, and decoding rejects a
// field it does not know (a typo is an error naming it, never a silently
// ignored setting).
//
//	{
//	  "faults": [
//	    {
//	      "name": "kill sink",
//	      "trigger": {"phase": {"checkpoint": 3, "phase": "metadata-written"}},
//	      "action": {"kind": "kill-worker", "worker": "w1", "duration": "200ms"}
//	    }
//	  ]
//	}

// Parse decodes a plan strictly and validates it against workers workers.
// Its errors are *FieldError values naming the fault and the field, with
// the line and column in data where the field (or, when it is missing, the
// nearest thing around it) is.
func Parse(data []byte, workers int) (Plan, error) {
	p, err := decodePlan(data, true)
	if err == nil {
		err = p.Validate(workers)
	}
	if err != nil {
		locate(data, err)
		return Plan{}, err
	}
	return p, nil
}

// locate sets the line and column of every *FieldError in err (one, or
// several joined) that has none, from where its field is in data.
func locate(data []byte, err error) {
	var fes []*FieldError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if fe, ok := e.(*FieldError); ok {
				fes = append(fes, fe)
			}
		}
	} else if fe, ok := err.(*FieldError); ok {
		fes = append(fes, fe)
	}
	for _, fe := range fes {
		if fe.Line > 0 {
			continue
		}
		var path []string
		if fe.Fault >= 0 {
			path = []string{"faults", strconv.Itoa(fe.Fault)}
		}
		if fe.Field != "" {
			path = append(path, strings.Split(fe.Field, ".")...)
		}
		// A missing field has no place: take the nearest enclosing one.
		for n := len(path); n >= 0; n-- {
			if off, ok := jsonfile.Find(data, path[:n]...); ok {
				fe.Line, fe.Column = jsonfile.Position(data, off)
				break
			}
		}
	}
}

// JSON returns the plan as indented JSON, ending in a newline.
func (p Plan) JSON() []byte {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		// Every field has a JSON form; failing here is a bug in this file.
		panic(fmt.Sprintf("faults: marshal plan: %v", err))
	}
	return append(b, '\n')
}

type planJSON struct {
	Faults []json.RawMessage `json:"faults"`
}

type faultJSON struct {
	Name    string          `json:"name,omitempty"`
	Trigger json.RawMessage `json:"trigger"`
	Action  json.RawMessage `json:"action"`
}

type triggerJSON struct {
	At            *string         `json:"at,omitempty"`
	Phase         *PhaseTrigger   `json:"phase,omitempty"`
	AfterRequests *RequestTrigger `json:"after_requests,omitempty"`
}

// triggerIn is triggerJSON for decoding: the nested forms stay raw so that
// an unknown field inside one is reported under its path.
type triggerIn struct {
	At            *durationText   `json:"at"`
	Phase         json.RawMessage `json:"phase"`
	AfterRequests json.RawMessage `json:"after_requests"`
}

type actionJSON struct {
	Kind     ActionKind   `json:"kind"`
	Worker   string       `json:"worker,omitempty"`
	Peer     string       `json:"peer,omitempty"`
	Duration durationText `json:"duration,omitempty"`
	Extra    durationText `json:"extra,omitempty"`
	Request  string       `json:"request,omitempty"`
	Error    string       `json:"error,omitempty"`
	Count    int          `json:"count,omitempty"`
	TxnID    string       `json:"txn_id,omitempty"`
	Object   string       `json:"object,omitempty"`
	Percent  int          `json:"percent,omitempty"`
	Message  string       `json:"message,omitempty"`
	From     string       `json:"from,omitempty"`
	To       string       `json:"to,omitempty"`
	// Checkpoint of a message fault.
	Checkpoint int64 `json:"checkpoint,omitempty"`
}

// MarshalJSON writes the faults, and [] rather than null for none.
func (p Plan) MarshalJSON() ([]byte, error) {
	type plain Plan // no methods: no recursion
	if p.Faults == nil {
		p.Faults = []Fault{}
	}
	return json.Marshal(plain(p))
}

// UnmarshalJSON decodes a plan strictly (see Parse, which also validates).
// An empty list of faults reads back as nil.
func (p *Plan) UnmarshalJSON(data []byte) error {
	q, err := decodePlan(data, false)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// MarshalJSON writes the one form that is set, At as a duration string.
func (t Trigger) MarshalJSON() ([]byte, error) {
	j := triggerJSON{Phase: t.Phase, AfterRequests: t.AfterRequests}
	if t.At != nil {
		s := t.At.String()
		j.At = &s
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes a trigger strictly. It does not validate.
func (t *Trigger) UnmarshalJSON(data []byte) error {
	u, prs := decodeTrigger(data, "")
	if len(prs) > 0 {
		return prs[0].plain()
	}
	*t = u
	return nil
}

// MarshalJSON writes the kind and the fields that are set, durations as
// strings.
func (a Action) MarshalJSON() ([]byte, error) {
	return json.Marshal(actionJSON{
		Kind: a.Kind, Worker: a.Worker, Peer: a.Peer,
		Duration: durationText(durationString(a.Duration)), Extra: durationText(durationString(a.Extra)),
		Request: a.Request, Error: a.Error, Count: a.Count,
		TxnID: a.TxnID, Object: a.Object, Percent: a.Percent,
		Message: a.Message, From: a.From, To: a.To, Checkpoint: a.Checkpoint,
	})
}

// UnmarshalJSON decodes an action strictly. It does not validate.
func (a *Action) UnmarshalJSON(data []byte) error {
	u, prs := decodeAction(data, "")
	if len(prs) > 0 {
		return prs[0].plain()
	}
	*a = u
	return nil
}

// UnmarshalJSON decodes a fault strictly. It does not validate.
func (f *Fault) UnmarshalJSON(data []byte) error {
	u, prs := decodeFault(data)
	if len(prs) > 0 {
		return prs[0].plain()
	}
	*f = u
	return nil
}

func (pr problem) plain() error {
	if pr.field == "" {
		return pr.err
	}
	return fmt.Errorf("%s: %w", pr.field, pr.err)
}

// durationText is a duration as a plan spells it ("150ms"); its type
// tells a decoding error what the field wants.
type durationText string

// WantJSON says what a duration field accepts.
func (durationText) WantJSON() string { return `a duration such as "1.5s" or "150ms"` }

func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// decodePlan decodes data strictly. whole also rejects anything after the
// plan's JSON value (a file, as opposed to a value inside a larger
// document).
func decodePlan(data []byte, whole bool) (Plan, error) {
	var j planJSON
	if whole {
		// A file: syntax errors, an empty file and trailing data are
		// told by line and column.
		if err := jsonfile.Decode(data, &j); err != nil {
			var je *jsonfile.Error
			if errors.As(err, &je) {
				return Plan{}, &FieldError{Fault: -1, Field: je.Field, Err: je.Err, Line: je.Line, Column: je.Column}
			}
			return Plan{}, &FieldError{Fault: -1, Err: err}
		}
	} else if err := strict(data, &j); err != nil {
		pr := jsonProblem("", err)
		return Plan{}, &FieldError{Fault: -1, Field: pr.field, Err: pr.err}
	}
	var p Plan
	var errs []error
	for i, raw := range j.Faults {
		f, prs := decodeFault(raw)
		for _, pr := range prs {
			errs = append(errs, &FieldError{Fault: i, Name: f.Name, Field: pr.field, Err: pr.err})
		}
		p.Faults = append(p.Faults, f)
	}
	if len(errs) > 0 {
		return Plan{}, errors.Join(errs...)
	}
	return p, nil
}

// decodeFault decodes one fault. On error, the returned fault still carries
// its name when that much could be read, so the error can show it.
func decodeFault(data []byte) (Fault, []problem) {
	var j faultJSON
	if err := strict(data, &j); err != nil {
		var peek struct{ Name string }
		_ = json.Unmarshal(data, &peek) // best effort: only for the error message
		return Fault{Name: peek.Name}, []problem{jsonProblem("", err)}
	}
	f := Fault{Name: j.Name}
	var prs []problem
	if j.Trigger != nil {
		t, tp := decodeTrigger(j.Trigger, "trigger")
		f.Trigger, prs = t, append(prs, tp...)
	}
	if j.Action != nil {
		a, ap := decodeAction(j.Action, "action")
		f.Action, prs = a, append(prs, ap...)
	}
	return f, prs
}

func decodeTrigger(data []byte, at string) (Trigger, []problem) {
	var j triggerIn
	if err := strict(data, &j); err != nil {
		return Trigger{}, []problem{jsonProblem(at, err)}
	}
	var t Trigger
	var prs []problem
	if j.At != nil {
		d, err := parseDuration(string(*j.At))
		if err != nil {
			prs = append(prs, problem{join(at, "at"), err})
		}
		t.At = &d
	}
	if isSet(j.Phase) {
		t.Phase = new(PhaseTrigger)
		if err := strict(j.Phase, t.Phase); err != nil {
			prs = append(prs, jsonProblem(join(at, "phase"), err))
		}
	}
	if isSet(j.AfterRequests) {
		t.AfterRequests = new(RequestTrigger)
		if err := strict(j.AfterRequests, t.AfterRequests); err != nil {
			prs = append(prs, jsonProblem(join(at, "after_requests"), err))
		}
	}
	return t, prs
}

// isSet reports whether a raw field was present and not null.
func isSet(raw json.RawMessage) bool { return raw != nil && string(raw) != "null" }

func decodeAction(data []byte, at string) (Action, []problem) {
	var j actionJSON
	if err := strict(data, &j); err != nil {
		return Action{}, []problem{jsonProblem(at, err)}
	}
	a := Action{
		Kind: j.Kind, Worker: j.Worker, Peer: j.Peer,
		Request: j.Request, Error: j.Error, Count: j.Count,
		TxnID: j.TxnID, Object: j.Object, Percent: j.Percent,
		Message: j.Message, From: j.From, To: j.To, Checkpoint: j.Checkpoint,
	}
	var prs []problem
	for _, d := range []struct {
		field string
		s     string
		to    *time.Duration
	}{{"duration", string(j.Duration), &a.Duration}, {"extra", string(j.Extra), &a.Extra}} {
		if d.s == "" {
			continue
		}
		v, err := parseDuration(d.s)
		if err != nil {
			prs = append(prs, problem{join(at, d.field), err})
			continue
		}
		*d.to = v
	}
	return a, prs
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as \"1.5s\" or \"150ms\"", s)
	}
	return d, nil
}

// strict decodes data, a value inside a larger document, into v, rejecting
// unknown fields.
func strict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

var unknownFieldRE = regexp.MustCompile(`unknown field "([^"]*)"`)

// jsonProblem turns a decoding error into a problem at the field it names,
// under the path at.
func jsonProblem(at string, err error) problem {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return problem{join(at, te.Field), errors.New(jsonfile.TypeProblem(te))}
	}
	if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
		return problem{join(at, m[1]), errors.New("unknown field")}
	}
	return problem{at, err}
}

func join(at, field string) string {
	if at == "" {
		return field
	}
	return at + "." + field
}
