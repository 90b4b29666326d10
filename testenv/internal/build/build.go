// Package build compiles the Kubernetes control-plane binaries the fleet
// runs, from k8s.io/kubernetes as required in testenv's go.mod, and the
// metrics-server (sigs.k8s.io/metrics-server, also required there, built
// against the same k8s.io modules through testenv/cmd/metrics-server), with
// the Go toolchain on the machine (GOTOOLCHAIN=local). Builds are incremental: when
// nothing changed, `go build` only checks the build cache and the binary
// (a few seconds); a cold kube-apiserver build takes several minutes.
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Binaries are the commands built into <state>/bin, in build order.
var Binaries = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", MetricsServer}

// MetricsServer is the metrics-server binary.
const MetricsServer = "metrics-server"

// MetricsServerVersion is the sigs.k8s.io/metrics-server release required
// in go.mod (a test keeps the two equal).
const MetricsServerVersion = "v0.8.0"

// Package returns the import path of a binary. The metrics-server's main
// is testenv's own (see cmd/metrics-server): upstream's, with OpenAPI
// definitions that match the pinned k8s.io modules.
func Package(bin string) string {
	if bin == MetricsServer {
		return "fleetpane/testenv/cmd/" + bin
	}
	return "k8s.io/kubernetes/cmd/" + bin
}

// KubernetesVersion is the k8s.io/kubernetes release required in go.mod
// (a test keeps the two equal). It is stamped into the binaries, which
// would otherwise report "v0.0.0-master+$Format:%H$" at /version.
const KubernetesVersion = "v1.36.3"

// Flags are passed to every go build (stripped binaries link faster). The
// metrics-server also gets its own version (FlagsFor).
var Flags = []string{"-ldflags=-s -w" + versionFlags()}

// FlagsFor returns the go build flags of a binary.
func FlagsFor(bin string) []string {
	if bin != MetricsServer {
		return Flags
	}
	// The metrics-server reports k8s.io/client-go/pkg/version (its Makefile
	// stamps that package), and its apiserver the component-base version,
	// which is that of the k8s.io modules it is built with.
	const pkg = "k8s.io/client-go/pkg/version"
	major, minor, _ := strings.Cut(strings.TrimPrefix(MetricsServerVersion, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	return []string{Flags[0] + fmt.Sprintf(" -X %[1]s.gitVersion=%[2]s -X %[1]s.gitMajor=%[3]s -X %[1]s.gitMinor=%[4]s -X %[1]s.gitTreeState=clean",
		pkg, MetricsServerVersion, major, minor)}
}

func versionFlags() string {
	const pkg = "k8s.io/component-base/version"
	major, minor, _ := strings.Cut(strings.TrimPrefix(KubernetesVersion, "v"), ".")
	minor, _, _ = strings.Cut(minor, ".")
	return fmt.Sprintf(" -X %[1]s.gitVersion=%[2]s -X %[1]s.gitMajor=%[3]s -X %[1]s.gitMinor=%[4]s -X %[1]s.gitTreeState=clean",
		pkg, KubernetesVersion, major, minor)
}

// Error is a failed build: which binary and the tail of go's output.
type Error struct {
	Binary string
	Tail   string
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("building %s failed: %v\n--- last lines of go build output ---\n%s", e.Binary, e.Err, e.Tail)
}

// FindModule returns the testenv module directory: the directory holding
// testenv's go.mod, searched upwards from each start directory (for
// example the working directory and the testenv executable's directory),
// also looking into a "testenv" subdirectory at each level.
func FindModule(starts ...string) (string, error) {
	for _, start := range starts {
		if start == "" {
			continue
		}
		dir, err := filepath.Abs(start)
		if err != nil {
			continue
		}
		for {
			for _, cand := range []string{dir, filepath.Join(dir, "testenv")} {
				if isTestenvModule(cand) {
					return cand, nil
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("cannot find the testenv Go module (testenv/go.mod) from the working directory or the executable")
}

func isTestenvModule(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module fleetpane/testenv"))
}

// Options of Run.
type Options struct {
	ModuleDir string
	BinDir    string
	// Binaries to build (default Binaries).
	Binaries []string
	// Progress receives one line per step (may be nil).
	Progress io.Writer
}

// Run builds the binaries one after the other and stops at the first
// failure, returning an *Error.
func Run(ctx context.Context, o Options) error {
	bins := o.Binaries
	if len(bins) == 0 {
		bins = Binaries
	}
	if _, err := exec.LookPath("go"); err != nil {
		return errors.New("the go command is not on PATH; it is needed to build the Kubernetes binaries")
	}
	if err := os.MkdirAll(o.BinDir, 0o755); err != nil {
		return err
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	for _, bin := range bins {
		start := time.Now()
		out := filepath.Join(o.BinDir, bin)
		before, _ := os.Stat(out)
		fmt.Fprintf(progress, "  building %s (go build %s) ...\n", bin, Package(bin))
		args := append([]string{"build", "-o", out}, FlagsFor(bin)...)
		args = append(args, Package(bin))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = o.ModuleDir
		cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return &Error{Binary: bin, Tail: tail(buf.String(), 25), Err: err}
		}
		after, err := os.Stat(out)
		if err != nil {
			return &Error{Binary: bin, Err: err}
		}
		what := "rebuilt"
		// go build touches an up-to-date output but does not rewrite it.
		if before != nil && os.SameFile(before, after) && before.Size() == after.Size() {
			what = "up to date"
		}
		fmt.Fprintf(progress, "  %s %s (%s)\n", bin, what, time.Since(start).Round(100*time.Millisecond))
	}
	return nil
}

// Missing returns the binaries absent from binDir.
func Missing(binDir string) []string {
	var out []string
	for _, b := range Binaries {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			out = append(out, b)
		}
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
