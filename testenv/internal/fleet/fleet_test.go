package fleet

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestPlanSaveLoad(t *testing.T) {
	dir := t.TempDir()
	p, err := NewPlan(dir, 4, 20000, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := LoadPlan(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Fatalf("loaded %+v, saved %+v", got, p)
	}
	if c, err := got.Cluster("staging-2"); err != nil || c.Index != 3 {
		t.Fatalf("staging-2: %+v %v", c, err)
	}
	if _, err := got.Cluster("nope"); err == nil || !strings.Contains(err.Error(), "prod-eu") {
		t.Fatalf("unknown cluster error %v", err)
	}
	if got.Control(got.ClusterList()[1]).APIURL() != "https://127.0.0.1:20444" {
		t.Error(got.Control(got.ClusterList()[1]).APIURL())
	}
	if _, err := LoadPlan(t.TempDir()); err == nil || !strings.Contains(err.Error(), "testenv up") {
		t.Fatalf("missing plan: %v", err)
	}
	if _, err := NewPlan(dir, 0, 16000, true, true); err == nil {
		t.Fatal("0 clusters accepted")
	}
}

func TestAgentConfigCoversEveryCluster(t *testing.T) {
	p, _ := NewPlan(t.TempDir(), 3, 16000, true, true)
	cfg := p.AgentConfig()
	if len(cfg.Clusters) != 3 {
		t.Fatal(len(cfg.Clusters))
	}
	for i, c := range cfg.Clusters {
		if c.Index != i || !strings.HasPrefix(c.Target.APIURL, "https://127.0.0.1:1644") || !filepath.IsAbs(c.Target.CertFile) {
			t.Errorf("cluster %d: %+v", i, c)
		}
	}
	if n := p.NodeNames(p.ClusterList()[0]); len(n) != 4 || n[0] != "prod-eu-node-a1" {
		t.Errorf("nodes %v", n)
	}
	// The simulated kubelets: one proxy for the fleet, certificates from each cluster's CA.
	if cfg.KubeletListen != "127.0.0.1:16250" {
		t.Errorf("kubelet proxy %q", cfg.KubeletListen)
	}
	for _, c := range cfg.Clusters {
		if c.CAKeyFile != p.PKI(p.ClusterList()[c.Index]).CAKey {
			t.Errorf("%s: CA key %q", c.Name, c.CAKeyFile)
		}
	}
	ms := p.MetricsServer(p.ClusterList()[2])
	if ms.Port != 16702 || ms.KubeletProxy != "127.0.0.1:16250" || ms.APIURL != "https://127.0.0.1:16445" {
		t.Errorf("metrics-server of staging %+v", ms)
	}
}

func TestStopOrderPutsApiserversBeforeEtcd(t *testing.T) {
	keys := []string{"etcd", "kube-apiserver-prod-eu", "agent", "kube-scheduler-prod-eu", "kube-controller-manager-staging", "other", "metrics-server-prod-us"}
	sort.SliceStable(keys, func(i, j int) bool { return stopRank(keys[i]) < stopRank(keys[j]) })
	got := strings.Join(keys, " ")
	if want := "agent metrics-server-prod-us kube-scheduler-prod-eu kube-controller-manager-staging kube-apiserver-prod-eu other etcd"; got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
}

func TestEnvQuotes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "it's")
	p, _ := NewPlan(dir, 1, 16000, false, false)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}
	s, err := Env(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, `export KUBECONFIG='`) || !strings.Contains(s, `it'\''s/admin.kubeconfig'`) || !strings.Contains(s, "FLEETPANE_CONFIG=") {
		t.Fatalf("env:\n%s", s)
	}
}

func TestPortPlanHasNoDuplicates(t *testing.T) {
	p, _ := NewPlan(t.TempDir(), 5, 16000, true, true)
	seen := map[int]string{}
	for _, u := range portPlan(p) {
		if prev, ok := seen[u.port]; ok && !(strings.HasPrefix(prev, "etcd") && strings.HasPrefix(u.component, "etcd")) {
			t.Errorf("port %d for %s and %s", u.port, prev, u.component)
		}
		seen[u.port] = u.component
	}
	if seen[15556] != "idp[local]" || seen[19190] != "metricsgen" || seen[16443] != "kube-apiserver[prod-eu]" ||
		seen[16250] != "node agent (kubelet proxy)" || seen[16701] != "metrics-server[prod-us]" {
		t.Errorf("port plan %v", seen)
	}
}
