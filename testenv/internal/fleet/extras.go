package fleet

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fleetpane/testenv/internal/config"
	"fleetpane/testenv/internal/idp"
	"fleetpane/testenv/internal/kube"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/metricsgen"
	"fleetpane/testenv/internal/nodesim"
	"fleetpane/testenv/internal/prom"
)

// IdP, metrics generator and Prometheus come from internal/idp,
// internal/metricsgen and internal/prom; this file only wires them in.

// Every helper logs into <dir>/logs like the rest of the fleet; pidfiles
// stay in the helpers' own directories, where their Stop(dir) looks.

func idpConfig(p Plan, moduleDir string) idp.Config {
	cfg := idp.DefaultConfig(p.State().IdPDir(), filepath.Join(moduleDir, "idp"), layout.Addr(p.Ports().IdP()))
	cfg.LogFile = p.State().LogFile("idp")
	return cfg
}

// startIdP starts the IdP and returns its client secret file.
func startIdP(ctx context.Context, r *run, o UpOptions) (string, error) {
	if o.ModuleDir == "" {
		return "", fmt.Errorf("idp: the testenv module (with testenv/idp) is not found; run testenv from the repository or pass --no-idp")
	}
	cfg := idpConfig(o.Plan, o.ModuleDir)
	inst, err := idp.Start(ctx, cfg)
	if err != nil {
		return "", err
	}
	if inst.Started {
		dir := cfg.Dir
		r.started("idp", func() error { return idp.Stop(dir) })
		r.printf("idp started (pid %d) %s", inst.PID, inst.Issuer)
	} else {
		r.printf("idp already running (pid %d)", inst.PID)
	}
	return inst.ClientSecretFiles[idp.DefaultClientID], nil
}

func idpFacts(p Plan, secretFile string) config.IdP {
	if secretFile == "" {
		secretFile = filepath.Join(p.State().IdPDir(), "client-secret")
	}
	out := config.IdP{
		Name: "local", DisplayName: "Local IdP",
		Issuer:   "http://" + layout.Addr(p.Ports().IdP()),
		ClientID: idp.DefaultClientID, ClientSecretFile: secretFile,
	}
	for _, u := range idp.DemoUsers() {
		out.Users = append(out.Users, config.User{Email: u.Email, Password: u.Password, Groups: u.Groups})
	}
	return out
}

func metricsGenConfig(p Plan, self string) metricsgen.ProcessConfig {
	var names []string
	for _, c := range p.ClusterList() {
		names = append(names, c.Name)
	}
	listen := layout.Addr(p.Ports().MetricsGen())
	return metricsgen.ProcessConfig{
		Exe:      self,
		Args:     []string{"metricsgen", "--listen", listen, "--config", p.State().AgentConfig()},
		Dir:      p.State().MetricsGenDir(),
		Listen:   listen,
		Clusters: names,
		LogFile:  p.State().LogFile("metricsgen"),
	}
}

func promDir(p Plan, cluster string) string { return p.State().Path(cluster, "prometheus") }

// startMetrics starts the metrics generator, then one Prometheus per cluster.
func startMetrics(ctx context.Context, r *run, o UpOptions) error {
	p := o.Plan
	mg := metricsGenConfig(p, o.Self)
	pid, started, err := metricsgen.Start(ctx, mg)
	if err != nil {
		return err
	}
	if started {
		dir := mg.Dir
		r.started("metricsgen", func() error { return metricsgen.Stop(dir) })
		r.printf("metrics generator started (pid %d) http://%s", pid, mg.Listen)
	} else {
		r.printf("metrics generator already running (pid %d)", pid)
	}
	var cfgs []prom.Config
	for _, c := range p.ClusterList() {
		cfgs = append(cfgs, prom.Config{
			Cluster: c.Name, Dir: promDir(p, c.Name),
			Listen: layout.Addr(p.Ports().Prometheus(c.Index)), Target: mg.Listen,
			LogFile: p.State().LogFile("prometheus-" + c.Name),
		})
	}
	insts, err := prom.StartAll(ctx, cfgs)
	for _, inst := range insts {
		if inst == nil {
			continue
		}
		if inst.Started {
			dir := inst.Dir
			r.started("prometheus["+inst.Cluster+"]", func() error { return prom.Stop(dir) })
			r.printf("prometheus[%s] started (pid %d) %s", inst.Cluster, inst.PID, inst.URL)
		} else {
			r.printf("prometheus[%s] already running (pid %d)", inst.Cluster, inst.PID)
		}
	}
	return err
}

// PodLister lists the running pods' containers of each cluster for the
// metrics generator, with the clusters of the agent's configuration.
type PodLister struct{ clients map[string]*kube.Clients }

// NewPodLister builds clients for every cluster of an agent config file.
func NewPodLister(agentConfig string) (*PodLister, []string, error) {
	cfg, err := nodesim.Load(agentConfig)
	if err != nil {
		return nil, nil, err
	}
	l := &PodLister{clients: map[string]*kube.Clients{}}
	var names []string
	for _, c := range cfg.Clusters {
		cl, err := kube.NewClients(c.Target)
		if err != nil {
			return nil, nil, err
		}
		l.clients[c.Name] = cl
		names = append(names, c.Name)
	}
	return l, names, nil
}

// ListPods implements metricsgen.PodLister: the containers of the Running
// pods in the fixture namespaces.
func (l *PodLister) ListPods(ctx context.Context, cluster string) ([]metricsgen.Pod, error) {
	c, ok := l.clients[cluster]
	if !ok {
		return nil, fmt.Errorf("unknown cluster %q", cluster)
	}
	pods, err := c.Typed.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []metricsgen.Pod
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil || strings.HasPrefix(p.Namespace, "kube-") {
			continue
		}
		for _, ct := range p.Spec.Containers {
			out = append(out, metricsgen.Pod{Namespace: p.Namespace, Name: p.Name, Container: ct.Name})
		}
	}
	return out, nil
}
