// Package fleet runs the commands of testenv: up, down, status, pause,
// resume and env. It ties the other packages together: the PKI, etcd, each
// cluster's control plane, the node agent, the fixtures, the IdP, the
// metrics generator and Prometheus, and the output files.
package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"fleetpane/testenv/internal/config"
	"fleetpane/testenv/internal/control"
	"fleetpane/testenv/internal/etcd"
	"fleetpane/testenv/internal/kube"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/metricsserver"
	"fleetpane/testenv/internal/nodesim"
	"fleetpane/testenv/internal/pki"
)

// Plan is what `up` was asked for; it is saved as run/plan.json so that
// status, pause, resume and down know the fleet.
type Plan struct {
	Dir      string `json:"dir"`
	Clusters int    `json:"clusters"`
	PortBase int    `json:"port_base"`
	// IdP and Prometheus say whether up runs the IdP and the metrics
	// generator with one Prometheus per cluster.
	IdP        bool `json:"idp"`
	Prometheus bool `json:"prometheus"`
}

// NewPlan validates and returns a plan.
func NewPlan(dir string, clusters, portBase int, withIdP, withPrometheus bool) (Plan, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Dir: abs, Clusters: clusters, PortBase: portBase, IdP: withIdP, Prometheus: withPrometheus}
	if err := p.Ports().Validate(clusters); err != nil {
		return p, err
	}
	return p, nil
}

func planFile(st layout.State) string { return st.Path("run", "plan.json") }

// LoadPlan reads the plan saved by the last `up` in dir.
func LoadPlan(dir string) (Plan, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Plan{}, err
	}
	b, err := os.ReadFile(planFile(layout.State{Dir: abs}))
	if errors.Is(err, os.ErrNotExist) {
		return Plan{}, fmt.Errorf("no fleet in %s (run `testenv up` first)", abs)
	}
	if err != nil {
		return Plan{}, err
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return Plan{}, fmt.Errorf("%s: %w", planFile(layout.State{Dir: abs}), err)
	}
	p.Dir = abs
	return p, nil
}

// Save writes run/plan.json.
func (p Plan) Save() error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return config.WriteFileAtomic(planFile(p.State()), append(b, '\n'), 0o644)
}

func (p Plan) State() layout.State           { return layout.State{Dir: p.Dir} }
func (p Plan) Ports() layout.Ports           { return layout.Ports{Base: p.PortBase} }
func (p Plan) ClusterList() []layout.Cluster { return layout.Clusters(p.Clusters) }

// Cluster returns the cluster named name.
func (p Plan) Cluster(name string) (layout.Cluster, error) {
	var names []string
	for _, c := range p.ClusterList() {
		if c.Name == name {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return layout.Cluster{}, fmt.Errorf("no cluster %q in this fleet (clusters: %v)", name, names)
}

// Etcd returns the etcd options.
func (p Plan) Etcd() etcd.Options {
	return etcd.Options{DataDir: p.State().EtcdDataDir(), ClientPort: p.Ports().EtcdClient(), PeerPort: p.Ports().EtcdPeer()}
}

// PKI returns the PKI paths of c.
func (p Plan) PKI(c layout.Cluster) pki.Files { return pki.PathsIn(p.State().PKIDir(c.Name)) }

// Control returns what c's control-plane processes need.
func (p Plan) Control(c layout.Cluster) control.Cluster {
	st, ports := p.State(), p.Ports()
	return control.Cluster{
		Name: c.Name, Index: c.Index, PKI: p.PKI(c), EtcdURL: p.Etcd().ClientURL(),
		APIPort: ports.APIServer(c.Index), KCMPort: ports.ControllerManager(c.Index), SchedPort: ports.Scheduler(c.Index),
		Kubeconfig:     st.ClusterKubeconfig(c.Name),
		ServingCertDir: st.Path(c.Name, "serving-certs"),
		AuditPolicy:    st.Path(c.Name, "audit-policy.yaml"),
		AuditLog:       st.Path(c.Name, "audit.log"),
	}
}

// AdminTarget is how to reach c as admin.
func (p Plan) AdminTarget(c layout.Cluster) kube.Target {
	f := p.PKI(c)
	return kube.Target{Name: c.Name, APIURL: p.Control(c).APIURL(), CAFile: f.CACert, CertFile: f.AdminCert, KeyFile: f.AdminKey}
}

// PrometheusURL of c.
func (p Plan) PrometheusURL(c layout.Cluster) string {
	return "http://" + layout.Addr(p.Ports().Prometheus(c.Index))
}

// AgentConfig is the node agent's configuration.
func (p Plan) AgentConfig() nodesim.Config {
	cfg := nodesim.Config{KubeletListen: layout.Addr(p.Ports().KubeletProxy())}
	for _, c := range p.ClusterList() {
		cfg.Clusters = append(cfg.Clusters, nodesim.ClusterConfig{
			Name: c.Name, Index: c.Index, Region: c.Region, Zones: c.Zones, NodesPerZone: 2, Target: p.AdminTarget(c),
			CAKeyFile: p.PKI(c).CAKey,
		})
	}
	return cfg
}

// MetricsServer is what c's metrics-server needs.
func (p Plan) MetricsServer(c layout.Cluster) metricsserver.Config {
	return metricsserver.Config{
		Cluster: c.Name, Port: p.Ports().MetricsServer(c.Index), APIURL: p.Control(c).APIURL(), PKI: p.PKI(c),
		Kubeconfig:   p.State().MetricsServerKubeconfig(c.Name),
		KubeletProxy: layout.Addr(p.Ports().KubeletProxy()),
	}
}

// NodeNames of c.
func (p Plan) NodeNames(c layout.Cluster) []string {
	var out []string
	for _, n := range nodesim.Nodes(p.AgentConfig().Clusters[c.Index]) {
		out = append(out, n.Name)
	}
	return out
}
