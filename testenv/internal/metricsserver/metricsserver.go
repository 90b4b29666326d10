// Package metricsserver runs the real metrics-server (sigs.k8s.io/metrics-server,
// pinned in testenv's go.mod; testenv/cmd/metrics-server is its main with
// OpenAPI definitions matching the pinned k8s.io modules, built into
// <state>/bin like the Kubernetes binaries) for one local cluster, and
// registers it with that cluster's aggregation layer, so that
// metrics.k8s.io/v1beta1 serves PodMetrics and NodeMetrics and the real HPA
// controller computes replicas.
//
// How the pieces meet:
//
//   - metrics-server listens on 127.0.0.1:<base+700+i> with a certificate of
//     the cluster CA for metrics-server.kube-system.svc.
//   - The Service kube-system/metrics-server is an ExternalName for
//     "localhost": the aggregator resolves an ExternalName Service to that
//     host and the APIService's port (k8s.io/apiserver/pkg/util/proxy
//     ResolveCluster), and checks the certificate for
//     <service>.<namespace>.svc against the APIService's caBundle.
//   - metrics-server authenticates as system:metrics-server (a client
//     certificate of the cluster CA) with the RBAC of the upstream manifest
//     (internal/rbac), and delegates authentication (front-proxy headers)
//     and authorization to the apiserver.
//   - It scrapes https://<node InternalIP>:10250/metrics/resource as it
//     does on a real cluster. The simulated nodes' addresses (10.250.x.y)
//     exist only in the node agent, so HTTPS_PROXY points metrics-server at
//     the agent's CONNECT proxy on 127.0.0.1 (nodesim.KubeletServer), which
//     serves each node's kubelet endpoint with a certificate of the cluster CA.
package metricsserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"fleetpane/testenv/internal/build"
	"fleetpane/testenv/internal/control"
	"fleetpane/testenv/internal/kube"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/pki"
	"fleetpane/testenv/internal/proc"
)

// Binary is its executable's name in <state>/bin.
const Binary = build.MetricsServer

// Names of what is registered in every cluster.
const (
	Namespace   = "kube-system"
	ServiceName = "metrics-server"
	APIService  = "v1beta1.metrics.k8s.io"
	// ExternalName is where the aggregator dials the metrics-server.
	ExternalName = "localhost"
)

// Resolution is metrics-server's scrape period (its minimum); the kubelet
// request timeout must stay below 90% of it.
const (
	Resolution     = 10 * time.Second
	RequestTimeout = 5 * time.Second
)

// ScaleNodeSelector keeps `testenv scale`'s extra nodes (which no agent
// serves) out of the scrape.
const ScaleNodeSelector = "testenv.fleetpane/scale!=true"

// Config is what one cluster's metrics-server needs.
type Config struct {
	Cluster string
	// Port is its secure port on 127.0.0.1.
	Port int
	// APIURL is the cluster's apiserver.
	APIURL string
	PKI    pki.Files
	// Kubeconfig is written by WriteKubeconfig (identity system:metrics-server).
	Kubeconfig string
	// KubeletProxy is the node agent's CONNECT proxy, host:port.
	KubeletProxy string
}

// Args are metrics-server's flags.
func Args(c Config) []string {
	return []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--authentication-kubeconfig=" + c.Kubeconfig,
		"--authorization-kubeconfig=" + c.Kubeconfig,
		"--bind-address=" + layout.Host,
		fmt.Sprintf("--secure-port=%d", c.Port),
		"--tls-cert-file=" + c.PKI.MetricsServerCert,
		"--tls-private-key-file=" + c.PKI.MetricsServerKey,
		// The kubelets' serving certificates come from the cluster CA (the
		// agent mints them); metrics-server presents its own client
		// certificate (from the kubeconfig) to them.
		"--kubelet-certificate-authority=" + c.PKI.CACert,
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-use-node-status-port",
		"--metric-resolution=" + Resolution.String(),
		"--kubelet-request-timeout=" + RequestTimeout.String(),
		"--node-selector=" + ScaleNodeSelector,
		// Errors only: at 1 it logs every scrape.
		"--v=0",
	}
}

