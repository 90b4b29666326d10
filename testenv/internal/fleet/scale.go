package fleet

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"fleetpane/testenv/internal/kube"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/nodesim"
)

// ScaleOptions size the objects `testenv scale` creates in every cluster of
// a fleet, for `./dev bench` (Fleetpane's benchmark).
type ScaleOptions struct {
	Services   int
	Pods       int
	Namespaces int
	Nodes      int
	// Group is bound to the built-in ClusterRole view in the first
	// GroupNamespaces scale namespaces: the bench's RBAC-limited identity.
	Group           string
	GroupNamespaces int
	Workers         int
	Timeout         time.Duration
}

// Labels and names of the scale objects.
const (
	ScaleLabel       = "testenv.fleetpane/scale"
	scaleImage       = "fleetpane-demo/scale:1.0"
	maxPodsPerNode   = 250
	scaleRoleBinding = "testenv-scale:view"
)

// ScaleNamespace is the name of scale namespace i.
func ScaleNamespace(i int) string { return fmt.Sprintf("scale-%02d", i) }

// Validate checks the sizes.
func (o ScaleOptions) Validate() error {
	switch {
	case o.Services < 1 || o.Pods < 0 || o.Namespaces < 1 || o.Nodes < 1:
		return fmt.Errorf("--services, --namespaces and --nodes must be at least 1, --pods at least 0")
	case o.Nodes > 250:
		return fmt.Errorf("--nodes must be at most 250 (one /24 pod range each), got %d", o.Nodes)
	case o.Pods > o.Nodes*maxPodsPerNode:
		return fmt.Errorf("%d pods on %d nodes is more than %d per node: raise --nodes", o.Pods, o.Nodes, maxPodsPerNode)
	case o.GroupNamespaces > o.Namespaces:
		return fmt.Errorf("--group-namespaces %d is more than --namespaces %d", o.GroupNamespaces, o.Namespaces)
	case o.Workers < 1:
		return fmt.Errorf("--workers must be at least 1")
	}
	return nil
}

