package metricsgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sample is one parsed exposition line.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

func (s sample) key() string {
	keys := make([]string, 0, len(s.labels))
	for k := range s.labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(s.name)
	for _, k := range keys {
		fmt.Fprintf(&b, ",%s=%q", k, s.labels[k])
	}
	return b.String()
}

var (
	reName  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	reLabel = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*`)
)

// parseExposition is a strict reader of the text format 0.0.4 subset we write:
// HELP/TYPE comments, samples without timestamps, every sample's family
// declared by a TYPE line before it, no duplicate series.
func parseExposition(text string) ([]sample, map[string]string, error) {
	types := map[string]string{}
	seen := map[string]bool{}
	var out []sample
	if !strings.HasSuffix(text, "\n") {
		return nil, nil, errors.New("output does not end with a newline")
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		ln := i + 1
		if strings.HasPrefix(line, "#") {
			f := strings.SplitN(line, " ", 4)
			if len(f) < 4 || (f[1] != "HELP" && f[1] != "TYPE") {
				return nil, nil, fmt.Errorf("line %d: bad comment %q", ln, line)
			}
			if f[1] == "TYPE" {
				switch f[3] {
				case "counter", "gauge", "histogram", "summary", "untyped":
				default:
					return nil, nil, fmt.Errorf("line %d: bad type %q", ln, f[3])
				}
				if _, dup := types[f[2]]; dup {
					return nil, nil, fmt.Errorf("line %d: second TYPE for %s", ln, f[2])
				}
				types[f[2]] = f[3]
			}
			continue
		}
		name := reName.FindString(line)
		if name == "" {
			return nil, nil, fmt.Errorf("line %d: no metric name: %q", ln, line)
		}
		rest := line[len(name):]
		s := sample{name: name, labels: map[string]string{}}
		if strings.HasPrefix(rest, "{") {
			rest = rest[1:]
			for !strings.HasPrefix(rest, "}") {
				k := reLabel.FindString(rest)
				if k == "" || !strings.HasPrefix(rest[len(k):], `="`) {
					return nil, nil, fmt.Errorf("line %d: bad label at %q", ln, rest)
				}
				rest = rest[len(k)+2:]
				var v strings.Builder
				for {
					if rest == "" {
						return nil, nil, fmt.Errorf("line %d: unterminated label value", ln)
					}
					c := rest[0]
					rest = rest[1:]
					if c == '"' {
						break
					}
					if c == '\\' {
						switch rest[0] {
						case '\\', '"':
							v.WriteByte(rest[0])
						case 'n':
							v.WriteByte('\n')
						default:
							return nil, nil, fmt.Errorf("line %d: bad escape", ln)
						}
						rest = rest[1:]
						continue
					}
					v.WriteByte(c)
				}
				if _, dup := s.labels[k]; dup {
					return nil, nil, fmt.Errorf("line %d: duplicate label %s", ln, k)
				}
				s.labels[k] = v.String()
				if strings.HasPrefix(rest, ",") {
					rest = rest[1:]
				}
			}
			rest = rest[1:]
		}
		if !strings.HasPrefix(rest, " ") {
			return nil, nil, fmt.Errorf("line %d: no space before value: %q", ln, line)
		}
		vs := rest[1:]
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: bad value %q", ln, vs)
		}
		s.value = v
		family := name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && types[base] == "histogram" {
				family = base
			}
		}
		if types[family] == "" {
			return nil, nil, fmt.Errorf("line %d: sample of %s before its TYPE", ln, name)
		}
		if types[family] == "counter" && v < 0 {
			return nil, nil, fmt.Errorf("line %d: negative counter", ln)
		}
		if seen[s.key()] {
			return nil, nil, fmt.Errorf("line %d: duplicate series %s", ln, s.key())
		}
		seen[s.key()] = true
		out = append(out, s)
	}
	return out, types, nil
}

var testPods = []Pod{
	{"team-a", "checkout-7d9f8c6b5-abcde", "checkout"},
	{"team-a", "checkout-7d9f8c6b5-fghij", "checkout"},
	{"team-a", "payments-5c6d7e8f9-kkkkk", "payments"},
	{"team-b", "inventory-6b7c8d9e0-zzzzz", "inventory"},
	{"kube-system", "weird\"name", "c"},
	{"team-a", "checkout-7d9f8c6b5-abcde", "checkout"}, // duplicate, dropped
}

