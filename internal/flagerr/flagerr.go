// Package flagerr says what is wrong with a command line's flags in the
// user's terms. pflag reports a bad value with the parser's own error
// (`invalid argument "x" for "--seed" flag: strconv.ParseUint: parsing "x":
// invalid syntax`); Describe turns it into `--seed "x" is not a number (want
// a whole number, 0 or more)`. Both CLIs install it with
// cobra.Command.SetFlagErrorFunc.
package flagerr

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

// Describe rewrites pflag's errors about a flag's value, and leaves every
// other error as it is (pflag's "unknown flag: --bogus" already says it
// plainly).
func Describe(err error) error {
	var iv *pflag.InvalidValueError
	var vr *pflag.ValueRequiredError
	switch {
	case errors.As(err, &iv):
		f := iv.GetFlag()
		w := want(f.Value.Type())
		if w == "" {
			w = "valid (" + f.Usage + ")"
		}
		return fmt.Errorf("--%s %q is not %s", f.Name, iv.GetValue(), w)
	case errors.As(err, &vr):
		f := vr.GetFlag()
		if w := want(f.Value.Type()); w != "" {
			return fmt.Errorf("--%s needs a value: %s", f.Name, w)
		}
		return fmt.Errorf("--%s needs a value (%s)", f.Name, f.Usage)
	}
	return err
}

// want says what a flag of pflag type typ takes.
func want(typ string) string {
	switch typ {
	case "uint", "uint8", "uint16", "uint32", "uint64":
		return "a number (want a whole number, 0 or more)"
	case "int", "int8", "int16", "int32", "int64":
		return "a number (want a whole number)"
	case "float32", "float64":
		return "a number (such as 1000 or 2.5)"
	case "duration":
		return `a duration (such as "1.5s" or "200ms")`
	case "bool":
		return "true or false"
	}
	return "" // a string: its usage says what it takes
}
