package nodesim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	listersv1 "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"fleetpane/testenv/internal/kube"
	"fleetpane/testenv/internal/metricsgen"
	"fleetpane/testenv/internal/pki"
)

func runningPod(ns, name, node string, started time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}},
		}}},
	}
}

// sampleValue returns the value of the series line that starts with prefix.
func sampleValue(t *testing.T, body, prefix string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, prefix+" ") {
			f := strings.Fields(strings.TrimPrefix(line, prefix+" "))
			v, err := strconv.ParseFloat(f[0], 64)
			if err != nil || len(f) != 2 {
				t.Fatalf("bad sample %q", line)
			}
			return v
		}
	}
	t.Fatalf("no series %s in\n%s", prefix, body)
	return 0
}

// The kubelet's /metrics/resource: metricsgen's usage per container, CPU
// cumulative since the container started (so a rate gives the usage), node
// totals on top of its own use.
func TestResourceMetricsMatchMetricsgen(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	started := now.Add(-100 * time.Second)
	pods := []*corev1.Pod{
		runningPod("team-a", "checkout-7d9f8c6b5-abcde", "n1", started),
		runningPod("team-b", "inventory-5f6d7c8b9-xyz12", "n1", started),
	}
	body := ResourceMetrics(pods, now)
	cores, mem := metricsgen.PodUsage(metricsgen.Pod{Namespace: "team-a", Name: "checkout-7d9f8c6b5-abcde", Container: "app"})
	sel := `{container="app",namespace="team-a",pod="checkout-7d9f8c6b5-abcde"}`
	if got := sampleValue(t, body, "container_cpu_usage_seconds_total"+sel); math.Abs(got-cores*100) > 1e-9 {
		t.Errorf("cumulative cpu %v, want %v", got, cores*100)
	}
	if got := sampleValue(t, body, "container_memory_working_set_bytes"+sel); got != mem {
		t.Errorf("memory %v, want %v", got, mem)
	}
	if got := sampleValue(t, body, "container_start_time_seconds"+sel); got != float64(started.Unix()) {
		t.Errorf("start time %v", got)
	}
	// Two scrapes 10 s apart: the rate metrics-server computes is the usage.
	later := ResourceMetrics(pods, now.Add(10*time.Second))
	rate := (sampleValue(t, later, "container_cpu_usage_seconds_total"+sel) - cores*100) / 10
	if math.Abs(rate-cores) > 1e-9 {
		t.Errorf("rate %v, want %v", rate, cores)
	}
	_, mem2 := metricsgen.PodUsage(metricsgen.Pod{Namespace: "team-b", Name: "inventory-5f6d7c8b9-xyz12", Container: "app"})
	if got := sampleValue(t, body, "node_memory_working_set_bytes"); got != mem+mem2+NodeSystemMemory {
		t.Errorf("node memory %v", got)
	}
	if !strings.Contains(body, "resource_scrape_error 0\n") || !strings.Contains(body, `pod_cpu_usage_seconds_total{namespace="team-b",pod="inventory-5f6d7c8b9-xyz12"}`) {
		t.Errorf("body:\n%s", body)
	}
	// A container that is not running has no series.
	waiting := runningPod("team-a", "frontend-1", "n1", started)
	waiting.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}
	if strings.Contains(ResourceMetrics([]*corev1.Pod{waiting}, now), "frontend-1") {
		t.Error("a waiting container has series")
	}
}

// The whole path metrics-server takes: HTTPS_PROXY to the agent, CONNECT to
// a node's InternalIP:10250, TLS with the cluster CA both ways, a
// SubjectAccessReview for nodes/metrics, and that node's pods only.
func TestKubeletsThroughTheProxy(t *testing.T) {
	dir := t.TempDir()
	files, err := pki.Ensure(dir, "prod-eu", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg := ClusterConfig{Name: "prod-eu", Index: 0, Region: "eu-west", Zones: []string{"zone-a", "zone-b"},
		Target: kube.Target{Name: "prod-eu", CAFile: files.CACert}, CAKeyFile: files.CAKey}
	nodes := Nodes(cfg)
	client := fake.NewClientset()
	var (
		mu    sync.Mutex
		asked []authorizationv1.SubjectAccessReviewSpec
	)
	client.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		mu.Lock()
		asked = append(asked, sar.Spec)
		mu.Unlock()
		sar.Status.Allowed = sar.Spec.User == pki.MetricsServerUser
		return true, sar, nil
	})
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	started := time.Now().Add(-time.Minute)
	_ = idx.Add(runningPod("team-a", "checkout-1", nodes[0].Name, started))
	_ = idx.Add(runningPod("team-a", "checkout-2", nodes[1].Name, started))
	c := &cluster{cfg: cfg, client: client, order: nodes, pods: listersv1.NewPodLister(idx), synced: make(chan struct{})}
	close(c.synced)
	ks, err := newKubeletServer([]*cluster{c}, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := listenLoopback("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = ks.serve(ctx, ln) }()

	caPEM, _ := os.ReadFile(files.CACert)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	clientFor := func(certFile, keyFile string) *http.Client {
		tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		if certFile != "" {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		proxy := &url.URL{Scheme: "http", Host: ln.Addr().String()}
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxy), TLSClientConfig: tc}}
	}
	get := func(cl *http.Client, url string) (int, string, error) {
		resp, err := cl.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	ms := clientFor(files.MetricsServerClientCert, files.MetricsServerClientKey)
	code, body, err := get(ms, "https://"+nodes[0].IP+":10250/metrics/resource")
	if err != nil || code != http.StatusOK {
		t.Fatalf("metrics-server: %d %v\n%s", code, err, body)
	}
	if !strings.Contains(body, `pod="checkout-1"`) || strings.Contains(body, `pod="checkout-2"`) {
		t.Errorf("node %s serves:\n%s", nodes[0].Name, body)
	}
	mu.Lock()
	if len(asked) != 1 || asked[0].ResourceAttributes.Subresource != "metrics" || asked[0].ResourceAttributes.Name != nodes[0].Name {
		t.Errorf("access reviews %+v", asked)
	}
	mu.Unlock()
	// Fleetpane's identity is authenticated but not authorized.
	code, _, err = get(clientFor(files.FleetpaneCert, files.FleetpaneKey), "https://"+nodes[1].IP+":10250/metrics/resource")
	if err != nil || code != http.StatusForbidden {
		t.Errorf("fleetpane: %d %v", code, err)
	}
	// No client certificate: the handshake fails.
	if _, _, err := get(clientFor("", ""), "https://"+nodes[0].IP+":10250/metrics/resource"); err == nil {
		t.Error("a client without certificate got through")
	}
	// An address no simulated node has.
	if _, _, err := get(ms, "https://10.250.9.99:10250/metrics/resource"); err == nil {
		t.Error("an unknown node answered")
	}
}