func render(t *testing.T, cluster string, at time.Time, pods []Pod) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, cluster, at, pods); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExpositionParses(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	text := render(t, "prod-eu", at, testPods)
	samples, types, err := parseExposition(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	want := map[string]string{
		"istio_requests_total":                "counter",
		"istio_request_duration_milliseconds": "histogram",
		"container_cpu_usage_seconds_total":   "counter",
		"container_memory_working_set_bytes":  "gauge",
	}
	for name, typ := range want {
		if types[name] != typ {
			t.Errorf("TYPE %s = %q, want %q", name, types[name], typ)
		}
	}

	// Histograms: cumulative buckets, +Inf == _count == istio_requests_total.
	type hkey struct{ svc, code string }
	buckets := map[hkey][]sample{}
	counts := map[hkey]float64{}
	reqs := map[hkey]float64{}
	cpu := 0
	for _, s := range samples {
		k := hkey{s.labels["destination_service_name"], s.labels["response_code"]}
		switch s.name {
		case "istio_request_duration_milliseconds_bucket":
			buckets[k] = append(buckets[k], s)
		case "istio_request_duration_milliseconds_count":
			counts[k] = s.value
		case "istio_requests_total":
			reqs[k] = s.value
			if s.labels["reporter"] != "destination" || s.labels["destination_cluster"] != "prod-eu" || s.labels["destination_service_namespace"] == "" || s.labels["destination_workload"] == "" {
				t.Errorf("istio labels: %v", s.labels)
			}
		case "container_cpu_usage_seconds_total":
			cpu++
		}
	}
	if len(reqs) != 12 {
		t.Errorf("%d istio_requests_total series, want 12", len(reqs))
	}
	for k, bs := range buckets {
		if len(bs) != len(DurationBucketsMs)+1 {
			t.Errorf("%v: %d buckets", k, len(bs))
		}
		prev := -1.0
		for i, b := range bs {
			if b.value < prev {
				t.Errorf("%v: bucket %s decreases", k, b.labels["le"])
			}
			prev = b.value
			if i < len(DurationBucketsMs) {
				if le, _ := strconv.ParseFloat(b.labels["le"], 64); le != DurationBucketsMs[i] {
					t.Errorf("%v: bucket %d le=%s", k, i, b.labels["le"])
				}
			}
		}
		if last := bs[len(bs)-1]; last.labels["le"] != "+Inf" || last.value != counts[k] || counts[k] != reqs[k] {
			t.Errorf("%v: +Inf %v count %v requests %v", k, last.value, counts[k], reqs[k])
		}
	}
	if cpu != 5 {
		t.Errorf("%d cpu series, want 5 (duplicates dropped)", cpu)
	}
	if !strings.Contains(text, `pod="weird\"name"`) {
		t.Error("label value not escaped")
	}

	// Without pods: no container families at all.
	if strings.Contains(render(t, "x", at, nil), "container_") {
		t.Error("container series without pods")
	}
}

// TestPromtoolAccepts runs Prometheus' own linter when it is installed.
func TestPromtoolAccepts(t *testing.T) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(render(t, "staging", time.Now(), testPods))
	out, err := cmd.CombinedOutput()
	// Exit 1 is a parse error. Exit 3 lists lint problems: the only one allowed
	// is Istio's own choice of milliseconds as the duration unit.
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 3) {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.Contains(line, `istio_request_duration_milliseconds use base unit "seconds"`) {
			t.Errorf("promtool: %s", line)
		}
	}
}

func sumWhere(samples []sample, name string, pred func(map[string]string) bool) float64 {
	var v float64
	for _, s := range samples {
		if s.name == name && pred(s.labels) {
			v += s.value
		}
	}
	return v
}

