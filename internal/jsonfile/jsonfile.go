// Package jsonfile says what is wrong with a JSON file a person gave a
// command (a fault plan, a failure bundle, a benchmark result) in the file's
// own terms: the line and column, the field, and what the field must hold.
// encoding/json's errors name Go types and struct fields ("cannot unmarshal
// string into Go struct field RunResult.run.records of type int"); the
// errors here never do.
//
// It decodes nothing itself beyond Decode's strict wrapper; callers with
// their own decoding turn its errors into *Error with Describe, and find
// where a field they reject sits with Find and Position.
package jsonfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is a problem at a place in a JSON document.
type Error struct {
	// Line and Column are 1-based; 0 when the place is not known.
	Line, Column int
	// Field is the path of the field, such as "run.records"; empty for
	// the document itself.
	Field string
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Wanter is implemented by types that say what JSON they accept, for
// Describe's type errors ("a duration such as \"1.5s\"").
type Wanter interface {
	WantJSON() string
}

// ErrEmpty is the error for a document with nothing in it.
var ErrEmpty = errors.New("the file is empty (want a JSON object)")

// Decode decodes data into v strictly: a field v does not have is an error
// naming it, and so is anything after the first JSON value. Its errors are
// *Error values.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Describe(data, err)
	}
	end := skipSpace(data, dec.InputOffset())
	if end < int64(len(data)) {
		line, col := Position(data, end)
		return &Error{Line: line, Column: col, Err: errors.New("unexpected data after the JSON value")}
	}
	return nil
}

var unknownFieldRE = regexp.MustCompile(`^json: unknown field "([^"]*)"$`)

// Describe turns an error from decoding data with encoding/json into an
// *Error in the document's terms. Errors it does not recognize (an
// Unmarshaler's own) are returned unchanged.
func Describe(data []byte, err error) error {
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return &Error{Err: ErrEmpty}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		line, col := Position(data, int64(len(data)))
		return &Error{Line: line, Column: col, Err: errors.New("the JSON ends early (is the file cut short?)")}
	case errors.As(err, &se):
		off := se.Offset
		if off > 0 && off <= int64(len(data)) && se.Error() != "unexpected end of JSON input" {
			off-- // the offset is after the character at fault
		}
		line, col := Position(data, off)
		msg := se.Error()
		if msg == "unexpected end of JSON input" {
			msg = "the JSON ends early (is the file cut short?)"
		}
		return &Error{Line: line, Column: col, Err: errors.New(msg)}
	case errors.As(err, &te):
		e := &Error{Field: te.Field, Err: errors.New(TypeProblem(te))}
		off, ok := Find(data, Path(te.Field)...)
		if !ok {
			off = te.Offset
		}
		e.Line, e.Column = Position(data, off)
		return e
	}
	if m := unknownFieldRE.FindStringSubmatch(err.Error()); m != nil {
		// encoding/json does not say where; the first occurrence of the
		// key is almost always it.
		e := &Error{Field: m[1], Err: errors.New("unknown field")}
		if i := bytes.Index(data, []byte(strconv.Quote(m[1]))); i >= 0 {
			e.Line, e.Column = Position(data, int64(i))
		}
		return e
	}
	return err
}

// TypeProblem says what a field must hold and what it held instead:
// `must be a whole number, not a string`.
func TypeProblem(te *json.UnmarshalTypeError) string {
	got := te.Value
	switch got {
	case "number", "string", "object", "array":
		got = article(got) + " " + got
	case "bool":
		got = "true or false"
	}
	if strings.HasPrefix(te.Value, "number ") { // a number out of range: "number 1e99"
		return fmt.Sprintf("must be %s; %s is out of range", Want(te.Type), strings.TrimPrefix(te.Value, "number "))
	}
	return fmt.Sprintf("must be %s, not %s", Want(te.Type), got)
}

func article(s string) string {
	if strings.IndexByte("aeiou", s[0]) >= 0 {
		return "an"
	}
	return "a"
}

var durationType = reflect.TypeFor[time.Duration]()

// Want describes, in JSON's terms, the values a Go type accepts.
func Want(t reflect.Type) string {
	if t == nil {
		return "another kind of value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if w, ok := reflect.New(t).Interface().(Wanter); ok {
		return w.WantJSON()
	}
	if t == durationType {
		return "a duration in nanoseconds (a whole number)"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list [...]"
	case reflect.Struct, reflect.Map:
		return "an object {...}"
	}
	return "another kind of value"
}

// Path splits a field path as encoding/json spells it ("run.checkpoints")
// into the keys Find takes. An empty path is the document.
func Path(field string) []string {
	if field == "" {
		return nil
	}
	return strings.Split(field, ".")
}

// Find returns the offset in data where the value at path starts. Each
// element of path is an object key or, in a list, an index ("0"). It
// reports false when data has no such value.
func Find(data []byte, path ...string) (int64, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	start := skipSpace(data, 0)
	for _, key := range path {
		tok, err := dec.Token()
		if err != nil {
			return 0, false
		}
		found := false
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return 0, false
				}
				if k == key {
					start, found = skipSpace(data, dec.InputOffset()), true
					break
				}
				if err := skipValue(dec); err != nil {
					return 0, false
				}
			}
		case json.Delim('['):
			want, err := strconv.Atoi(key)
			if err != nil {
				return 0, false
			}
			for i := 0; dec.More(); i++ {
				if i == want {
					start, found = skipSpace(data, dec.InputOffset()), true
					break
				}
				if err := skipValue(dec); err != nil {
					return 0, false
				}
			}
		}
		if !found {
			return 0, false
		}
	}
	return start, start < int64(len(data))
}

func skipValue(dec *json.Decoder) error {
	var raw json.RawMessage
	return dec.Decode(&raw)
}

// skipSpace returns the offset of the first byte from off on that is not
// white space or a separator (':' after a key, ',' between values).
func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\n', '\r', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

// Position turns a byte offset in data into a 1-based line and column
// (counted in characters).
func Position(data []byte, off int64) (line, column int) {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	if i := bytes.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, 1 + utf8.RuneCount(before)
}
