// Package prom runs one Prometheus server per cluster of the local test
// fleet (Debian's `prometheus` binary), each scraping that cluster's page of
// the metrics generator (internal/metricsgen) at /metrics/<cluster>.
//
// One instance lives in its own directory (Config.Dir, e.g.
// <state>/<cluster>/prometheus):
//
//	prometheus.yml   generated config (scrape every 5s, external label cluster=<name>,
//	                 query log)
//	data/            --storage.tsdb.path
//	query.log        Prometheus' query log (one JSON line per query) for tests
//	prometheus.log, prometheus.pid
//
// Prometheus listens on 127.0.0.1 only (--web.listen-address).
package prom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"fleetpane/testenv/internal/proc"
)

// Config describes the Prometheus of one cluster.
type Config struct {
	// Cluster is the cluster name (external label cluster=<name>, scrape path).
	Cluster string
	// Dir is this instance's directory (created if missing).
	Dir string
	// Listen is the loopback host:port, e.g. "127.0.0.1:19090".
	Listen string
	// Target is the generator's host:port, e.g. "127.0.0.1:19190".
	Target string
	// MetricsPath defaults to /metrics/<Cluster>.
	MetricsPath string
	// ScrapeInterval defaults to 5s.
	ScrapeInterval time.Duration
	// Retention defaults to 24h.
	Retention time.Duration
	// Binary defaults to "prometheus" from PATH.
	Binary string
	// ReadyQuery is a PromQL query that must return at least one sample
	// before Start returns (the first scrape landed). Default:
	// istio_requests_total{destination_service_name="checkout"}. "-" skips it.
	ReadyQuery string
	// Timeout for readiness and the first sample (default 90s).
	Timeout time.Duration
	// LogFile and PidFile default to <Dir>/prometheus.log and
	// <Dir>/prometheus.pid. When PidFile is overridden, stop with
	// proc.Stop(pidfile, grace), not Stop(dir).
	LogFile string
	PidFile string
}

// Instance describes a running Prometheus.
type Instance struct {
	Cluster      string
	PID          int
	URL          string // http://127.0.0.1:19090
	Dir          string
	ConfigFile   string
	QueryLogFile string
	LogFile      string
	PidFile      string
	// Started is false when an identical instance already ran and was left alone.
	Started bool
}

// File names inside an instance directory.
func ConfigFile(dir string) string   { return filepath.Join(dir, "prometheus.yml") }
func PidFile(dir string) string      { return filepath.Join(dir, "prometheus.pid") }
func LogFile(dir string) string      { return filepath.Join(dir, "prometheus.log") }
func QueryLogFile(dir string) string { return filepath.Join(dir, "query.log") }
func DataDir(dir string) string      { return filepath.Join(dir, "data") }

// DefaultReadyQuery is the series whose first sample Start waits for.
const DefaultReadyQuery = `istio_requests_total{destination_service_name="checkout"}`

func (c *Config) normalize() error {
	var problems []string
	component := "prometheus[" + c.Cluster + "]"
	if c.Cluster == "" {
		problems = append(problems, "Cluster is required")
	}
	if c.Dir == "" {
		problems = append(problems, "Dir is required")
	} else if abs, err := filepath.Abs(c.Dir); err == nil {
		c.Dir = abs
	}
	if err := loopback(c.Listen); err != nil {
		problems = append(problems, "Listen: "+err.Error())
	}
	if err := loopback(c.Target); err != nil {
		problems = append(problems, "Target: "+err.Error())
	}
	if c.MetricsPath == "" {
		c.MetricsPath = "/metrics/" + c.Cluster
	}
	if c.ScrapeInterval <= 0 {
		c.ScrapeInterval = 5 * time.Second
	}
	if c.Retention <= 0 {
		c.Retention = 24 * time.Hour
	}
	if c.Binary == "" {
		c.Binary = "prometheus"
	}
	if c.ReadyQuery == "" {
		c.ReadyQuery = DefaultReadyQuery
	}
	if c.Timeout <= 0 {
		c.Timeout = 90 * time.Second
	}
	if c.LogFile == "" && c.Dir != "" {
		c.LogFile = LogFile(c.Dir)
	}
	if c.PidFile == "" && c.Dir != "" {
		c.PidFile = PidFile(c.Dir)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: invalid config: %s", component, strings.Join(problems, "; "))
	}
	return nil
}

func loopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %v", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: host must be a loopback IP", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("%q: bad port", addr)
	}
	return nil
}

// promDuration renders a duration the way Prometheus' config expects (e.g. 5s, 24h).
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// RenderConfig returns the prometheus.yml of c (c must be normalized).
func RenderConfig(c Config) []byte {
	scrapeTimeout := c.ScrapeInterval * 4 / 5
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) } // JSON strings are valid YAML
	var b bytes.Buffer
	fmt.Fprintf(&b, `# Generated by testenv (internal/prom) for cluster %s. Do not edit: rewritten by "testenv up".
global:
  scrape_interval: %s
  scrape_timeout: %s
  evaluation_interval: %s
  query_log_file: %s
  external_labels:
    cluster: %s
scrape_configs:
  - job_name: fleet-metrics
    metrics_path: %s
    static_configs:
      - targets: [%s]
`, c.Cluster, promDuration(c.ScrapeInterval), promDuration(scrapeTimeout), promDuration(c.ScrapeInterval),
		q(QueryLogFile(c.Dir)), q(c.Cluster), q(c.MetricsPath), q(c.Target))
	return b.Bytes()
}

func (c Config) args() []string {
	return []string{
		"--config.file=" + ConfigFile(c.Dir),
		"--storage.tsdb.path=" + DataDir(c.Dir),
		"--storage.tsdb.retention.time=" + promDuration(c.Retention),
		"--web.listen-address=" + c.Listen,
		"--web.enable-lifecycle",
		"--log.level=info",
	}
}

