package nodesim

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fleetpane/testenv/internal/metricsgen"
	"fleetpane/testenv/internal/pki"
)

// KubeletPort is the port every simulated node reports in
// status.daemonEndpoints (the kubelet's default).
const KubeletPort = 10250

// What a simulated node itself uses besides its pods (node_* series).
const (
	NodeSystemCPU    = 0.1       // cores
	NodeSystemMemory = 512 << 20 // bytes
)

// ResourceMetricsPath is the kubelet endpoint that metrics-server scrapes.
const ResourceMetricsPath = "/metrics/resource"

// The simulated kubelets' network.
//
// A node's InternalIP (10.250.<cluster>.<10+n>) exists only here, so the
// agent serves one HTTP proxy on 127.0.0.1 that accepts CONNECT to
// <InternalIP>:10250 of any simulated node of the fleet, and answers the
// tunnel itself with TLS, as that node's kubelet: a serving certificate of
// the cluster CA for the node's IP and name, client certificates of the
// cluster CA required, and each request authorized with a
// SubjectAccessReview (get nodes/metrics), as the kubelet's webhook
// authorizer does. Clients reach it with HTTPS_PROXY (metrics-server) or
// `curl -x`. Only GET /metrics/resource and /healthz are served.

type kubeletNode struct {
	cluster *cluster
	spec    NodeSpec
	tls     *tls.Config
}

type kubeletServer struct {
	log   *log.Logger
	nodes map[string]*kubeletNode // by "<ip>:<port>"
	inner *http.Server
	conns *connListener
	authz *authorizer
}

func newKubeletServer(clusters []*cluster, logger *log.Logger) (*kubeletServer, error) {
	s := &kubeletServer{log: logger, nodes: map[string]*kubeletNode{}, conns: newConnListener(), authz: newAuthorizer()}
	now := time.Now()
	for _, c := range clusters {
		if c.cfg.CAKeyFile == "" {
			continue
		}
		caPEM, err := os.ReadFile(c.cfg.Target.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("%s: bad CA file %s", c.cfg.Name, c.cfg.Target.CAFile)
		}
		for _, n := range c.order {
			cert, err := pki.KubeletServing(c.cfg.Target.CAFile, c.cfg.CAKeyFile, n.Name, net.ParseIP(n.IP), now)
			if err != nil {
				return nil, err
			}
			s.nodes[net.JoinHostPort(n.IP, strconv.Itoa(KubeletPort))] = &kubeletNode{
				cluster: c, spec: n,
				tls: &tls.Config{
					Certificates: []tls.Certificate{cert}, ClientCAs: pool,
					ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
				},
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+ResourceMetricsPath, s.resourceMetrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	s.inner = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if tc, ok := c.(*tls.Conn); ok {
				if nc, ok := tc.NetConn().(*tunnel); ok {
					return context.WithValue(ctx, nodeKey{}, nc.node)
				}
			}
			return ctx
		},
		ErrorLog: log.New(io.Discard, "", 0), // handshake noise of aborted scrapes
	}
	return s, nil
}

type nodeKey struct{}

// listenLoopback listens on addr, which must be a loopback IP and port.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("kubelet proxy address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("kubelet proxy address %q is not a loopback IP", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kubelet proxy: %w", err)
	}
	return ln, nil
}

