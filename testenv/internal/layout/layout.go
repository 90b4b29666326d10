// Package layout names everything of a local fleet: its clusters, the
// loopback ports each component binds, and the files and directories in the
// state dir. It is pure (no I/O except Resolve helpers) so the plan can be
// unit-tested and shared by `up`, `down`, `status` and the node agent.
package layout

import (
	"fmt"
	"path/filepath"
	"regexp"
)

// Host is the only address anything of the fleet binds to.
const Host = "127.0.0.1"

// DefaultPortBase is the contract's port base.
const DefaultPortBase = 16000

// MaxClusters bounds --clusters so per-cluster port ranges never overlap.
const MaxClusters = 50

// ClusterNames returns the names of an n-cluster fleet: prod-eu, prod-us,
// staging, then staging-2, staging-3, ...
func ClusterNames(n int) []string {
	base := []string{"prod-eu", "prod-us", "staging"}
	names := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if i < len(base) {
			names = append(names, base[i])
		} else {
			names = append(names, fmt.Sprintf("staging-%d", i-len(base)+2))
		}
	}
	return names
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// ValidClusterName reports whether name is a DNS label (what the contract asks).
func ValidClusterName(name string) bool { return dnsLabel.MatchString(name) }

// Ports is the port plan derived from one base (default 16000):
//
//	etcd client base+379, peer base+380
//	cluster i: kube-apiserver base+443+i, kube-controller-manager base+500+i,
//	           kube-scheduler base+600+i, metrics-server base+700+i,
//	           Prometheus base+3090+i
//	node agent (the simulated kubelets' proxy) base+250
//	metrics generator base+3190, IdP base-444 (15556 for the default base)
type Ports struct{ Base int }

func (p Ports) EtcdClient() int             { return p.Base + 379 }
func (p Ports) EtcdPeer() int               { return p.Base + 380 }
func (p Ports) APIServer(i int) int         { return p.Base + 443 + i }
func (p Ports) ControllerManager(i int) int { return p.Base + 500 + i }
func (p Ports) Scheduler(i int) int         { return p.Base + 600 + i }
func (p Ports) MetricsServer(i int) int     { return p.Base + 700 + i }
func (p Ports) KubeletProxy() int           { return p.Base + 250 }
func (p Ports) Prometheus(i int) int        { return p.Base + 3090 + i }
func (p Ports) MetricsGen() int             { return p.Base + 3190 }
func (p Ports) IdP() int                    { return p.Base - 444 }

// Validate checks that every port of an n-cluster fleet is a valid,
// unprivileged port.
func (p Ports) Validate(n int) error {
	if n < 1 || n > MaxClusters {
		return fmt.Errorf("--clusters must be between 1 and %d, got %d", MaxClusters, n)
	}
	lo, hi := p.IdP(), p.MetricsGen()
	if lo < 1024 || hi > 65535 {
		return fmt.Errorf("--port-base %d gives ports %d..%d, outside 1024..65535", p.Base, lo, hi)
	}
	return nil
}

// Addr is "127.0.0.1:<port>".
func Addr(port int) string { return fmt.Sprintf("%s:%d", Host, port) }

// Cluster is the plan of one cluster.
type Cluster struct {
	Index int
	Name  string
	// Zones are the zones the cluster's simulated nodes are spread over.
	Zones []string
	// Region is the region label of its nodes.
	Region string
}

// Zones of every cluster.
var Zones = []string{"zone-a", "zone-b"}

// Clusters returns the plan of an n-cluster fleet.
func Clusters(n int) []Cluster {
	var out []Cluster
	for i, name := range ClusterNames(n) {
		region := "eu-west"
		switch {
		case name == "prod-us":
			region = "us-east"
		case i >= 2:
			region = "eu-central"
		}
		out = append(out, Cluster{Index: i, Name: name, Zones: append([]string(nil), Zones...), Region: region})
	}
	return out
}

// State is the state directory of a fleet and the paths inside it.
type State struct{ Dir string }

func (s State) Path(parts ...string) string {
	return filepath.Join(append([]string{s.Dir}, parts...)...)
}

func (s State) BinDir() string                   { return s.Path("bin") }
func (s State) Bin(name string) string           { return s.Path("bin", name) }
func (s State) LogFile(component string) string  { return s.Path("logs", component+".log") }
func (s State) PidFile(component string) string  { return s.Path("run", component+".pid") }
func (s State) EtcdDataDir() string              { return s.Path("etcd", "data") }
func (s State) ClusterDir(cluster string) string { return s.Path(cluster) }
func (s State) PKIDir(cluster string) string     { return s.Path(cluster, "pki") }

// ClusterKubeconfig is the single-context admin kubeconfig of one cluster,
// used by its controller-manager and scheduler.
func (s State) ClusterKubeconfig(cluster string) string { return s.Path(cluster, "admin.kubeconfig") }
func (s State) AdminKubeconfig() string                 { return s.Path("admin.kubeconfig") }
func (s State) FleetpaneConfig() string                 { return s.Path("fleetpane.toml") }
func (s State) FleetJSON() string                       { return s.Path("fleet.json") }
func (s State) AgentConfig() string                     { return s.Path("agent", "config.json") }
func (s State) IdPDir() string                          { return s.Path("idp") }
func (s State) PrometheusDir() string                   { return s.Path("prometheus") }
func (s State) MetricsGenDir() string                   { return s.Path("metricsgen") }

// MetricsServerKubeconfig is the kubeconfig of a cluster's metrics-server
// (its own identity, system:metrics-server).
func (s State) MetricsServerKubeconfig(cluster string) string {
	return s.Path(cluster, "metrics-server.kubeconfig")
}

// Component names, used for log files, pidfiles and messages.
const (
	Etcd  = "etcd"
	Agent = "agent"
)

func APIServerComponent(cluster string) string         { return "kube-apiserver-" + cluster }
func ControllerManagerComponent(cluster string) string { return "kube-controller-manager-" + cluster }
func SchedulerComponent(cluster string) string         { return "kube-scheduler-" + cluster }
func MetricsServerComponent(cluster string) string     { return "metrics-server-" + cluster }