// Start writes the config into c.Dir, spawns Prometheus detached, waits for
// /-/ready and for the first sample of c.ReadyQuery.
//
// It is idempotent: an instance already running with the same config file
// and arguments is left alone (Instance.Started false); one with another
// config is stopped and started again (its data is kept). A port taken by
// something else gives a *proc.PortInUseError naming port and component.
func Start(ctx context.Context, c Config) (*Instance, error) {
	if err := c.normalize(); err != nil {
		return nil, err
	}
	component := "prometheus[" + c.Cluster + "]"
	inst := &Instance{
		Cluster: c.Cluster, URL: "http://" + c.Listen, Dir: c.Dir,
		ConfigFile: ConfigFile(c.Dir), QueryLogFile: QueryLogFile(c.Dir),
		LogFile: c.LogFile, PidFile: c.PidFile,
	}
	if err := os.MkdirAll(DataDir(c.Dir), 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	content := RenderConfig(c)
	argsFile := filepath.Join(c.Dir, "prometheus.args")
	args := c.args()
	argsContent := []byte(strings.Join(args, "\n") + "\n")

	if pid, ok := proc.Running(inst.PidFile); ok {
		oldCfg, _ := os.ReadFile(inst.ConfigFile)
		oldArgs, _ := os.ReadFile(argsFile)
		if bytes.Equal(oldCfg, content) && bytes.Equal(oldArgs, argsContent) && Ready(ctx, inst.URL) == nil {
			inst.PID = pid
			return inst, nil
		}
		if err := proc.Stop(inst.PidFile, 10*time.Second); err != nil {
			return nil, fmt.Errorf("%s: stopping the old instance (pid %d): %w", component, pid, err)
		}
	}
	if err := proc.CheckPortFree(c.Listen, component); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(inst.ConfigFile, content); err != nil {
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	if err := writeFileAtomic(argsFile, argsContent); err != nil {
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	pid, err := proc.Spawn(proc.Spec{
		Name: component, Path: c.Binary, Args: args, Dir: c.Dir,
		LogFile: inst.LogFile, PidFile: inst.PidFile,
	})
	if err != nil {
		return nil, err
	}
	inst.PID = pid
	inst.Started = true

	wctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	fail := func(err error) (*Instance, error) {
		_ = proc.Stop(inst.PidFile, 5*time.Second)
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	if err := proc.WaitHTTP(wctx, inst.URL+"/-/ready", &proc.WaitOptions{PID: pid, LogFile: inst.LogFile, Interval: 200 * time.Millisecond}); err != nil {
		return fail(err)
	}
	if c.ReadyQuery != "-" {
		if err := WaitForSample(wctx, inst.URL, c.ReadyQuery, pid); err != nil {
			return fail(fmt.Errorf("%w (is the metrics generator serving http://%s%s?)", err, c.Target, c.MetricsPath))
		}
	}
	return inst, nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Stop stops the Prometheus recorded in dir (its data stays).
func Stop(dir string) error {
	if err := proc.Stop(PidFile(dir), 10*time.Second); err != nil {
		return fmt.Errorf("prometheus (%s): %w", dir, err)
	}
	return nil
}

// Running reports the PID of the Prometheus in dir and whether it runs.
func Running(dir string) (int, bool) { return proc.Running(PidFile(dir)) }

// Ready checks /-/ready of the Prometheus at baseURL.
func Ready(ctx context.Context, baseURL string) error {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, baseURL+"/-/ready", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/-/ready: HTTP %d", baseURL, resp.StatusCode)
	}
	return nil
}

// Sample is one element of an instant-vector query result.
type Sample struct {
	Metric map[string]string
	Time   time.Time
	Value  float64
}

// Query runs an instant PromQL query and returns its vector (or scalar, as
// one sample without labels).
func Query(ctx context.Context, baseURL, promql string) ([]Sample, error) {
	u := baseURL + "/api/v1/query?" + url.Values{"query": {promql}}.Encode()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("query %q: HTTP %d: %.200s", promql, resp.StatusCode, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", promql, r.Error)
	}
	parse := func(pair []any) (time.Time, float64, error) {
		if len(pair) != 2 {
			return time.Time{}, 0, fmt.Errorf("bad sample %v", pair)
		}
		ts, _ := pair[0].(float64)
		vs, _ := pair[1].(string)
		v, err := strconv.ParseFloat(vs, 64)
		sec := int64(ts)
		return time.Unix(sec, int64((ts-float64(sec))*1e9)), v, err
	}
	switch r.Data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  []any             `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
			return nil, err
		}
		out := make([]Sample, 0, len(vec))
		for _, e := range vec {
			t, v, err := parse(e.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, Sample{Metric: e.Metric, Time: t, Value: v})
		}
		return out, nil
	case "scalar":
		var pair []any
		if err := json.Unmarshal(r.Data.Result, &pair); err != nil {
			return nil, err
		}
		t, v, err := parse(pair)
		return []Sample{{Metric: map[string]string{}, Time: t, Value: v}}, err
	}
	return nil, fmt.Errorf("query %q: result type %q not supported", promql, r.Data.ResultType)
}

// WaitForSample polls promql until it returns at least one sample, ctx ends,
// or pid (if > 0) dies.
func WaitForSample(ctx context.Context, baseURL, promql string, pid int) error {
	var last error
	for {
		s, err := Query(ctx, baseURL, promql)
		if err == nil && len(s) > 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("no sample yet for %s", promql)
		}
		last = err
		if pid > 0 && !proc.Alive(pid) {
			return fmt.Errorf("process %d exited while waiting for %s", pid, promql)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for a sample of %s: %v", promql, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// StartAll starts several instances in parallel (the first scrape takes up
// to one scrape interval, so starting them one by one adds that up). It
// returns the instances in the order of cfgs, or the errors joined; on error
// the instances that did start are left running for the caller to stop.
func StartAll(ctx context.Context, cfgs []Config) ([]*Instance, error) {
	out := make([]*Instance, len(cfgs))
	errs := make([]error, len(cfgs))
	done := make(chan struct{})
	for i := range cfgs {
		go func() {
			defer func() { done <- struct{}{} }()
			out[i], errs[i] = Start(ctx, cfgs[i])
		}()
	}
	for range cfgs {
		<-done
	}
	return out, errors.Join(errs...)
}
