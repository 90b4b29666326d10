package fleet

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"fleetpane/testenv/internal/control"
	"fleetpane/testenv/internal/idp"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/metricsgen"
	"fleetpane/testenv/internal/proc"
	"fleetpane/testenv/internal/prom"
)

// stopRank orders shutdown: first what only reads from the clusters, then
// controllers, then apiservers, and etcd last (apiservers hang on shutdown
// when etcd is gone first).
func stopRank(key string) int {
	switch {
	case key == layout.Agent, strings.HasPrefix(key, "metrics-server-"):
		return 0
	case strings.HasPrefix(key, "kube-controller-manager-"), strings.HasPrefix(key, "kube-scheduler-"):
		return 1
	case strings.HasPrefix(key, "kube-apiserver-"):
		return 2
	case key == layout.Etcd:
		return 4
	default:
		return 3
	}
}

// Down stops every process the fleet in dir started, by the PIDs in its
// pidfiles. With purge it then deletes the state dir except bin/ (the built
// binaries).
func Down(dir string, purge bool, out io.Writer) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	st := layout.State{Dir: abs}
	if _, err := os.Stat(abs); os.IsNotExist(err) {
		fmt.Fprintf(out, "nothing to stop: %s does not exist\n", abs)
		return nil
	}
	unlock, err := lock(abs)
	if err != nil {
		return err
	}
	defer unlock()
	start := time.Now()
	var errs []string
	stopped := 0
	stop := func(name string, pidfile string, f func() error) {
		pid, running := proc.Running(pidfile)
		if err := f(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			return
		}
		if running {
			stopped++
			fmt.Fprintf(out, "stopped %s (pid %d)\n", name, pid)
		}
	}

	// Helpers of other packages first: they only read from the clusters.
	if files, _ := filepath.Glob(filepath.Join(abs, "*", "prometheus", "prometheus.pid")); len(files) > 0 {
		for _, f := range files {
			d := filepath.Dir(f)
			stop("prometheus["+filepath.Base(filepath.Dir(d))+"]", f, func() error { return prom.Stop(d) })
		}
	}
	stop("metricsgen", metricsgen.PidFile(st.MetricsGenDir()), func() error { return metricsgen.Stop(st.MetricsGenDir()) })
	stop("idp", idp.PidFile(st.IdPDir()), func() error { return idp.Stop(st.IdPDir()) })

	files, _ := filepath.Glob(st.Path("run", "*.pid"))
	sort.SliceStable(files, func(i, j int) bool {
		return stopRank(pidKey(files[i])) < stopRank(pidKey(files[j]))
	})
	for _, f := range files {
		key := pidKey(f)
		grace := 15 * time.Second
		if strings.HasPrefix(key, "kube-apiserver-") {
			grace = control.APIServerStopGrace
		}
		stop(key, f, func() error { return proc.Stop(f, grace) })
	}
	markers, _ := filepath.Glob(st.Path("run", "*.paused"))
	for _, m := range markers {
		_ = os.Remove(m)
	}
	if len(errs) > 0 {
		return fmt.Errorf("down: %s", strings.Join(errs, "; "))
	}
	fmt.Fprintf(out, "stopped %d process(es) in %s\n", stopped, time.Since(start).Round(100*time.Millisecond))
	if purge {
		entries, err := os.ReadDir(abs)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Name() == "bin" {
				continue
			}
			if err := os.RemoveAll(filepath.Join(abs, e.Name())); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "purged %s (kept bin/)\n", abs)
	}
	return nil
}

func pidKey(pidfile string) string { return strings.TrimSuffix(filepath.Base(pidfile), ".pid") }
