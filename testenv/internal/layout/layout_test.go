package layout

import (
	"fmt"
	"testing"
)

func TestClusterNames(t *testing.T) {
	got := fmt.Sprint(ClusterNames(5))
	if want := "[prod-eu prod-us staging staging-2 staging-3]"; got != want {
		t.Fatalf("ClusterNames(5) = %s, want %s", got, want)
	}
	for _, n := range ClusterNames(MaxClusters) {
		if !ValidClusterName(n) {
			t.Errorf("%q is not a DNS label", n)
		}
	}
}

func TestContractPorts(t *testing.T) {
	p := Ports{Base: DefaultPortBase}
	cases := map[string][2]int{
		"etcd client":      {p.EtcdClient(), 16379},
		"etcd peer":        {p.EtcdPeer(), 16380},
		"apiserver 0":      {p.APIServer(0), 16443},
		"apiserver 2":      {p.APIServer(2), 16445},
		"kcm 1":            {p.ControllerManager(1), 16501},
		"scheduler 1":      {p.Scheduler(1), 16601},
		"metrics-server 2": {p.MetricsServer(2), 16702},
		"kubelet proxy":    {p.KubeletProxy(), 16250},
		"prometheus 0":     {p.Prometheus(0), 19090},
		"prometheus 2":     {p.Prometheus(2), 19092},
		"metrics gen":      {p.MetricsGen(), 19190},
		"idp":              {p.IdP(), 15556},
	}
	for name, c := range cases {
		if c[0] != c[1] {
			t.Errorf("%s port = %d, want %d", name, c[0], c[1])
		}
	}
}

func TestPortsNeverCollide(t *testing.T) {
	p := Ports{Base: DefaultPortBase}
	seen := map[int]string{}
	add := func(port int, what string) {
		if prev, ok := seen[port]; ok {
			t.Fatalf("port %d used by %s and %s", port, prev, what)
		}
		seen[port] = what
	}
	add(p.EtcdClient(), "etcd")
	add(p.EtcdPeer(), "etcd peer")
	add(p.MetricsGen(), "metricsgen")
	add(p.IdP(), "idp")
	add(p.KubeletProxy(), "kubelet proxy")
	for i := 0; i < MaxClusters; i++ {
		add(p.APIServer(i), fmt.Sprint("apiserver ", i))
		add(p.ControllerManager(i), fmt.Sprint("kcm ", i))
		add(p.Scheduler(i), fmt.Sprint("scheduler ", i))
		add(p.Prometheus(i), fmt.Sprint("prometheus ", i))
		add(p.MetricsServer(i), fmt.Sprint("metrics-server ", i))
	}
}

func TestPortsValidate(t *testing.T) {
	if err := (Ports{Base: DefaultPortBase}).Validate(3); err != nil {
		t.Fatal(err)
	}
	if err := (Ports{Base: DefaultPortBase}).Validate(0); err == nil {
		t.Error("0 clusters accepted")
	}
	if err := (Ports{Base: DefaultPortBase}).Validate(MaxClusters + 1); err == nil {
		t.Error("too many clusters accepted")
	}
	if err := (Ports{Base: 1000}).Validate(3); err == nil {
		t.Error("privileged ports accepted")
	}
	if err := (Ports{Base: 63000}).Validate(3); err == nil {
		t.Error("ports above 65535 accepted")
	}
}

func TestClustersZonesAndRegions(t *testing.T) {
	cs := Clusters(4)
	if cs[1].Name != "prod-us" || cs[1].Region != "us-east" || cs[0].Region != "eu-west" {
		t.Fatalf("unexpected clusters %+v", cs)
	}
	for _, c := range cs {
		if len(c.Zones) != 2 || c.Zones[0] != "zone-a" || c.Zones[1] != "zone-b" {
			t.Errorf("%s zones = %v", c.Name, c.Zones)
		}
	}
}
