package nodesim

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"fleetpane/testenv/internal/kube"
)

// eventPoster posts the kubelet's "Unhealthy" readiness events for pods that
// fail readiness: one Event per pod whose count and lastTimestamp are bumped
// every probe period, as the kubelet's event correlator does.
type eventPoster struct {
	client kubernetes.Interface
	log    *log.Logger
	mu     sync.Mutex
	byPod  map[types.UID]*failState
	// failing is set while posting fails (e.g. a paused apiserver), so the
	// error is logged once, not every probe period.
	failing bool
}

type failState struct {
	ev   *corev1.Event
	next time.Time
}

func newEventPoster(client kubernetes.Interface, logger *log.Logger) *eventPoster {
	return &eventPoster{client: client, log: logger, byPod: map[types.UID]*failState{}}
}

func (e *eventPoster) forget(uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byPod, uid)
}

// probeFailures posts due events for every failing pod on this cluster's
// nodes, and forgets pods that no longer fail.
func (c *cluster) probeFailures(ctx context.Context) {
	pods, err := c.pods.List(everything)
	if err != nil {
		return
	}
	now := time.Now()
	failing := map[types.UID]bool{}
	for _, p := range pods {
		node, ours := c.nodes[p.Spec.NodeName]
		if !ours || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !FailsReadiness(p) {
			continue
		}
		failing[p.UID] = true
		c.events.tick(ctx, p, node, now)
	}
	c.events.mu.Lock()
	for uid := range c.events.byPod {
		if !failing[uid] {
			delete(c.events.byPod, uid)
		}
	}
	c.events.mu.Unlock()
}

// ProbePeriod is the readiness probe period of the pod's probed container.
func ProbePeriod(pod *corev1.Pod) time.Duration {
	for _, ct := range pod.Spec.Containers {
		if ct.ReadinessProbe != nil && ct.ReadinessProbe.PeriodSeconds > 0 {
			return time.Duration(ct.ReadinessProbe.PeriodSeconds) * time.Second
		}
	}
	return DefaultProbePeriod
}

func probedContainer(pod *corev1.Pod) string {
	for _, ct := range pod.Spec.Containers {
		if ct.ReadinessProbe != nil {
			return ct.Name
		}
	}
	if len(pod.Spec.Containers) > 0 {
		return pod.Spec.Containers[0].Name
	}
	return ""
}

// UnhealthyEvent is the first event for a pod failing readiness.
func UnhealthyEvent(pod *corev1.Pod, node string, now time.Time) *corev1.Event {
	t := metav1.NewTime(now)
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", pod.Name, now.UnixNano()),
			Namespace: pod.Namespace,
		},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
			FieldPath: fmt.Sprintf("spec.containers{%s}", probedContainer(pod)),
		},
		Reason:              "Unhealthy",
		Message:             ReadinessFailMessage,
		Type:                corev1.EventTypeWarning,
		Source:              corev1.EventSource{Component: "kubelet", Host: node},
		ReportingController: "kubelet",
		ReportingInstance:   node,
		FirstTimestamp:      t,
		LastTimestamp:       t,
		Count:               1,
	}
}

func (e *eventPoster) tick(ctx context.Context, pod *corev1.Pod, node NodeSpec, now time.Time) {
	e.mu.Lock()
	st, ok := e.byPod[pod.UID]
	if !ok {
		st = &failState{}
		e.byPod[pod.UID] = st
	}
	due := now.After(st.next) || now.Equal(st.next)
	if due {
		st.next = now.Add(ProbePeriod(pod))
	}
	prev := st.ev
	e.mu.Unlock()
	if !due {
		return
	}
	events := e.client.CoreV1().Events(pod.Namespace)
	var ev *corev1.Event
	var err error
	if prev != nil {
		upd := prev.DeepCopy()
		upd.Count++
		upd.LastTimestamp = metav1.NewTime(now)
		ev, err = events.Update(ctx, upd, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || apierrors.IsInvalid(err) {
			prev, err = nil, nil // expired or changed: start a new series
		}
	}
	if prev == nil {
		ev, err = events.Create(ctx, UnhealthyEvent(pod, node.Name, now), metav1.CreateOptions{})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		if !e.failing {
			e.log.Printf("posting events fails (will retry quietly): pod %s/%s: %s", pod.Namespace, pod.Name, kube.Short(err))
		}
		e.failing = true
		return
	}
	if e.failing {
		e.log.Printf("posting events works again")
		e.failing = false
	}
	if cur, ok := e.byPod[pod.UID]; ok {
		cur.ev = ev
	}
}
