package fleet

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"fleetpane/testenv/internal/control"
	"fleetpane/testenv/internal/idp"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/metricsgen"
	"fleetpane/testenv/internal/proc"
	"fleetpane/testenv/internal/prom"
)

// ComponentStatus is one line of `status`.
type ComponentStatus struct {
	Name    string
	PID     int
	Running bool
	Note    string
}

// Status reports every component of the fleet in dir; the error is non-nil
// when any is down.
func Status(ctx context.Context, dir string, out io.Writer) ([]ComponentStatus, error) {
	p, err := LoadPlan(dir)
	if err != nil {
		return nil, err
	}
	st := p.State()
	var list []ComponentStatus
	add := func(name string, pid int, ok bool, note string) {
		list = append(list, ComponentStatus{Name: name, PID: pid, Running: ok, Note: note})
	}
	pf := func(key string) (int, bool) { return proc.Running(st.PidFile(key)) }

	pid, ok := pf(layout.Etcd)
	add("etcd", pid, ok, p.Etcd().ClientURL())
	for _, c := range p.ClusterList() {
		cc := p.Control(c)
		pid, ok := pf(layout.APIServerComponent(c.Name))
		note := cc.APIURL()
		if ok {
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			if err := control.WaitAPIServer(rctx, cc, pid, ""); err != nil {
				note += " (not ready)"
			}
			cancel()
		} else if _, err := os.Stat(pausedMarker(st, c.Name)); err == nil {
			note += " (paused)"
		}
		add("kube-apiserver["+c.Name+"]", pid, ok, note)
		pid, ok = pf(layout.ControllerManagerComponent(c.Name))
		add("kube-controller-manager["+c.Name+"]", pid, ok, layout.Addr(cc.KCMPort))
		pid, ok = pf(layout.SchedulerComponent(c.Name))
		add("kube-scheduler["+c.Name+"]", pid, ok, layout.Addr(cc.SchedPort))
		pid, ok = pf(layout.MetricsServerComponent(c.Name))
		add("metrics-server["+c.Name+"]", pid, ok, "https://"+layout.Addr(p.Ports().MetricsServer(c.Index)))
	}
	pid, ok = pf(layout.Agent)
	add("node agent", pid, ok, fmt.Sprintf("%d simulated nodes, kubelets through http://%s", 4*p.Clusters, layout.Addr(p.Ports().KubeletProxy())))
	if p.IdP {
		pid, ok := idp.Running(st.IdPDir())
		add("idp", pid, ok, "http://"+layout.Addr(p.Ports().IdP()))
	}
	if p.Prometheus {
		pid, ok := metricsgen.Running(st.MetricsGenDir())
		add("metricsgen", pid, ok, "http://"+layout.Addr(p.Ports().MetricsGen()))
		for _, c := range p.ClusterList() {
			pid, ok := prom.Running(promDir(p, c.Name))
			add("prometheus["+c.Name+"]", pid, ok, p.PrometheusURL(c))
		}
	}

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	down := 0
	for _, s := range list {
		state, pidText := "running", fmt.Sprint(s.PID)
		if !s.Running {
			state, pidText = "stopped", "-"
			down++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, state, pidText, s.Note)
	}
	_ = tw.Flush()
	if down > 0 {
		return list, fmt.Errorf("%d of %d components are down", down, len(list))
	}
	return list, nil
}
