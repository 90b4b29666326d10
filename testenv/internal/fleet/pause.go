package fleet

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"fleetpane/testenv/internal/control"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/proc"
)

// Pause stops the kube-apiserver of one cluster only (its controllers keep
// retrying, as they would against an unreachable control plane).
func Pause(dir, cluster string, out io.Writer) error {
	p, err := LoadPlan(dir)
	if err != nil {
		return err
	}
	c, err := p.Cluster(cluster)
	if err != nil {
		return err
	}
	unlock, err := lock(p.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	st := p.State()
	pidfile := st.PidFile(layout.APIServerComponent(c.Name))
	pid, running := proc.Running(pidfile)
	if err := os.WriteFile(pausedMarker(st, c.Name), []byte(time.Now().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return err
	}
	if !running {
		fmt.Fprintf(out, "kube-apiserver[%s] is not running\n", c.Name)
		return nil
	}
	if err := proc.Stop(pidfile, control.APIServerStopGrace); err != nil {
		return fmt.Errorf("pausing %s: %w", c.Name, err)
	}
	fmt.Fprintf(out, "paused %s: stopped kube-apiserver (pid %d)\n", c.Name, pid)
	return nil
}

// Resume starts the kube-apiserver of one cluster again and waits for /readyz.
func Resume(ctx context.Context, dir, cluster string, out io.Writer) error {
	p, err := LoadPlan(dir)
	if err != nil {
		return err
	}
	c, err := p.Cluster(cluster)
	if err != nil {
		return err
	}
	unlock, err := lock(p.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	st := p.State()
	res, err := control.Ensure(ctx, st, control.APIServer(st, p.Control(c)))
	if err != nil {
		return err
	}
	_ = os.Remove(pausedMarker(st, c.Name))
	if res.Outcome == control.AlreadyRunning {
		fmt.Fprintf(out, "kube-apiserver[%s] was already running (pid %d)\n", c.Name, res.PID)
		return nil
	}
	fmt.Fprintf(out, "resumed %s: kube-apiserver %s (pid %d), ready in %s\n", c.Name, res.Outcome, res.PID, res.Elapsed.Round(100*time.Millisecond))
	return nil
}

// Env returns the shell exports for the fleet in dir.
func Env(dir string) (string, error) {
	p, err := LoadPlan(dir)
	if err != nil {
		return "", err
	}
	st := p.State()
	q := shellQuote
	return fmt.Sprintf("export FLEETPANE_TESTENV_DIR=%s\nexport FLEETPANE_CONFIG=%s\nexport KUBECONFIG=%s\n",
		q(st.Dir), q(st.FleetpaneConfig()), q(st.AdminKubeconfig())), nil
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