// Env routes metrics-server's kubelet requests through the agent's proxy.
// Go never proxies loopback hosts, so the apiserver (127.0.0.1) is dialled
// directly.
func Env(c Config) []string {
	proxy := "http://" + c.KubeletProxy
	return []string{"HTTPS_PROXY=" + proxy, "https_proxy=" + proxy, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost"}
}

// WriteKubeconfig writes c.Kubeconfig: the cluster and the
// system:metrics-server client certificate, by file reference.
func WriteKubeconfig(c Config, write func(path string, data []byte, mode os.FileMode) error) error {
	cfg := clientcmdapi.NewConfig()
	cl := clientcmdapi.NewCluster()
	cl.Server = c.APIURL
	cl.CertificateAuthority = c.PKI.CACert
	cfg.Clusters[c.Cluster] = cl
	ai := clientcmdapi.NewAuthInfo()
	ai.ClientCertificate = c.PKI.MetricsServerClientCert
	ai.ClientKey = c.PKI.MetricsServerClientKey
	cfg.AuthInfos[pki.MetricsServerUser] = ai
	ctx := clientcmdapi.NewContext()
	ctx.Cluster = c.Cluster
	ctx.AuthInfo = pki.MetricsServerUser
	cfg.Contexts[c.Cluster] = ctx
	cfg.CurrentContext = c.Cluster
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return write(c.Kubeconfig, data, 0o600)
}

// Component is the metrics-server process of one cluster.
func Component(st layout.State, c Config) control.Component {
	return control.Component{
		Name: "metrics-server[" + c.Cluster + "]", Key: layout.MetricsServerComponent(c.Cluster),
		Program: st.Bin(Binary), Args: Args(c), Env: Env(c), Ports: []int{c.Port},
		StopGrace: 5 * time.Second,
		Ready: func(ctx context.Context, pid int, logFile string) error {
			tc, err := servingTLS(c)
			if err != nil {
				return err
			}
			// /healthz needs no credentials (authorization-always-allow-paths);
			// /readyz would wait for the first scrapes.
			return proc.WaitHTTP(ctx, "https://"+layout.Addr(c.Port)+"/healthz", &proc.WaitOptions{
				PID: pid, LogFile: logFile, TLS: tc, Interval: 200 * time.Millisecond,
				OK: func(s int) bool { return s == http.StatusOK }})
		},
	}
}

// servingTLS trusts the cluster CA, which signs the metrics-server certificate.
func servingTLS(c Config) (*tls.Config, error) {
	ca, err := os.ReadFile(c.PKI.CACert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s: bad CA file %s", c.Cluster, c.PKI.CACert)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Objects registers the metrics-server of a cluster with its aggregator:
// the ExternalName Service and the APIService (port and caBundle differ
// per fleet, so these are not static fixtures).
func Objects(port int, caBundle []byte) []runtime.Object {
	labels := map[string]string{"app.kubernetes.io/name": "metrics-server", "app.kubernetes.io/managed-by": "testenv"}
	p := int32(port)
	return []runtime.Object{
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: ServiceName, Labels: labels},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: ExternalName},
		},
		&apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: APIService, Labels: labels},
			Spec: apiregistrationv1.APIServiceSpec{
				Group: "metrics.k8s.io", Version: "v1beta1",
				Service:              &apiregistrationv1.ServiceReference{Namespace: Namespace, Name: ServiceName, Port: &p},
				CABundle:             caBundle,
				GroupPriorityMinimum: 100,
				VersionPriority:      100,
			},
		},
	}
}

// HPAScalingActive returns the ScalingActive condition of an HPA, or nil.
func HPAScalingActive(hpa *autoscalingv2.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range hpa.Status.Conditions {
		if hpa.Status.Conditions[i].Type == autoscalingv2.ScalingActive {
			return &hpa.Status.Conditions[i]
		}
	}
	return nil
}

