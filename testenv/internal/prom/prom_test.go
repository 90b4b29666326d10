package prom

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"fleetpane/testenv/internal/metricsgen"
	"fleetpane/testenv/internal/proc"
)

func TestRenderConfig(t *testing.T) {
	c := Config{Cluster: "prod-eu", Dir: "/state/prod-eu/prometheus", Listen: "127.0.0.1:19090", Target: "127.0.0.1:19190"}
	if err := c.normalize(); err != nil {
		t.Fatal(err)
	}
	got := string(RenderConfig(c))
	for _, want := range []string{
		"scrape_interval: 5s",
		"scrape_timeout: 4s",
		`query_log_file: "/state/prod-eu/prometheus/query.log"`,
		`cluster: "prod-eu"`,
		`metrics_path: "/metrics/prod-eu"`,
		`targets: ["127.0.0.1:19190"]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	bad := Config{Cluster: "x", Dir: "/x", Listen: "0.0.0.0:9090", Target: "127.0.0.1:1"}
	if err := bad.normalize(); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("0.0.0.0 accepted: %v", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestPrometheusScrapesGenerator runs the real Prometheus against an
// in-process generator and checks rate() for checkout.
func TestPrometheusScrapesGenerator(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Skip("prometheus not installed (apt-get install prometheus)")
	}
	ctx := context.Background()
	genAddr := freeAddr(t)
	ln, err := net.Listen("tcp", genAddr)
	if err != nil {
		t.Fatal(err)
	}
	pods := metricsgen.PodListerFunc(func(_ context.Context, cluster string) ([]metricsgen.Pod, error) {
		return []metricsgen.Pod{{Namespace: "team-a", Name: "checkout-abc-1", Container: "checkout"}}, nil
	})
	srv := &http.Server{Handler: metricsgen.NewHandler([]string{"prod-eu"}, pods, metricsgen.Options{})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	dir := t.TempDir()
	cfg := Config{Cluster: "prod-eu", Dir: dir, Listen: freeAddr(t), Target: genAddr, ScrapeInterval: time.Second}
	inst, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := Stop(dir); err != nil {
			t.Error(err)
		}
		if proc.Alive(inst.PID) {
			t.Errorf("prometheus %d still alive", inst.PID)
		}
	})
	if !inst.Started {
		t.Fatal("not started")
	}

	// rate() reads low while the series is younger than its window: wait
	// until the 10s window is full of scrapes.
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := Query(ctx, inst.URL, `count_over_time(istio_requests_total{destination_service_name="checkout",response_code="200"}[11s])`)
		if err == nil && len(res) == 1 && res[0].Value >= 11 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not enough scrapes: %+v %v", res, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	const q = `sum(rate(istio_requests_total{reporter="destination",destination_service_name="checkout",destination_service_namespace="team-a"}[10s]))`
	res, err := Query(ctx, inst.URL, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || math.Abs(res[0].Value-120) > 2.4 {
		t.Fatalf("%s = %+v, want ~120", q, res)
	}
	t.Logf("%s = %.3f", q, res[0].Value)
	const qe = `sum(rate(istio_requests_total{destination_service_name="payments",response_code=~"5.."}[10s])) / sum(rate(istio_requests_total{destination_service_name="payments"}[10s]))`
	res, err = Query(ctx, inst.URL, qe)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || math.Abs(res[0].Value-0.023) > 0.001 {
		t.Errorf("payments 5xx ratio = %+v, want 0.023", res)
	}
	res, err = Query(ctx, inst.URL, `container_memory_working_set_bytes{namespace="team-a",pod="checkout-abc-1"}`)
	if err != nil || len(res) != 1 || res[0].Value <= 0 {
		t.Errorf("container memory: %+v %v", res, err)
	}

	// The query log records the queries.
	b, err := os.ReadFile(inst.QueryLogFile)
	if err != nil || !strings.Contains(string(b), "checkout") {
		t.Errorf("query log %s: %v\n%.300s", inst.QueryLogFile, err, b)
	}

	// Idempotent second Start.
	again, err := Start(ctx, cfg)
	if err != nil || again.Started || again.PID != inst.PID {
		t.Errorf("second Start: %+v %v", again, err)
	}
	// Another Prometheus on the same port: clear error.
	_, err = Start(ctx, Config{Cluster: "other", Dir: t.TempDir(), Listen: cfg.Listen, Target: genAddr})
	var pe *proc.PortInUseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "prometheus[other]") {
		t.Errorf("port clash: %v", err)
	}
}
