// Package metricsgen serves synthetic but deterministic Prometheus metrics for
// the local test fleet, one page per cluster at /metrics/<cluster>, in the
// Prometheus text exposition format (written by hand, no dependencies).
//
// Two families of series are served:
//
//   - Istio-shaped request metrics for the fixture Services (see Services):
//     istio_requests_total and istio_request_duration_milliseconds_{bucket,sum,count}
//     with reporter="destination". Every counter grows linearly with wall-clock
//     time from a fixed epoch, so any rate() over any window returns exactly
//     the rate in the table, in every cluster, and tests can check it.
//   - cAdvisor-shaped container metrics (container_cpu_usage_seconds_total,
//     container_memory_working_set_bytes) for the real pods of that cluster,
//     as listed by a PodLister (implemented with client-go by the caller).
//
// A value is a pure function of (cluster, series, time): restarting the
// generator does not reset anything, and two generators agree.
package metricsgen

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Epoch is the instant every synthetic counter was zero.
var Epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Pod is one container of a real pod of a cluster.
type Pod struct {
	Namespace string
	Name      string
	Container string
}

// PodLister lists the containers of the running pods of one cluster.
type PodLister interface {
	ListPods(ctx context.Context, cluster string) ([]Pod, error)
}

// PodListerFunc adapts a function to PodLister.
type PodListerFunc func(ctx context.Context, cluster string) ([]Pod, error)

// ListPods calls f.
func (f PodListerFunc) ListPods(ctx context.Context, cluster string) ([]Pod, error) {
	return f(ctx, cluster)
}

// Service describes the synthetic traffic of one fixture Service.
type Service struct {
	Namespace string
	Name      string
	Workload  string // destination_workload (the Deployment)
	Source    string // source_workload of all its traffic
	SourceNS  string // source_workload_namespace
	// Rate is requests per second, per cluster.
	Rate float64
	// Codes maps response_code to its share of Rate (shares add up to 1).
	Codes map[string]float64
	// Latency is log-normal: median MedianMs, 99th percentile P99Ms.
	MedianMs float64
	P99Ms    float64
	// CPU is the cores each of its pods uses; MemoryBytes its working set.
	CPU         float64
	MemoryBytes float64
}

// ErrorRatio is the share of 5xx responses.
func (s Service) ErrorRatio() float64 {
	var r float64
	for code, share := range s.Codes {
		if strings.HasPrefix(code, "5") {
			r += share
		}
	}
	return r
}

// Services is the traffic served for every cluster. Tests may rely on these
// numbers (rates are per cluster; error ratio = share of 5xx codes).
var Services = []Service{
	{
		Namespace: "team-a", Name: "checkout", Workload: "checkout", Source: "frontend", SourceNS: "team-a",
		Rate:  120,
		Codes: map[string]float64{"200": 0.995, "404": 0.004, "503": 0.001}, // 0.1% 5xx
		// 70m of its 100m request: the HPA's target (cpu 70%), so the real
		// HPA controller keeps checkout's replicas (see PodSpread).
		MedianMs: 40, P99Ms: 180, CPU: 0.07, MemoryBytes: 180 << 20,
	},
	{
		Namespace: "team-a", Name: "payments", Workload: "payments", Source: "checkout", SourceNS: "team-a",
		Rate:     40,
		Codes:    map[string]float64{"200": 0.97, "404": 0.007, "500": 0.003, "503": 0.02}, // 2.3% 5xx
		MedianMs: 120, P99Ms: 600, CPU: 0.1, MemoryBytes: 256 << 20,
	},
	{
		Namespace: "team-a", Name: "frontend", Workload: "frontend", Source: "istio-ingressgateway", SourceNS: "istio-system",
		Rate:     200,
		Codes:    map[string]float64{"200": 0.99, "304": 0.005, "404": 0.005}, // no 5xx
		MedianMs: 15, P99Ms: 80, CPU: 0.05, MemoryBytes: 96 << 20,
	},
	{
		Namespace: "team-b", Name: "inventory", Workload: "inventory", Source: "frontend", SourceNS: "team-a",
		Rate:     25,
		Codes:    map[string]float64{"200": 0.995, "500": 0.005}, // 0.5% 5xx
		MedianMs: 8, P99Ms: 40, CPU: 0.08, MemoryBytes: 128 << 20,
	},
}