// PodMetricsList is the part of metrics.k8s.io/v1beta1 PodMetricsList that
// Check reads.
type PodMetricsList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Containers []struct {
			Name  string            `json:"name"`
			Usage map[string]string `json:"usage"`
		} `json:"containers"`
	} `json:"items"`
}

// ListPodMetrics reads metrics.k8s.io/v1beta1 PodMetrics of a namespace
// through the apiserver (and so through the aggregation layer).
func ListPodMetrics(ctx context.Context, c *kube.Clients, namespace, selector string) (PodMetricsList, error) {
	var out PodMetricsList
	raw, err := c.Typed.CoreV1().RESTClient().Get().
		AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", namespace, "pods").
		Param("labelSelector", selector).DoRaw(ctx)
	if err != nil {
		return out, err
	}
	err = json.Unmarshal(raw, &out)
	return out, err
}

// Check lists what keeps the metrics API of a cluster from working, as the
// HPA controller sees it: the APIService Available, PodMetrics for every
// Ready team-a/checkout pod, and checkout's HPA ScalingActive with its CPU
// utilization in status.currentMetrics. An empty list means working.
func Check(ctx context.Context, c *kube.Clients) ([]string, error) {
	var problems []string
	svc, err := c.Dynamic.Resource(apiregistrationv1.SchemeGroupVersion.WithResource("apiservices")).
		Get(ctx, APIService, metav1.GetOptions{})
	if err != nil {
		return []string{"APIService " + APIService + ": " + kube.Short(err)}, nil
	}
	var as apiregistrationv1.APIService
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(svc.Object, &as); err != nil {
		return nil, err
	}
	available := false
	for _, cond := range as.Status.Conditions {
		if cond.Type == apiregistrationv1.Available {
			available = cond.Status == apiregistrationv1.ConditionTrue
			if !available {
				problems = append(problems, fmt.Sprintf("APIService %s not Available: %s: %s", APIService, cond.Reason, cond.Message))
			}
		}
	}
	if !available {
		if len(problems) == 0 {
			problems = append(problems, "APIService "+APIService+" has no Available condition yet")
		}
		return problems, nil
	}

	pods, err := c.Typed.CoreV1().Pods("team-a").List(ctx, metav1.ListOptions{LabelSelector: "app=checkout"})
	if err != nil {
		return nil, err
	}
	pm, err := ListPodMetrics(ctx, c, "team-a", "app=checkout")
	if err != nil {
		return append(problems, "PodMetrics of team-a/checkout: "+kube.Short(err)), nil
	}
	served := map[string]bool{}
	for _, m := range pm.Items {
		served[m.Metadata.Name] = len(m.Containers) > 0
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && podReady(&p) && !served[p.Name] {
			problems = append(problems, "no PodMetrics yet for team-a/"+p.Name)
		}
	}

	hpa, err := c.Typed.AutoscalingV2().HorizontalPodAutoscalers("team-a").Get(ctx, "checkout", metav1.GetOptions{})
	if err != nil {
		return append(problems, "HPA team-a/checkout: "+kube.Short(err)), nil
	}
	switch cond := HPAScalingActive(hpa); {
	case cond == nil:
		problems = append(problems, "HPA team-a/checkout has no ScalingActive condition yet")
	case cond.Status != corev1.ConditionTrue:
		problems = append(problems, fmt.Sprintf("HPA team-a/checkout ScalingActive=%s %s: %s", cond.Status, cond.Reason, cond.Message))
	case !hasCPUUtilization(hpa):
		problems = append(problems, "HPA team-a/checkout has no CPU utilization in status.currentMetrics")
	}
	return problems, nil
}

func hasCPUUtilization(hpa *autoscalingv2.HorizontalPodAutoscaler) bool {
	for _, m := range hpa.Status.CurrentMetrics {
		if m.Resource != nil && m.Resource.Name == corev1.ResourceCPU && m.Resource.Current.AverageUtilization != nil {
			return true
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
