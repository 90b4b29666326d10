package nodesim

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"fleetpane/testenv/internal/kube"
)

// Timing of the simulated kubelets.
var (
	HeartbeatPeriod = 30 * time.Second
	ProbeCheckTick  = 2 * time.Second
	// DefaultProbePeriod is used when the pod's readiness probe sets none.
	DefaultProbePeriod = 10 * time.Second
	workers            = 2
)

// Run serves every cluster of cfg until ctx ends. A cluster whose apiserver
// is unreachable is retried with backoff; the others are not held up.
func Run(ctx context.Context, cfg Config, logger *log.Logger) error {
	var clusters []*cluster
	for _, cc := range cfg.Clusters {
		c, err := newCluster(cc, logger)
		if err != nil {
			return err
		}
		clusters = append(clusters, c)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kubeletErr := make(chan error, 1)
	if cfg.KubeletListen != "" {
		ks, err := newKubeletServer(clusters, logger)
		if err != nil {
			return err
		}
		ln, err := listenLoopback(cfg.KubeletListen)
		if err != nil {
			return err
		}
		go func() {
			err := ks.serve(ctx, ln)
			if err != nil {
				cancel() // the agent is not whole without its kubelets
			}
			kubeletErr <- err
		}()
	} else {
		kubeletErr <- nil
	}
	var wg sync.WaitGroup
	for _, c := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(ctx)
		}()
	}
	wg.Wait()
	cancel()
	return <-kubeletErr
}

type cluster struct {
	cfg     ClusterConfig
	log     *log.Logger
	client  kubernetes.Interface
	nodes   map[string]NodeSpec
	order   []NodeSpec
	ipam    *ipam
	queue   workqueue.TypedRateLimitingInterface[string]
	pods    listersv1.PodLister
	synced  chan struct{} // closed once pods is synced
	events  *eventPoster
	healthy bool // last node heartbeat succeeded (for quiet logs)
}

func newCluster(cc ClusterConfig, logger *log.Logger) (*cluster, error) {
	cfg := kube.RESTConfig(cc.Target)
	cfg.UserAgent = "testenv-agent (simulated kubelet)"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cc.Name, err)
	}
	order := Nodes(cc)
	c := &cluster{
		cfg: cc, client: client, order: order, nodes: map[string]NodeSpec{}, ipam: newIPAM(order), synced: make(chan struct{}),
		log: log.New(logger.Writer(), fmt.Sprintf("[%s] ", cc.Name), logger.Flags()),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](
			100*time.Millisecond, 10*time.Second)),
	}
	for _, n := range order {
		c.nodes[n.Name] = n
	}
	c.events = newEventPoster(client, c.log)
	return c, nil
}

func (c *cluster) run(ctx context.Context) {
	defer c.queue.ShutDown()
	// Nodes first: without them nothing gets scheduled.
	backoff := wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Cap: 15 * time.Second, Steps: 1 << 30}
	for {
		err := c.syncNodes(ctx)
		if err == nil {
			break
		}
		c.log.Printf("nodes not registered yet: %s", kube.Short(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff.Step()):
		}
	}
	c.healthy = true
	c.log.Printf("%d nodes registered and Ready", len(c.order))

	factory := informers.NewSharedInformerFactory(c.client, 0)
	inf := factory.Core().V1().Pods()
	c.pods = inf.Lister()
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				key := p.Namespace + "/" + p.Name
				c.ipam.Release(key)
				c.events.forget(p.UID)
			}
		},
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return
	}
	c.seedIPAM()
	close(c.synced)
	for i := 0; i < workers; i++ {
		go wait.UntilWithContext(ctx, c.worker, time.Second)
	}
	go wait.UntilWithContext(ctx, c.heartbeat, HeartbeatPeriod)
	go wait.UntilWithContext(ctx, c.probeFailures, ProbeCheckTick)
	<-ctx.Done()
}

func (c *cluster) enqueue(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if _, ours := c.nodes[p.Spec.NodeName]; !ours {
		return
	}
	c.queue.Add(p.Namespace + "/" + p.Name)
}

// seedIPAM records the IPs pods already have, so a restarted agent never
// hands out an IP twice.
func (c *cluster) seedIPAM() {
	pods, err := c.pods.List(everything)
	if err != nil {
		return
	}
	for _, p := range pods {
		if _, ours := c.nodes[p.Spec.NodeName]; !ours || p.Status.PodIP == "" || p.Spec.HostNetwork {
			continue
		}
		if !c.ipam.Claim(p.Status.PodIP, p.Namespace+"/"+p.Name) {
			c.log.Printf("pod %s/%s has IP %s held by another pod; it gets a new one", p.Namespace, p.Name, p.Status.PodIP)
		}
	}
}

func (c *cluster) worker(ctx context.Context) {
	for {
		key, quit := c.queue.Get()
		if quit {
			return
		}
		err := c.syncPod(ctx, key)
		switch {
		case err == nil:
			c.queue.Forget(key)
		case apierrors.IsConflict(err):
			// A newer version is on its way through the informer; retry soon.
			c.queue.AddRateLimited(key)
		default:
			if c.queue.NumRequeues(key) < 3 || c.queue.NumRequeues(key)%20 == 0 {
				c.log.Printf("pod %s: %s (will retry)", key, kube.Short(err))
			}
			c.queue.AddRateLimited(key)
		}
		c.queue.Done(key)
		if ctx.Err() != nil {
			return
		}
	}
}

func (c *cluster) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.ipam.Release(key)
		return nil
	}
	if err != nil {
		return err
	}
	node, ours := c.nodes[pod.Spec.NodeName]
	if !ours {
		return nil
	}
	if pod.DeletionTimestamp != nil {
		// The containers "stopped" at once: finish the deletion like a kubelet.
		err := c.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr(int64(0)),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
		return nil
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	ip := pod.Status.PodIP
	if pod.Spec.HostNetwork {
		ip = node.IP
	} else if ip == "" || !c.ipam.Claim(ip, key) {
		if ip, err = c.ipam.Allocate(node.Name, key); err != nil {
			return err
		}
	}
	want := DesiredStatus(pod, node, ip, metav1.Now())
	if equality.Semantic.DeepEqual(pod.Status, want) {
		return nil
	}
	upd := pod.DeepCopy()
	upd.Status = want
	_, err = c.client.CoreV1().Pods(ns).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