// DurationBucketsMs are Istio's standard istio_request_duration_milliseconds buckets.
var DurationBucketsMs = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// Options tune a Handler.
type Options struct {
	// Now defaults to time.Now.
	Now func() time.Time
	// PodCacheTTL is how long a cluster's pod list is reused (default 10s).
	PodCacheTTL time.Duration
	// Logger for pod-listing errors (default: the standard logger).
	Logger *log.Logger
}

// Handler serves /metrics/<cluster> for a fixed set of clusters, plus
// /healthz and an index at /.
type Handler struct {
	clusters map[string]bool
	names    []string
	pods     PodLister
	opts     Options

	mu    sync.Mutex
	cache map[string]podCache
}

type podCache struct {
	at   time.Time
	pods []Pod
}

// NewHandler returns a handler for clusters; pods may be nil (no container series).
func NewHandler(clusters []string, pods PodLister, opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PodCacheTTL <= 0 {
		opts.PodCacheTTL = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = log.Default()
	}
	h := &Handler{clusters: map[string]bool{}, pods: pods, opts: opts, cache: map[string]podCache{}}
	for _, c := range clusters {
		if !h.clusters[c] {
			h.clusters[c] = true
			h.names = append(h.names, c)
		}
	}
	return h
}

// ContentType of the exposition format served.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	case r.URL.Path == "/":
		w.Header().Set("Content-Type", "text/plain")
		for _, c := range h.names {
			fmt.Fprintf(w, "/metrics/%s\n", c)
		}
	case strings.HasPrefix(r.URL.Path, "/metrics/"):
		cluster := strings.TrimPrefix(r.URL.Path, "/metrics/")
		if !h.clusters[cluster] {
			http.Error(w, fmt.Sprintf("unknown cluster %q", cluster), http.StatusNotFound)
			return
		}
		pods := h.listPods(r.Context(), cluster)
		w.Header().Set("Content-Type", ContentType)
		_ = Write(w, cluster, h.opts.Now(), pods)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) listPods(ctx context.Context, cluster string) []Pod {
	if h.pods == nil {
		return nil
	}
	now := time.Now()
	h.mu.Lock()
	c, ok := h.cache[cluster]
	h.mu.Unlock()
	if ok && now.Sub(c.at) < h.opts.PodCacheTTL {
		return c.pods
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pods, err := h.pods.ListPods(lctx, cluster)
	if err != nil {
		h.opts.Logger.Printf("metricsgen: listing pods of %s: %v", cluster, err)
		if ok {
			return c.pods // serve the last known list rather than dropping the series
		}
		return nil
	}
	h.mu.Lock()
	h.cache[cluster] = podCache{at: now, pods: pods}
	h.mu.Unlock()
	return pods
}

// Run serves the handler on addr (a loopback host:port) until ctx ends.
func Run(ctx context.Context, addr string, clusters []string, pods PodLister) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("metricsgen: listen address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("metricsgen: listen address %q is not a loopback IP", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metricsgen: %w", err)
	}
	srv := &http.Server{Handler: NewHandler(clusters, pods, Options{}), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("metricsgen: serving %d cluster(s) on http://%s/metrics/<cluster>: %s", len(clusters), addr, strings.Join(clusters, ", "))
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// ---- exposition ------------------------------------------------------------------------

type label struct{ k, v string }

func escapeLabel(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `"`, `\"`)
	return strings.ReplaceAll(v, "\n", `\n`)
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

type writer struct {
	b strings.Builder
}

func (w *writer) header(name, typ, help string) {
	fmt.Fprintf(&w.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func (w *writer) sample(name string, labels []label, v float64) {
	w.b.WriteString(name)
	if len(labels) > 0 {
		w.b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.b.WriteString(l.k)
			w.b.WriteString(`="`)
			w.b.WriteString(escapeLabel(l.v))
			w.b.WriteByte('"')
		}
		w.b.WriteByte('}')
	}
	w.b.WriteByte(' ')
	w.b.WriteString(formatValue(v))
	w.b.WriteByte('\n')
}

func sortedCodes(m map[string]float64) []string {
	codes := make([]string, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return codes
}

func istioLabels(cluster string, s Service, code string) []label {
	return []label{
		{"reporter", "destination"},
		{"source_workload", s.Source},
		{"source_workload_namespace", s.SourceNS},
		{"destination_service", s.Name + "." + s.Namespace + ".svc.cluster.local"},
		{"destination_service_name", s.Name},
		{"destination_service_namespace", s.Namespace},
		{"destination_workload", s.Workload},
		{"destination_workload_namespace", s.Namespace},
		{"destination_cluster", cluster},
		{"request_protocol", "http"},
		{"response_code", code},
		{"response_flags", "-"},
	}
}

// Requests returns the value of istio_requests_total for (service, code) at t.
func Requests(s Service, code string, t time.Time) float64 {
	return s.Rate * s.Codes[code] * t.Sub(Epoch).Seconds()
}

// latencyCDF is the share of requests of s faster than ms.
func latencyCDF(s Service, ms float64) float64 {
	sigma := math.Log(s.P99Ms/s.MedianMs) / 2.3263478740408408 // z(0.99)
	return 0.5 * math.Erfc(-(math.Log(ms)-math.Log(s.MedianMs))/(sigma*math.Sqrt2))
}

func latencyMean(s Service) float64 {
	sigma := math.Log(s.P99Ms/s.MedianMs) / 2.3263478740408408
	return s.MedianMs * math.Exp(sigma*sigma/2)
}

// unitHash maps a string to [0, 1) deterministically.
func unitHash(s string) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return float64(h.Sum64()>>11) / float64(1<<53)
}

// PodSpreadMin and PodSpreadMax bound the fixed per-container factor of
// PodUsage. The spread stays inside the HPA controller's 10% tolerance
// around checkout's target, so that no pod set makes it rescale.
const (
	PodSpreadMin = 0.92
	PodSpreadMax = 1.08
)

// PodUsage returns the CPU cores and working-set bytes of a container:
// its Service's (matched by namespace and pod-name prefix) or a small default,
// scaled by a factor in [PodSpreadMin, PodSpreadMax) per container so that
// pods differ. The node agent's kubelet endpoint (/metrics/resource, read
// by metrics-server) serves the same numbers.
func PodUsage(p Pod) (cpuCores, memoryBytes float64) {
	cpuCores, memoryBytes = 0.01, 32<<20
	best := 0
	for _, s := range Services {
		if p.Namespace == s.Namespace && strings.HasPrefix(p.Name, s.Workload+"-") && len(s.Workload) > best {
			best = len(s.Workload)
			cpuCores, memoryBytes = s.CPU, s.MemoryBytes
		}
	}
	f := PodSpreadMin + (PodSpreadMax-PodSpreadMin)*unitHash(p.Namespace+"/"+p.Name+"/"+p.Container)
	return cpuCores * f, math.Round(memoryBytes * f)
}

// Write writes the exposition of cluster at time t, with container series for pods.
func Write(out io.Writer, cluster string, t time.Time, pods []Pod) error {
	var w writer
	elapsed := t.Sub(Epoch).Seconds()

	w.header("istio_requests_total", "counter", "Total number of requests handled by the destination (synthetic, testenv).")
	for _, s := range Services {
		for _, code := range sortedCodes(s.Codes) {
			w.sample("istio_requests_total", istioLabels(cluster, s, code), Requests(s, code, t))
		}
	}

	const hist = "istio_request_duration_milliseconds"
	w.header(hist, "histogram", "Request duration in milliseconds (synthetic, testenv).")
	for _, s := range Services {
		mean := latencyMean(s)
		for _, code := range sortedCodes(s.Codes) {
			count := Requests(s, code, t)
			base := istioLabels(cluster, s, code)
			for _, le := range DurationBucketsMs {
				w.sample(hist+"_bucket", append(append([]label{}, base...), label{"le", formatValue(le)}), count*latencyCDF(s, le))
			}
			w.sample(hist+"_bucket", append(append([]label{}, base...), label{"le", "+Inf"}), count)
			w.sample(hist+"_sum", base, count*mean)
			w.sample(hist+"_count", base, count)
		}
	}

	sorted := append([]Pod(nil), pods...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Container < b.Container
	})
	// Drop duplicates (same namespace/pod/container).
	uniq := sorted[:0]
	for i, p := range sorted {
		if i == 0 || p != sorted[i-1] {
			uniq = append(uniq, p)
		}
	}
	if len(uniq) > 0 {
		w.header("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds (synthetic, testenv).")
		for _, p := range uniq {
			cpu, _ := PodUsage(p)
			w.sample("container_cpu_usage_seconds_total", []label{{"namespace", p.Namespace}, {"pod", p.Name}, {"container", p.Container}}, cpu*elapsed)
		}
		w.header("container_memory_working_set_bytes", "gauge", "Current working set in bytes (synthetic, testenv).")
		for _, p := range uniq {
			_, mem := PodUsage(p)
			w.sample("container_memory_working_set_bytes", []label{{"namespace", p.Namespace}, {"pod", p.Name}, {"container", p.Container}}, mem)
		}
	}
	_, err := io.WriteString(out, w.b.String())
	return err
}
