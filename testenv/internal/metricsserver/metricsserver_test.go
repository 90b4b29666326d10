package metricsserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"fleetpane/testenv/internal/pki"
)

func testConfig(dir string) Config {
	return Config{
		Cluster: "prod-us", Port: 16701, APIURL: "https://127.0.0.1:16444", PKI: pki.PathsIn("/s/prod-us/pki"),
		Kubeconfig: filepath.Join(dir, "metrics-server.kubeconfig"), KubeletProxy: "127.0.0.1:16250",
	}
}

func TestArgsAndEnv(t *testing.T) {
	c := testConfig("/s/prod-us")
	joined := "\n" + strings.Join(Args(c), "\n") + "\n"
	for _, want := range []string{
		"--bind-address=127.0.0.1", "--secure-port=16701",
		"--kubeconfig=/s/prod-us/metrics-server.kubeconfig",
		"--authentication-kubeconfig=/s/prod-us/metrics-server.kubeconfig",
		"--tls-cert-file=/s/prod-us/pki/metrics-server.crt",
		"--kubelet-certificate-authority=/s/prod-us/pki/ca.crt",
		"--kubelet-preferred-address-types=InternalIP", "--kubelet-use-node-status-port",
		"--metric-resolution=10s", "--kubelet-request-timeout=5s",
		"--node-selector=testenv.fleetpane/scale!=true",
	} {
		if !strings.Contains(joined, "\n"+want+"\n") {
			t.Errorf("missing %s in %s", want, joined)
		}
	}
	if strings.Contains(joined, "insecure") {
		t.Error("the kubelets' certificates are verified")
	}
	if env := strings.Join(Env(c), " "); !strings.Contains(env, "HTTPS_PROXY=http://127.0.0.1:16250") {
		t.Errorf("env %s", env)
	}
}

func TestObjectsRouteTheAggregatorToLocalhost(t *testing.T) {
	objs := Objects(16702, []byte("CA"))
	svc := objs[0].(*corev1.Service)
	if svc.Namespace != "kube-system" || svc.Name != "metrics-server" || svc.Spec.Type != corev1.ServiceTypeExternalName ||
		svc.Spec.ExternalName != "localhost" {
		t.Errorf("service %+v", svc)
	}
	as := objs[1].(*apiregistrationv1.APIService)
	if as.Name != "v1beta1.metrics.k8s.io" || as.Spec.Group != "metrics.k8s.io" || as.Spec.Version != "v1beta1" ||
		as.Spec.Service == nil || as.Spec.Service.Name != svc.Name || as.Spec.Service.Namespace != svc.Namespace ||
		*as.Spec.Service.Port != 16702 || string(as.Spec.CABundle) != "CA" || as.Spec.InsecureSkipTLSVerify {
		t.Errorf("APIService %+v", as.Spec)
	}
	// The aggregator checks the certificate for <service>.<namespace>.svc.
	found := false
	for _, h := range pki.MetricsServerHosts {
		found = found || h == svc.Name+"."+svc.Namespace+".svc"
	}
	if !found {
		t.Errorf("the serving certificate lacks %s.%s.svc: %v", svc.Name, svc.Namespace, pki.MetricsServerHosts)
	}
}

func TestKubeconfigUsesTheMetricsServerIdentity(t *testing.T) {
	c := testConfig(t.TempDir())
	write := func(path string, data []byte, mode os.FileMode) error { return os.WriteFile(path, data, mode) }
	if err := WriteKubeconfig(c, write); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.Clusters[ctx.Cluster].Server != c.APIURL ||
		cfg.AuthInfos[ctx.AuthInfo].ClientCertificate != c.PKI.MetricsServerClientCert {
		t.Errorf("kubeconfig %+v", cfg)
	}
}
