package fleet

import (
	"errors"
	"fmt"

	"fleetpane/testenv/internal/idp"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/metricsgen"
	"fleetpane/testenv/internal/proc"
	"fleetpane/testenv/internal/prom"
)

// portUse is a port a component of the plan binds.
type portUse struct {
	component string
	port      int
	running   func() bool // the component already runs (its port is its own)
}

// portPlan lists every port of the plan with its component.
func portPlan(p Plan) []portUse {
	st, ports := p.State(), p.Ports()
	pidRunning := func(key string) func() bool {
		return func() bool { _, ok := proc.Running(st.PidFile(key)); return ok }
	}
	uses := []portUse{
		{"etcd", ports.EtcdClient(), pidRunning(layout.Etcd)},
		{"etcd (peer)", ports.EtcdPeer(), pidRunning(layout.Etcd)},
		{"node agent (kubelet proxy)", ports.KubeletProxy(), pidRunning(layout.Agent)},
	}
	for _, c := range p.ClusterList() {
		uses = append(uses,
			portUse{"kube-apiserver[" + c.Name + "]", ports.APIServer(c.Index), pidRunning(layout.APIServerComponent(c.Name))},
			portUse{"kube-controller-manager[" + c.Name + "]", ports.ControllerManager(c.Index), pidRunning(layout.ControllerManagerComponent(c.Name))},
			portUse{"kube-scheduler[" + c.Name + "]", ports.Scheduler(c.Index), pidRunning(layout.SchedulerComponent(c.Name))},
			portUse{"metrics-server[" + c.Name + "]", ports.MetricsServer(c.Index), pidRunning(layout.MetricsServerComponent(c.Name))},
		)
		if p.Prometheus {
			dir := promDir(p, c.Name)
			uses = append(uses, portUse{"prometheus[" + c.Name + "]", ports.Prometheus(c.Index),
				func() bool { _, ok := prom.Running(dir); return ok }})
		}
	}
	if p.IdP {
		uses = append(uses, portUse{"idp[local]", ports.IdP(), func() bool { _, ok := idp.Running(st.IdPDir()); return ok }})
	}
	if p.Prometheus {
		uses = append(uses, portUse{"metricsgen", ports.MetricsGen(), func() bool { _, ok := metricsgen.Running(st.MetricsGenDir()); return ok }})
	}
	return uses
}

// preflight checks, before anything starts, that the ports of components
// that do not run yet are free, and reports every taken one.
func preflight(p Plan) error {
	var errs []error
	for _, u := range portPlan(p) {
		if u.running() {
			continue
		}
		if err := proc.CheckPortFree(layout.Addr(u.port), u.component); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cannot start the fleet: %w", errors.Join(errs...))
	}
	return nil
}
