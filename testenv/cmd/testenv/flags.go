package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"fleetpane/testenv/internal/build"
)

// parse parses flags and positional arguments in any order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, usageError{"see `testenv help`"}
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", "", "state directory (default $FLEETPANE_TESTENV_DIR, else <repo>/.testenv)")
}

// self is the path of this executable, which runs the detached helpers.
func self() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(exe)
}

// stateDir resolves the state directory: --dir, $FLEETPANE_TESTENV_DIR, or
// .testenv at the repository root (found upwards from the working directory,
// then from this executable).
func stateDir(flagDir string) (string, error) {
	if flagDir != "" {
		return filepath.Abs(flagDir)
	}
	if d := os.Getenv("FLEETPANE_TESTENV_DIR"); d != "" {
		return filepath.Abs(d)
	}
	if root, ok := repoRoot(); ok {
		return filepath.Join(root, ".testenv"), nil
	}
	return "", usageError{"cannot find the repository root from here; pass --dir or set FLEETPANE_TESTENV_DIR"}
}

func starts() []string {
	var s []string
	if wd, err := os.Getwd(); err == nil {
		s = append(s, wd)
	}
	if exe, err := self(); err == nil {
		s = append(s, filepath.Dir(exe))
	}
	return s
}

func repoRoot() (string, bool) {
	if mod, err := build.FindModule(starts()...); err == nil {
		return filepath.Dir(mod), true
	}
	for _, start := range starts() {
		dir := start
		for {
			if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
				return dir, true
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", false
}

// moduleDir finds the testenv module ("" if not found).
func moduleDir(stateDir string) string {
	mod, err := build.FindModule(append(starts(), filepath.Dir(stateDir))...)
	if err != nil {
		return ""
	}
	return mod
}

func noArgs(pos []string) error {
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	return nil
}