// serve runs the proxy on ln until ctx ends.
func (s *kubeletServer) serve(ctx context.Context, ln net.Listener) error {
	outer := &http.Server{Handler: http.HandlerFunc(s.proxy), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.inner.Serve(s.conns) }()
	errc := make(chan error, 1)
	go func() { errc <- outer.Serve(ln) }()
	s.log.Printf("kubelets of %d simulated nodes reachable through the CONNECT proxy http://%s", len(s.nodes), ln.Addr())
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = outer.Shutdown(sctx)
		_ = s.inner.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// proxy answers CONNECT <node IP>:10250 by serving that node's kubelet on
// the tunnel.
func (s *kubeletServer) proxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		if r.URL.Path == "/healthz" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		http.Error(w, "a CONNECT proxy to the simulated kubelets (<node InternalIP>:10250)", http.StatusMethodNotAllowed)
		return
	}
	node, ok := s.nodes[r.Host]
	if !ok {
		http.Error(w, fmt.Sprintf("no simulated kubelet at %s", r.Host), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = conn.Close()
		return
	}
	t := &tunnel{Conn: conn, r: buf.Reader, node: node}
	s.conns.push(tls.Server(t, node.tls))
}

// tunnel is a hijacked CONNECT connection to one node (reads go through
// the server's buffer, which may hold the start of the TLS handshake).
type tunnel struct {
	net.Conn
	r    *bufio.Reader
	node *kubeletNode
}

func (t *tunnel) Read(p []byte) (int, error) { return t.r.Read(p) }