// Scale creates, idempotently and concurrently, in every cluster of the
// fleet in p: o.Nodes Ready nodes (no agent: nothing heartbeats them, and no
// node lifecycle controller runs), o.Namespaces namespaces, o.Pods bare pods
// bound to those nodes and marked Running and Ready with unique IPs through
// the status subresource (the scheduler is skipped), o.Services Services
// selecting them (the controller-manager fills their EndpointSlices), and the
// RBAC of the bench identity. It returns when every Service has a ready
// endpoint, or fails after o.Timeout.
func Scale(ctx context.Context, p Plan, o ScaleOptions, out io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	start := time.Now()
	var mu sync.Mutex
	printf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range p.ClusterList() {
		g.Go(func() error {
			if err := scaleCluster(gctx, p, c, o, printf); err != nil {
				return fmt.Errorf("%s: %w", c.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	printf("scaled %d cluster(s): %d Services, %d pods, %d namespaces, %d nodes each",
		p.Clusters, o.Services, o.Pods, o.Namespaces, o.Nodes)
	return nil
}

type scaler struct {
	client  kubernetes.Interface
	cluster layout.Cluster
	o       ScaleOptions
	nodes   []nodesim.NodeSpec
	printf  func(string, ...any)
}

func scaleCluster(ctx context.Context, p Plan, c layout.Cluster, o ScaleOptions, printf func(string, ...any)) error {
	cfg := kube.RESTConfig(p.AdminTarget(c))
	cfg.QPS, cfg.Burst = 1000, 2000
	cfg.UserAgent = "testenv-scale"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	s := &scaler{client: client, cluster: c, o: o, printf: func(f string, a ...any) { printf("%s: "+f, append([]any{c.Name}, a...)...) }}
	for i := 0; i < o.Nodes; i++ {
		zone := c.Zones[i%len(c.Zones)]
		s.nodes = append(s.nodes, nodesim.NodeSpec{
			Name: fmt.Sprintf("%s-scale-node-%03d", c.Name, i), Zone: zone, Region: c.Region,
			IP:      fmt.Sprintf("10.251.%d.%d", c.Index, i+1),
			PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 128+c.Index, i),
		})
	}
	steps := []struct {
		name string
		run  func(context.Context) (int, error)
	}{
		{"nodes", s.ensureNodes},
		{"namespaces", s.ensureNamespaces},
		{"pods (created, Running and Ready)", s.ensurePods},
		{"Services", s.ensureServices},
		{"RBAC of group " + o.Group, s.ensureRBAC},
	}
	for _, step := range steps {
		t0 := time.Now()
		n, err := step.run(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
		s.printf("%s: %d created or updated in %s", step.name, n, time.Since(t0).Round(100*time.Millisecond))
	}
	return s.waitEndpoints(ctx)
}

// parallel runs f(0..n-1) on o.Workers goroutines; it counts the calls that
// changed something.
func (s *scaler) parallel(ctx context.Context, n int, f func(context.Context, int) (bool, error)) (int, error) {
	var changed atomic.Int64
	next := atomic.Int64{}
	g, gctx := errgroup.WithContext(ctx)
	for w := 0; w < s.o.Workers; w++ {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || gctx.Err() != nil {
					return gctx.Err()
				}
				ch, err := f(gctx, i)
				if err != nil {
					return err
				}
				if ch {
					changed.Add(1)
				}
			}
		})
	}
	err := g.Wait()
	return int(changed.Load()), err
}

func (s *scaler) ensureNodes(ctx context.Context) (int, error) {
	return s.parallel(ctx, len(s.nodes), func(ctx context.Context, i int) (bool, error) {
		spec := s.nodes[i]
		nodes := s.client.CoreV1().Nodes()
		node, err := nodes.Get(ctx, spec.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			obj := nodesim.NodeObject(spec)
			obj.Labels[ScaleLabel] = "true"
			node, err = nodes.Create(ctx, obj, metav1.CreateOptions{})
		}
		if err != nil {
			return false, err
		}
		if isReady(node) {
			return false, nil
		}
		node.Status = nodesim.NodeStatus(spec, node.Status, metav1.Now())
		_, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return true, err
	})
}

func isReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (s *scaler) ensureNamespaces(ctx context.Context) (int, error) {
	return s.parallel(ctx, s.o.Namespaces, func(ctx context.Context, i int) (bool, error) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ScaleNamespace(i), Labels: map[string]string{ScaleLabel: "true"}}}
		_, err := s.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		created := err == nil
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return false, err
		}
		// Pods are admitted only once the namespace's default ServiceAccount exists; create it rather than
		// wait for the controller-manager.
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns.Name}}
		_, err = s.client.CoreV1().ServiceAccounts(ns.Name).Create(ctx, sa, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return false, err
		}
		return created, nil
	})
}

// Service i lives in namespace i mod Namespaces; pod j belongs to Service
// j mod Services and runs on node j mod Nodes.
func (s *scaler) serviceName(i int) string { return fmt.Sprintf("svc-%04d", i) }
func (s *scaler) serviceNamespace(i int) string {
	return ScaleNamespace(i % s.o.Namespaces)
}

