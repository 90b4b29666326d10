package control

import (
	"strings"
	"testing"

	"fleetpane/testenv/internal/pki"
)

func testCluster() Cluster {
	return Cluster{
		Name: "prod-us", Index: 1, PKI: pki.PathsIn("/s/prod-us/pki"), EtcdURL: "http://127.0.0.1:16379",
		APIPort: 16444, KCMPort: 16501, SchedPort: 16601, Kubeconfig: "/s/prod-us/admin.kubeconfig",
		ServingCertDir: "/s/prod-us/serving-certs",
		AuditPolicy:    "/s/prod-us/audit-policy.yaml", AuditLog: "/s/prod-us/audit.log",
	}
}

func has(t *testing.T, args []string, want ...string) {
	t.Helper()
	joined := "\n" + strings.Join(args, "\n") + "\n"
	for _, w := range want {
		if !strings.Contains(joined, "\n"+w+"\n") {
			t.Errorf("missing %s in\n%s", w, strings.Join(args, " "))
		}
	}
}

func TestAPIServerArgs(t *testing.T) {
	args := APIServerArgs(testCluster())
	has(t, args,
		"--bind-address=127.0.0.1",
		"--secure-port=16444",
		"--authorization-mode=Node,RBAC",
		"--endpoint-reconciler-type=none",
		"--etcd-prefix=/prod-us",
		"--etcd-servers=http://127.0.0.1:16379",
		"--client-ca-file=/s/prod-us/pki/ca.crt",
		"--tls-cert-file=/s/prod-us/pki/apiserver.crt",
		"--service-account-signing-key-file=/s/prod-us/pki/sa.key",
		"--anonymous-auth=false",
		"--audit-policy-file=/s/prod-us/audit-policy.yaml",
		"--audit-log-path=/s/prod-us/audit.log",
	)
	n := 0
	for _, a := range args {
		if strings.HasPrefix(a, "--etcd-servers=") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("--etcd-servers given %d times (a second one adds a server)", n)
	}
}

func TestControllerManagerArgs(t *testing.T) {
	args := ControllerManagerArgs(testCluster())
	has(t, args, "--leader-elect=false", "--secure-port=16501", "--bind-address=127.0.0.1", "--kubeconfig=/s/prod-us/admin.kubeconfig",
		"--horizontal-pod-autoscaler-sync-period=5s")
	var ctrl string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--controllers="); ok {
			ctrl = v
		}
	}
	set := map[string]bool{}
	for _, c := range strings.Split(ctrl, ",") {
		set[c] = true
	}
	for _, want := range []string{"endpointslice-controller", "endpointslice-mirroring-controller", "replicaset-controller",
		"deployment-controller", "statefulset-controller", "daemonset-controller", "garbage-collector-controller",
		"namespace-controller", "serviceaccount-controller", "disruption-controller", "horizontal-pod-autoscaler-controller"} {
		if !set[want] {
			t.Errorf("controller %s not enabled", want)
		}
	}
	for _, not := range []string{"*", "node-lifecycle-controller", "cloud-node-lifecycle-controller", "service-lb-controller", "node-ipam-controller"} {
		if set[not] {
			t.Errorf("controller %s must not run", not)
		}
	}
}

func TestSchedulerArgs(t *testing.T) {
	has(t, SchedulerArgs(testCluster()), "--leader-elect=false", "--secure-port=16601", "--bind-address=127.0.0.1")
}