// connListener hands the tunnels to the inner (TLS) HTTP server.
type connListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func (s *kubeletServer) resourceMetrics(w http.ResponseWriter, r *http.Request) {
	node, _ := r.Context().Value(nodeKey{}).(*kubeletNode)
	if node == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	subject := r.TLS.PeerCertificates[0].Subject
	allowed, err := s.authz.allowed(r.Context(), node, subject.CommonName, subject.Organization)
	if err != nil {
		http.Error(w, "authorization: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if !allowed {
		http.Error(w, fmt.Sprintf("Forbidden (user=%s, verb=get, resource=nodes, subresource=metrics)", subject.CommonName), http.StatusForbidden)
		return
	}
	pods, ok := node.cluster.podsOn(node.spec.Name)
	if !ok {
		http.Error(w, "the pod cache is not synced yet", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = io.WriteString(w, ResourceMetrics(pods, time.Now()))
}

// podsOn returns the running pods bound to node, once the pod cache synced.
func (c *cluster) podsOn(node string) ([]*corev1.Pod, bool) {
	select {
	case <-c.synced:
	default:
		return nil, false
	}
	all, err := c.pods.List(everything)
	if err != nil {
		return nil, false
	}
	var out []*corev1.Pod
	for _, p := range all {
		if p.Spec.NodeName == node && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out, true
}

// ResourceMetrics renders a kubelet's /metrics/resource for the pods of
// one node at now: per running container its cumulative CPU since it
// started, its working set and its start time, with metricsgen's numbers
// (metricsgen.PodUsage, which Prometheus scrapes too); per pod the sums;
// for the node the pods plus NodeSystemCPU/NodeSystemMemory.
func ResourceMetrics(pods []*corev1.Pod, now time.Time) string {
	type sample struct {
		ns, pod, container string
		cpu, mem, start    float64
	}
	var samples []sample
	for _, p := range pods {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running == nil {
				continue
			}
			started := cs.State.Running.StartedAt.Time
			cores, mem := metricsgen.PodUsage(metricsgen.Pod{Namespace: p.Namespace, Name: p.Name, Container: cs.Name})
			up := now.Sub(started).Seconds()
			if up < 0 {
				up = 0
			}
			samples = append(samples, sample{p.Namespace, p.Name, cs.Name, cores * up, mem, float64(started.Unix())})
		}
	}
	sort.Slice(samples, func(i, j int) bool {
		a, b := samples[i], samples[j]
		return a.ns+"/"+a.pod+"/"+a.container < b.ns+"/"+b.pod+"/"+b.container
	})
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s [STABLE] %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	containerLabels := func(s sample) string {
		return fmt.Sprintf(`{container="%s",namespace="%s",pod="%s"}`, s.container, s.ns, s.pod)
	}
	family("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the container in core-seconds")
	for _, s := range samples {
		fmt.Fprintf(&b, "container_cpu_usage_seconds_total%s %s %s\n", containerLabels(s), num(s.cpu), ts)
	}
	family("container_memory_working_set_bytes", "gauge", "Current working set of the container in bytes")
	for _, s := range samples {
		fmt.Fprintf(&b, "container_memory_working_set_bytes%s %s %s\n", containerLabels(s), num(s.mem), ts)
	}
	family("container_start_time_seconds", "gauge", "Start time of the container since unix epoch in seconds")
	for _, s := range samples {
		fmt.Fprintf(&b, "container_start_time_seconds%s %s %s\n", containerLabels(s), num(s.start), ts)
	}
	nodeCPU := NodeSystemCPU * now.Sub(metricsgen.Epoch).Seconds()
	nodeMem := float64(NodeSystemMemory)
	type podSum struct{ cpu, mem float64 }
	perPod := map[[2]string]*podSum{}
	var podKeys [][2]string
	for _, s := range samples {
		nodeCPU += s.cpu
		nodeMem += s.mem
		k := [2]string{s.ns, s.pod}
		if perPod[k] == nil {
			perPod[k] = &podSum{}
			podKeys = append(podKeys, k)
		}
		perPod[k].cpu += s.cpu
		perPod[k].mem += s.mem
	}
	family("node_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the node in core-seconds")
	fmt.Fprintf(&b, "node_cpu_usage_seconds_total %s %s\n", num(nodeCPU), ts)
	family("node_memory_working_set_bytes", "gauge", "Current working set of the node in bytes")
	fmt.Fprintf(&b, "node_memory_working_set_bytes %s %s\n", num(nodeMem), ts)
	family("pod_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed by the pod in core-seconds")
	for _, k := range podKeys {
		fmt.Fprintf(&b, "pod_cpu_usage_seconds_total{namespace=\"%s\",pod=\"%s\"} %s %s\n", k[0], k[1], num(perPod[k].cpu), ts)
	}
	family("pod_memory_working_set_bytes", "gauge", "Current working set of the pod in bytes")
	for _, k := range podKeys {
		fmt.Fprintf(&b, "pod_memory_working_set_bytes{namespace=\"%s\",pod=\"%s\"} %s %s\n", k[0], k[1], num(perPod[k].mem), ts)
	}
	b.WriteString("# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise\n")
	b.WriteString("# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n")
	return b.String()
}

// authorizer asks the cluster, as the kubelet's webhook authorizer does,
// whether a client may get nodes/metrics of a node; answers are cached.
type authorizer struct {
	mu    sync.Mutex
	cache map[string]decision
}

type decision struct {
	allowed bool
	at      time.Time
}

// decisionTTL is how long an answer is reused (the kubelet's default for
// allowed answers is 5 min; shorter here so RBAC changes show quickly).
const decisionTTL = time.Minute

func newAuthorizer() *authorizer { return &authorizer{cache: map[string]decision{}} }

func (a *authorizer) allowed(ctx context.Context, n *kubeletNode, user string, groups []string) (bool, error) {
	key := n.cluster.cfg.Name + "\x00" + n.spec.Name + "\x00" + user + "\x00" + strings.Join(groups, ",")
	a.mu.Lock()
	d, ok := a.cache[key]
	a.mu.Unlock()
	if ok && time.Since(d.at) < decisionTTL {
		return d.allowed, nil
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: append([]string{"system:authenticated"}, groups...),
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: "get", Resource: "nodes", Subresource: "metrics", Name: n.spec.Name,
		},
	}}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := n.cluster.client.AuthorizationV1().SubjectAccessReviews().Create(rctx, sar, metav1.CreateOptions{})
	if err != nil {
		if ok {
			return d.allowed, nil // the apiserver may be paused: keep the last answer
		}
		return false, err
	}
	a.mu.Lock()
	a.cache[key] = decision{allowed: res.Status.Allowed, at: time.Now()}
	a.mu.Unlock()
	return res.Status.Allowed, nil
}
