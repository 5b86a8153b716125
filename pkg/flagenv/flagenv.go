// Package flagenv lets every flag of a flag.FlagSet also be set from the
// environment: SHORTENER_ + the flag name upper-cased with '-' as '_'.
// A flag given on the command line wins over the environment.
package flagenv

import (
	"flag"
	"fmt"
	"strings"
)

// Prefix is prepended to every environment variable name.
const Prefix = "SHORTENER_"

// EnvName returns the environment variable that sets the flag called name.
func EnvName(name string) string {
	return Prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Parse parses args into fs, then sets every flag not given on the command
// line from getenv. It never reads the process environment itself.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := EnvName(f.Name)
		if v := getenv(name); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("invalid value %q for %s: %w", v, name, e)
			}
		}
	})
	return err
}
