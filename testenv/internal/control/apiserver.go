// Package control starts the control plane of one local cluster: a real
// kube-apiserver, kube-controller-manager and kube-scheduler built from
// k8s.io/kubernetes, each a detached process with its log and pidfile in the
// state dir. Flag lists are built by pure functions so they can be tested.
package control

import (
	"fmt"
	"strings"

	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/pki"
)

// ServiceCIDR is every cluster's Service IP range (clusters are separate, so
// they may overlap; 10.96.0.1 is in the serving certificate).
const ServiceCIDR = "10.96.0.0/16"

// Cluster is what the control-plane processes of one cluster need.
type Cluster struct {
	Name      string
	Index     int
	PKI       pki.Files
	EtcdURL   string
	APIPort   int
	KCMPort   int
	SchedPort int
	// Kubeconfig is the cluster's single-context admin kubeconfig.
	Kubeconfig string
	// ServingCertDir is where the controller-manager and scheduler keep
	// their self-signed serving certificates.
	ServingCertDir string
	// AuditPolicy and AuditLog: the apiserver records every request that
	// Fleetpane's identity sends (AuditPolicyYAML), so tests can check what
	// reached the cluster, impersonation included.
	AuditPolicy, AuditLog string
}

// AuditPolicyYAML records, at Metadata level (user, impersonated user and
// groups, verb, resource; no bodies), the requests of Fleetpane's identity
// and nothing else.
const AuditPolicyYAML = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  users: ["fleetpane"]
- level: None
`

// APIURL is the cluster's API endpoint.
func (c Cluster) APIURL() string { return "https://" + layout.Addr(c.APIPort) }

// APIServerArgs are kube-apiserver's flags.
func APIServerArgs(c Cluster) []string {
	return []string{
		"--bind-address=" + layout.Host,
		"--advertise-address=" + layout.Host,
		fmt.Sprintf("--secure-port=%d", c.APIPort),
		"--etcd-servers=" + c.EtcdURL,
		"--etcd-prefix=/" + c.Name,
		"--client-ca-file=" + c.PKI.CACert,
		"--tls-cert-file=" + c.PKI.ServingCert,
		"--tls-private-key-file=" + c.PKI.ServingKey,
		"--service-account-key-file=" + c.PKI.SAPub,
		"--service-account-signing-key-file=" + c.PKI.SAKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--api-audiences=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--authorization-mode=Node,RBAC",
		// Front-proxy (aggregation layer) settings, published in the
		// extension-apiserver-authentication ConfigMap that the
		// controller-manager and scheduler read.
		"--requestheader-client-ca-file=" + c.PKI.FrontProxyCACert,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + c.PKI.FrontProxyClientCert,
		"--proxy-client-key-file=" + c.PKI.FrontProxyClientKey,
		"--anonymous-auth=false",
		// The apiserver's own "kubernetes" Endpoints would point at a
		// loopback address, which it refuses; nothing needs them here.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
		"--event-ttl=2h",
		"--enable-priority-and-fairness=false",
		"--audit-policy-file=" + c.AuditPolicy,
		"--audit-log-path=" + c.AuditLog,
		"--audit-log-maxsize=100",
		"--audit-log-maxbackup=1",
		"--audit-log-format=json",
		"--v=1",
	}
}

// ControllerManagerControllers are the controllers kube-controller-manager
// runs: the workload and endpoint controllers, no node lifecycle, no cloud.
var ControllerManagerControllers = []string{
	"endpointslice-controller", "endpointslice-mirroring-controller", "endpoints-controller",
	"replicaset-controller", "deployment-controller", "statefulset-controller", "daemonset-controller",
	"garbage-collector-controller", "namespace-controller", "serviceaccount-controller",
	"disruption-controller", "horizontal-pod-autoscaler-controller",
	// The built-in view/edit/admin roles are aggregated by this controller.
	"clusterrole-aggregation-controller",
	"root-ca-certificate-publisher-controller", "service-cidr-controller",
}

// ControllerManagerArgs are kube-controller-manager's flags.
func ControllerManagerArgs(c Cluster) []string {
	return []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--authentication-kubeconfig=" + c.Kubeconfig,
		"--authorization-kubeconfig=" + c.Kubeconfig,
		"--bind-address=" + layout.Host,
		fmt.Sprintf("--secure-port=%d", c.KCMPort),
		"--cert-dir=" + c.ServingCertDir,
		"--leader-elect=false",
		"--controllers=" + strings.Join(ControllerManagerControllers, ","),
		"--root-ca-file=" + c.PKI.CACert,
		"--service-account-private-key-file=" + c.PKI.SAKey,
		"--use-service-account-credentials=false",
		"--allocate-node-cidrs=false",
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--cluster-name=" + c.Name,
		// The HPA controller resyncs every 5 s (default 15 s), so checkout's
		// HPA reports its metrics soon after metrics-server's first scrapes.
		"--horizontal-pod-autoscaler-sync-period=5s",
		"--profiling=false",
		"--v=1",
	}
}

// SchedulerArgs are kube-scheduler's flags.
func SchedulerArgs(c Cluster) []string {
	return []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--authentication-kubeconfig=" + c.Kubeconfig,
		"--authorization-kubeconfig=" + c.Kubeconfig,
		"--bind-address=" + layout.Host,
		fmt.Sprintf("--secure-port=%d", c.SchedPort),
		"--cert-dir=" + c.ServingCertDir,
		"--leader-elect=false",
		"--profiling=false",
		"--v=1",
	}
}