func TestRates(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	t1 := t0.Add(60 * time.Second)
	s0, _, err := parseExposition(render(t, "prod-us", t0, testPods))
	if err != nil {
		t.Fatal(err)
	}
	s1, _, err := parseExposition(render(t, "prod-us", t1, testPods))
	if err != nil {
		t.Fatal(err)
	}
	rate := func(name string, pred func(map[string]string) bool) float64 {
		return (sumWhere(s1, name, pred) - sumWhere(s0, name, pred)) / 60
	}
	svc := func(n string) func(map[string]string) bool {
		return func(l map[string]string) bool { return l["destination_service_name"] == n }
	}
	svc5xx := func(n string) func(map[string]string) bool {
		return func(l map[string]string) bool {
			return l["destination_service_name"] == n && strings.HasPrefix(l["response_code"], "5")
		}
	}
	near := func(got, want float64) bool { return math.Abs(got-want) <= 1e-6*math.Max(1, want) }
	for _, c := range []struct {
		name        string
		rate, ratio float64
	}{
		{"checkout", 120, 0.001},
		{"payments", 40, 0.023},
		{"frontend", 200, 0},
		{"inventory", 25, 0.005},
	} {
		r := rate("istio_requests_total", svc(c.name))
		e := rate("istio_requests_total", svc5xx(c.name))
		if !near(r, c.rate) || !near(e/r, c.ratio) {
			t.Errorf("%s: rate %v (want %v), 5xx ratio %v (want %v)", c.name, r, c.rate, e/r, c.ratio)
		}
	}
	// Shares add up to 1 for every service.
	for _, s := range Services {
		var sum float64
		for _, v := range s.Codes {
			sum += v
		}
		if !near(sum, 1) {
			t.Errorf("%s: code shares add up to %v", s.Name, sum)
		}
	}
	// Latency: the share under the median bucket-ish matches the profile.
	// checkout median 40ms: ~50% below 40 → between le=25 and le=50 buckets.
	b25 := rate("istio_request_duration_milliseconds_bucket", func(l map[string]string) bool {
		return l["destination_service_name"] == "checkout" && l["le"] == "25"
	})
	b50 := rate("istio_request_duration_milliseconds_bucket", func(l map[string]string) bool {
		return l["destination_service_name"] == "checkout" && l["le"] == "50"
	})
	b250 := rate("istio_request_duration_milliseconds_bucket", func(l map[string]string) bool {
		return l["destination_service_name"] == "checkout" && l["le"] == "250"
	})
	if !(b25/120 < 0.5 && b50/120 > 0.5 && b250/120 > 0.99) {
		t.Errorf("checkout latency shares: le25 %.3f le50 %.3f le250 %.3f", b25/120, b50/120, b250/120)
	}
	// CPU: a checkout pod uses 70m ± 8%.
	c := rate("container_cpu_usage_seconds_total", func(l map[string]string) bool { return l["pod"] == "checkout-7d9f8c6b5-abcde" })
	if c < 0.07*PodSpreadMin-1e-9 || c > 0.07*PodSpreadMax+1e-9 {
		t.Errorf("checkout pod cpu %v cores", c)
	}
	// Deterministic: same input, same output.
	if render(t, "prod-us", t0, testPods) != render(t, "prod-us", t0, testPods) {
		t.Error("output not deterministic")
	}
}

type countingLister struct {
	calls int
	err   error
}

func (c *countingLister) ListPods(_ context.Context, cluster string) ([]Pod, error) {
	c.calls++
	if c.err != nil {
		return nil, c.err
	}
	return []Pod{{"team-a", "checkout-1-" + cluster, "checkout"}}, nil
}

func TestHandler(t *testing.T) {
	l := &countingLister{}
	h := NewHandler([]string{"prod-eu", "staging"}, l, Options{PodCacheTTL: time.Hour})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path string) (int, string, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b.String()
	}
	code, ct, body := get("/metrics/staging")
	if code != 200 || ct != ContentType || !strings.Contains(body, `pod="checkout-1-staging"`) || !strings.Contains(body, `destination_cluster="staging"`) {
		t.Errorf("/metrics/staging: %d %s\n%.500s", code, ct, body)
	}
	get("/metrics/staging")
	if l.calls != 1 {
		t.Errorf("pod list not cached: %d calls", l.calls)
	}
	if code, _, _ := get("/metrics/nope"); code != 404 {
		t.Errorf("unknown cluster: %d", code)
	}
	if _, _, idx := get("/"); idx != "/metrics/prod-eu\n/metrics/staging\n" {
		t.Errorf("index %q", idx)
	}
	if code, _, _ := get("/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	// A failing lister still serves the istio series.
	l2 := &countingLister{err: errors.New("apiserver down")}
	h2 := NewHandler([]string{"prod-eu"}, l2, Options{Logger: nil})
	rec := httptest.NewRecorder()
	h2.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/prod-eu", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "istio_requests_total{") || strings.Contains(rec.Body.String(), "container_") {
		t.Errorf("failing lister: %d", rec.Code)
	}
}

func TestRunRejectsNonLoopback(t *testing.T) {
	if err := Run(context.Background(), "0.0.0.0:0", []string{"a"}, nil); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("Run on 0.0.0.0: %v", err)
	}
}
