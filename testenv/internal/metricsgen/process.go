package metricsgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"fleetpane/testenv/internal/proc"
)

// ProcessConfig describes the detached generator process: the testenv binary
// run with a subcommand (e.g. `testenv metricsgen --listen ... --clusters ...`)
// that calls Run.
type ProcessConfig struct {
	// Exe is the program (usually os.Executable() of testenv).
	Exe string
	// Args are its arguments, e.g. {"metricsgen", "--dir", state, "--listen", addr, "--clusters", "prod-eu,prod-us"}.
	Args []string
	// Dir receives metricsgen.log and metricsgen.pid.
	Dir string
	// Listen is the host:port the subcommand serves on (waited for).
	Listen string
	// Clusters the generator must serve: a running generator serving
	// another set is restarted.
	Clusters []string
	// Timeout for /healthz (default 30s).
	Timeout time.Duration
	// LogFile and PidFile default to <Dir>/metricsgen.log and
	// <Dir>/metricsgen.pid. When PidFile is overridden, stop with
	// proc.Stop(pidfile, grace), not Stop(dir).
	LogFile string
	PidFile string
}

// PidFile and LogFile of the generator in dir.
func PidFile(dir string) string { return filepath.Join(dir, "metricsgen.pid") }
func LogFile(dir string) string { return filepath.Join(dir, "metricsgen.log") }

// Start spawns the generator detached unless one already runs (per its
// pidfile) and serves exactly c.Clusters; it waits for /healthz. It returns
// the PID and whether it started a process.
func Start(ctx context.Context, c ProcessConfig) (pid int, started bool, err error) {
	const component = "metricsgen"
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.LogFile == "" {
		c.LogFile = LogFile(c.Dir)
	}
	if c.PidFile == "" {
		c.PidFile = PidFile(c.Dir)
	}
	base := "http://" + c.Listen
	// The args file records what the running generator was started with
	// (program, its size and mtime, arguments): a rebuilt testenv or new
	// arguments restart it.
	argsFile := c.PidFile + ".args"
	stamp := c.Exe
	if st, err := os.Stat(c.Exe); err == nil {
		stamp = fmt.Sprintf("%s %d %d", c.Exe, st.Size(), st.ModTime().UnixNano())
	}
	argsContent := stamp + "\n" + strings.Join(c.Args, "\n") + "\n"
	if pid, ok := proc.Running(c.PidFile); ok {
		old, _ := os.ReadFile(argsFile)
		if got, err := servedClusters(ctx, base); err == nil && slices.Equal(got, c.Clusters) && string(old) == argsContent {
			return pid, false, nil
		}
		if err := proc.Stop(c.PidFile, 5*time.Second); err != nil {
			return 0, false, fmt.Errorf("%s: stopping old generator (pid %d): %w", component, pid, err)
		}
	}
	if err := proc.CheckPortFree(c.Listen, component); err != nil {
		return 0, false, err
	}
	pid, err = proc.Spawn(proc.Spec{Name: component, Path: c.Exe, Args: c.Args, LogFile: c.LogFile, PidFile: c.PidFile})
	if err != nil {
		return 0, false, err
	}
	if err := os.WriteFile(argsFile, []byte(argsContent), 0o644); err != nil {
		_ = proc.Stop(c.PidFile, 3*time.Second)
		return 0, false, fmt.Errorf("%s: %w", component, err)
	}
	wctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if err := proc.WaitHTTP(wctx, base+"/healthz", &proc.WaitOptions{PID: pid, LogFile: c.LogFile}); err != nil {
		_ = proc.Stop(c.PidFile, 3*time.Second)
		return 0, false, fmt.Errorf("%s: %w", component, err)
	}
	return pid, true, nil
}

// Stop stops the generator recorded in dir.
func Stop(dir string) error { return proc.Stop(PidFile(dir), 5*time.Second) }

// Running reports the generator's PID and whether it runs.
func Running(dir string) (int, bool) { return proc.Running(PidFile(dir)) }

// servedClusters reads the index page (one /metrics/<cluster> per line).
func servedClusters(ctx context.Context, base string) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, base+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("index: HTTP %d %v", resp.StatusCode, err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if c, ok := strings.CutPrefix(line, "/metrics/"); ok {
			out = append(out, c)
		}
	}
	return out, nil
}