// existing lists the scale objects already there ("namespace/name" of those for which done says so), so a
// second run only sends what is missing.
func existing[T any](ctx context.Context, list func(context.Context, metav1.ListOptions) ([]T, string, error), key func(*T) (string, bool)) (map[string]bool, error) {
	out := map[string]bool{}
	opts := metav1.ListOptions{LabelSelector: ScaleLabel + "=true", Limit: 2000}
	for {
		items, next, err := list(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range items {
			if k, ok := key(&items[i]); ok {
				out[k] = true
			}
		}
		if next == "" {
			return out, nil
		}
		opts.Continue = next
	}
}

func (s *scaler) ensurePods(ctx context.Context) (int, error) {
	ready, err := existing(ctx, func(ctx context.Context, o metav1.ListOptions) ([]corev1.Pod, string, error) {
		l, err := s.client.CoreV1().Pods("").List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	}, func(p *corev1.Pod) (string, bool) {
		return p.Namespace + "/" + p.Name, p.Status.Phase == corev1.PodRunning && p.Status.PodIP != ""
	})
	if err != nil {
		return 0, err
	}
	return s.parallel(ctx, s.o.Pods, func(ctx context.Context, j int) (bool, error) {
		svc := j % s.o.Services
		ns := s.serviceNamespace(svc)
		name := fmt.Sprintf("%s-%d", s.serviceName(svc), j/s.o.Services)
		nodeIdx := j % s.o.Nodes
		node := s.nodes[nodeIdx]
		// Unique per node: the (j / Nodes)-th pod of this node.
		ip := fmt.Sprintf("10.%d.%d.%d", 128+s.cluster.Index, nodeIdx, j/s.o.Nodes+2)
		if ready[ns+"/"+name] {
			return false, nil
		}
		pods := s.client.CoreV1().Pods(ns)
		pod, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			pod, err = pods.Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{
					Name: name, Namespace: ns,
					Labels: map[string]string{"app": s.serviceName(svc), ScaleLabel: "true"},
				},
				Spec: corev1.PodSpec{
					NodeName: node.Name,
					Containers: []corev1.Container{{
						Name: "app", Image: scaleImage,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
					}},
				},
			}, metav1.CreateOptions{})
		}
		if err != nil {
			return false, err
		}
		if pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP == ip {
			return false, nil
		}
		pod.Status = nodesim.DesiredStatus(pod, node, ip, metav1.Now())
		_, err = pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return true, err
	})
}

func (s *scaler) ensureServices(ctx context.Context) (int, error) {
	have, err := existing(ctx, func(ctx context.Context, o metav1.ListOptions) ([]corev1.Service, string, error) {
		l, err := s.client.CoreV1().Services("").List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.Continue, nil
	}, func(svc *corev1.Service) (string, bool) { return svc.Namespace + "/" + svc.Name, true })
	if err != nil {
		return 0, err
	}
	return s.parallel(ctx, s.o.Services, func(ctx context.Context, i int) (bool, error) {
		if have[s.serviceNamespace(i)+"/"+s.serviceName(i)] {
			return false, nil
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{
				Name: s.serviceName(i), Namespace: s.serviceNamespace(i),
				Labels: map[string]string{ScaleLabel: "true", "tier": []string{"web", "api", "worker", "cache"}[i%4]},
			},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": s.serviceName(i)},
				Ports: []corev1.ServicePort{{
					Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP,
				}},
			},
		}
		_, err := s.client.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return err == nil, err
	})
}

func (s *scaler) ensureRBAC(ctx context.Context) (int, error) {
	if s.o.Group == "" {
		return 0, nil
	}
	return s.parallel(ctx, s.o.GroupNamespaces, func(ctx context.Context, i int) (bool, error) {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: scaleRoleBinding, Namespace: ScaleNamespace(i), Labels: map[string]string{ScaleLabel: "true"}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: s.o.Group}},
		}
		_, err := s.client.RbacV1().RoleBindings(rb.Namespace).Create(ctx, rb, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return err == nil, err
	})
}

// waitEndpoints polls until every scale Service that selects pods has a
// ready endpoint in an EndpointSlice.
func (s *scaler) waitEndpoints(ctx context.Context) error {
	want := s.o.Services
	if s.o.Pods < want {
		want = s.o.Pods
	}
	t0 := time.Now()
	last := -1
	for {
		served := map[string]bool{}
		list, err := s.client.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, es := range list.Items {
				svc := es.Labels["kubernetes.io/service-name"]
				for _, ep := range es.Endpoints {
					if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
						served[es.Namespace+"/"+svc] = true
						break
					}
				}
			}
		}
		n := 0
		for i := 0; i < want; i++ {
			if served[s.serviceNamespace(i)+"/"+s.serviceName(i)] {
				n++
			}
		}
		if n >= want {
			s.printf("EndpointSlices: all %d Services have ready endpoints (waited %s)", want, time.Since(t0).Round(100*time.Millisecond))
			return nil
		}
		if n != last {
			s.printf("EndpointSlices: %d of %d Services have ready endpoints", n, want)
			last = n
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("only %d of %d Services have ready endpoints: %w", n, want, ctx.Err())
		case <-time.After(3 * time.Second):
		}
	}
}
