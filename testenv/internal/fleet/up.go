package fleet

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"fleetpane/testenv/internal/build"
	"fleetpane/testenv/internal/config"
	"fleetpane/testenv/internal/control"
	"fleetpane/testenv/internal/etcd"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/metricsserver"
	"fleetpane/testenv/internal/pki"
	"fleetpane/testenv/internal/proc"
	"fleetpane/testenv/internal/prom"
)

// UpOptions configure Up.
type UpOptions struct {
	Plan Plan
	// Build runs `go build` for the Kubernetes binaries first (incremental).
	Build bool
	// ModuleDir is the testenv Go module (for builds and testenv/idp); ""
	// when unknown.
	ModuleDir string
	// Self is the testenv executable, run as `testenv etcd|agent|metricsgen`.
	Self string
	// Timeout bounds the wait for the seeded fleet to be ready.
	Timeout time.Duration
	// KeepOnFailure leaves what this run started running when it fails.
	KeepOnFailure bool
	Out           io.Writer
}

// Up starts whatever of the fleet is not running, seeds it and waits until
// it is ready. On failure it stops what it started (unless KeepOnFailure).
func Up(ctx context.Context, o UpOptions) error {
	unlock, err := lock(o.Plan.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	r := newRun(o.Out)
	err = up(ctx, r, o)
	if err != nil && ctx.Err() != nil {
		err = errors.New("interrupted")
	}
	if err != nil {
		if o.KeepOnFailure {
			fmt.Fprintf(r.out, "leaving what was started running (--keep-on-failure); logs in %s\n", o.Plan.State().Path("logs"))
		} else if r.startedAny() {
			r.rollback()
			fmt.Fprintf(r.out, "logs: %s\n", o.Plan.State().Path("logs"))
		}
		return err
	}
	return nil
}

func up(ctx context.Context, r *run, o UpOptions) error {
	p := o.Plan
	st := p.State()
	for _, d := range []string{st.Dir, st.Path("logs"), st.Path("run"), st.BinDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := p.Save(); err != nil {
		return err
	}
	r.printf("fleet of %d cluster(s) in %s (ports from %d)", p.Clusters, st.Dir, p.PortBase)
	if err := stopStrays(r, p); err != nil {
		return err
	}
	if err := preflight(p); err != nil {
		return err
	}

	// 1. Binaries.
	if err := ensureBinaries(ctx, r, o); err != nil {
		return err
	}

	// 2. PKI and per-cluster kubeconfigs.
	for _, c := range p.ClusterList() {
		if _, err := pki.Ensure(st.PKIDir(c.Name), c.Name, time.Now()); err != nil {
			return fmt.Errorf("PKI of %s: %w", c.Name, err)
		}
		if err := config.WriteFileAtomic(p.Control(c).AuditPolicy, []byte(control.AuditPolicyYAML), 0o600); err != nil {
			return err
		}
		kc, err := config.RenderAdminKubeconfig([]config.Cluster{p.outputCluster(c)})
		if err != nil {
			return err
		}
		if err := config.WriteFileAtomic(st.ClusterKubeconfig(c.Name), kc, 0o600); err != nil {
			return err
		}
		if err := metricsserver.WriteKubeconfig(p.MetricsServer(c), config.WriteFileAtomic); err != nil {
			return err
		}
	}
	r.printf("PKI ready (CA, serving and client certificates per cluster)")

	// 3. etcd, then every cluster's control plane in parallel, and the IdP.
	if err := ensure(ctx, r, st, etcd.Component(p.Etcd(), o.Self), p.Etcd().ClientURL()); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range p.ClusterList() {
		g.Go(func() error { return startControlPlane(gctx, r, p, c) })
	}
	var idpSecret string
	if p.IdP {
		g.Go(func() error {
			s, err := startIdP(gctx, r, o)
			idpSecret = s
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	// 4. Output files, node agent, seeding.
	if err := config.WriteAll(p.outputFleet(idpSecret)); err != nil {
		return fmt.Errorf("writing output files: %w", err)
	}
	r.printf("wrote %s, %s, %s", st.FleetpaneConfig(), st.AdminKubeconfig(), st.FleetJSON())
	if err := startAgent(ctx, r, o); err != nil {
		return err
	}
	g, gctx = errgroup.WithContext(ctx)
	for _, c := range p.ClusterList() {
		g.Go(func() error { return seed(gctx, r, p, c) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Every cluster's metrics-server, once its RBAC and APIService exist.
	g, gctx = errgroup.WithContext(ctx)
	for _, c := range p.ClusterList() {
		ms := p.MetricsServer(c)
		g.Go(func() error {
			return ensure(gctx, r, st, metricsserver.Component(st, ms), "https://"+layout.Addr(ms.Port))
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	// 5. Metrics, and the wait for a ready fleet.
	g, gctx = errgroup.WithContext(ctx)
	if p.Prometheus {
		g.Go(func() error { return startMetrics(gctx, r, o) })
	}
	g.Go(func() error { return waitReady(gctx, r, p, o.Timeout) })
	if err := g.Wait(); err != nil {
		return err
	}
	r.printf("fleet ready in %s: %d clusters; `testenv env` prints the exports", r.elapsed().Round(100*time.Millisecond), p.Clusters)
	return nil
}

// ensure runs control.Ensure and reports and records the outcome.
func ensure(ctx context.Context, r *run, st layout.State, c control.Component, where string) error {
	res, err := control.Ensure(ctx, st, c)
	if err != nil {
		return err
	}
	switch res.Outcome {
	case control.AlreadyRunning:
		r.printf("%s already running (pid %d)", c.Name, res.PID)
	default:
		pidfile, grace := st.PidFile(c.Key), c.StopGrace
		if grace == 0 {
			grace = 15 * time.Second
		}
		r.started(c.Name, func() error { return proc.Stop(pidfile, grace) })
		r.printf("%s %s (pid %d) %s in %s", c.Name, res.Outcome, res.PID, where, res.Elapsed.Round(100*time.Millisecond))
	}
	return nil
}

func startControlPlane(ctx context.Context, r *run, p Plan, c layout.Cluster) error {
	st, cc := p.State(), p.Control(c)
	if err := ensure(ctx, r, st, control.APIServer(st, cc), cc.APIURL()); err != nil {
		return err
	}
	_ = os.Remove(pausedMarker(st, c.Name))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		return ensure(gctx, r, st, control.ControllerManager(st, cc), fmt.Sprintf("on %s", layout.Addr(cc.KCMPort)))
	})
	g.Go(func() error {
		return ensure(gctx, r, st, control.Scheduler(st, cc), fmt.Sprintf("on %s", layout.Addr(cc.SchedPort)))
	})
	return g.Wait()
}

func ensureBinaries(ctx context.Context, r *run, o UpOptions) error {
	st := o.Plan.State()
	if !o.Build {
		if missing := build.Missing(st.BinDir()); len(missing) > 0 {
			return fmt.Errorf("binaries missing in %s: %v (run `testenv build`, or `up` without --no-build)", st.BinDir(), missing)
		}
		return nil
	}
	if o.ModuleDir == "" {
		if missing := build.Missing(st.BinDir()); len(missing) > 0 {
			return fmt.Errorf("binaries missing in %s: %v, and the testenv module to build them is not found", st.BinDir(), missing)
		}
		r.printf("testenv module not found: using the binaries in %s as they are", st.BinDir())
		return nil
	}
	r.printf("checking the Kubernetes binaries (go build, incremental)")
	err := build.Run(ctx, build.Options{ModuleDir: o.ModuleDir, BinDir: st.BinDir(), Progress: r.out})
	if err != nil {
		return err
	}
	r.printf("binaries ready")
	return nil
}

// startAgent (re)starts the node agent when its configuration or binary changed.
func startAgent(ctx context.Context, r *run, o UpOptions) error {
	st := o.Plan.State()
	data, err := o.Plan.AgentConfig().Render()
	if err != nil {
		return err
	}
	if err := config.WriteFileAtomic(st.AgentConfig(), data, 0o600); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	proxy := o.Plan.Ports().KubeletProxy()
	comp := control.Component{
		Name: "node agent", Key: layout.Agent, Program: o.Self,
		Args:  []string{"agent", "--config", st.AgentConfig(), "--config-sha256", fmt.Sprintf("%x", sum[:8])},
		Ports: []int{proxy},
		Ready: func(ctx context.Context, pid int, logFile string) error {
			// Its kubelet proxy listens once the node certificates exist.
			if err := proc.WaitTCP(ctx, layout.Addr(proxy), &proc.WaitOptions{PID: pid, LogFile: logFile, Interval: 100 * time.Millisecond}); err != nil {
				return err
			}
			if !proc.Alive(pid) {
				return errors.New("the agent exited:\n" + proc.LogTail(logFile, 15))
			}
			return nil
		},
	}
	return ensure(ctx, r, st, comp, fmt.Sprintf("simulating %d nodes, kubelets through http://%s", 4*o.Plan.Clusters, layout.Addr(proxy)))
}

func (p Plan) outputCluster(c layout.Cluster) config.Cluster {
	f := p.PKI(c)
	out := config.Cluster{
		Name: c.Name, APIURL: p.Control(c).APIURL(), CAFile: f.CACert,
		Admin:     config.CertPair{CertFile: f.AdminCert, KeyFile: f.AdminKey},
		Fleetpane: config.CertPair{CertFile: f.FleetpaneCert, KeyFile: f.FleetpaneKey},
		Zones:     c.Zones, Region: c.Region, Nodes: p.NodeNames(c),
	}
	if p.Prometheus {
		out.PrometheusURL = p.PrometheusURL(c)
	}
	return out
}

func (p Plan) outputFleet(idpSecretFile string) config.Fleet {
	f := config.Fleet{
		StateDir:        p.Dir,
		FleetpaneListen: "127.0.0.1:3000",
		FleetpaneURL:    "http://127.0.0.1:3000",
	}
	for _, c := range p.ClusterList() {
		f.Clusters = append(f.Clusters, p.outputCluster(c))
	}
	if p.IdP {
		f.IdP = idpFacts(p, idpSecretFile)
	}
	return f
}

// pausedMarker exists while a cluster's apiserver is paused.
func pausedMarker(st layout.State, cluster string) string {
	return st.Path("run", cluster+".paused")
}

// stopStrays stops control-plane processes of clusters that are no longer
// in the plan (a previous `up --clusters` with more clusters).
func stopStrays(r *run, p Plan) error {
	st := p.State()
	want, clusters := map[string]bool{}, map[string]bool{}
	for _, c := range p.ClusterList() {
		clusters[c.Name] = true
		want[layout.APIServerComponent(c.Name)] = true
		want[layout.ControllerManagerComponent(c.Name)] = true
		want[layout.SchedulerComponent(c.Name)] = true
	}
	for _, c := range p.ClusterList() {
		want[layout.MetricsServerComponent(c.Name)] = true
	}
	for _, kind := range []string{"metrics-server-", "kube-controller-manager-", "kube-scheduler-", "kube-apiserver-"} {
		files, _ := filepath.Glob(st.Path("run", kind+"*.pid"))
		for _, f := range files {
			key := filepath.Base(f[:len(f)-len(".pid")])
			if want[key] {
				continue
			}
			if pid, ok := proc.Running(f); ok {
				r.printf("stopping %s (pid %d): its cluster is not in this fleet any more", key, pid)
			}
			grace := 15 * time.Second
			if kind == "kube-apiserver-" {
				grace = control.APIServerStopGrace
			}
			if err := proc.Stop(f, grace); err != nil {
				return fmt.Errorf("stopping %s: %w", key, err)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(st.Dir, "*", "prometheus", "prometheus.pid"))
	for _, f := range files {
		cluster := filepath.Base(filepath.Dir(filepath.Dir(f)))
		if clusters[cluster] {
			continue
		}
		if pid, ok := proc.Running(f); ok {
			r.printf("stopping prometheus[%s] (pid %d): its cluster is not in this fleet any more", cluster, pid)
		}
		if err := prom.Stop(filepath.Dir(f)); err != nil {
			return err
		}
	}
	return nil
}
