package nodesim

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testCluster(i int) ClusterConfig {
	return ClusterConfig{Name: fmt.Sprintf("c%d", i), Index: i, Region: "eu-west", Zones: []string{"zone-a", "zone-b"}}
}

func TestNodesSpreadOverZonesWithUniqueCIDRs(t *testing.T) {
	cidrs := map[string]string{}
	for i := 0; i < 3; i++ {
		nodes := Nodes(testCluster(i))
		if len(nodes) != 4 {
			t.Fatalf("%d nodes", len(nodes))
		}
		zones := map[string]int{}
		for _, n := range nodes {
			zones[n.Zone]++
			if prev, ok := cidrs[n.PodCIDR]; ok {
				t.Errorf("pod CIDR %s of %s also on %s", n.PodCIDR, n.Name, prev)
			}
			cidrs[n.PodCIDR] = n.Name
			obj := NodeObject(n)
			if obj.Labels["topology.kubernetes.io/zone"] != n.Zone || obj.Labels["topology.kubernetes.io/region"] != "eu-west" {
				t.Errorf("labels %v", obj.Labels)
			}
			if obj.Spec.PodCIDR != n.PodCIDR {
				t.Errorf("podCIDR %s", obj.Spec.PodCIDR)
			}
		}
		if zones["zone-a"] != 2 || zones["zone-b"] != 2 {
			t.Errorf("zones %v", zones)
		}
	}
	if n := Nodes(testCluster(0))[2].Name; n != "c0-node-b1" {
		t.Errorf("third node is %s, want c0-node-b1", n)
	}
}

func TestNodeStatusIsReadyWithCapacity(t *testing.T) {
	n := Nodes(testCluster(0))[0]
	now := metav1.NewTime(time.Unix(1000, 0))
	st := NodeStatus(n, corev1.NodeStatus{}, now)
	var ready *corev1.NodeCondition
	for i := range st.Conditions {
		if st.Conditions[i].Type == corev1.NodeReady {
			ready = &st.Conditions[i]
		}
	}
	if ready == nil || ready.Status != corev1.ConditionTrue {
		t.Fatalf("not Ready: %+v", st.Conditions)
	}
	if st.Allocatable.Cpu().IsZero() || st.Capacity.Memory().IsZero() || st.Allocatable.Pods().IsZero() {
		t.Errorf("capacity %v allocatable %v", st.Capacity, st.Allocatable)
	}
	// A heartbeat keeps the transition time.
	later := metav1.NewTime(time.Unix(2000, 0))
	st2 := NodeStatus(n, st, later)
	for _, c := range st2.Conditions {
		if !c.LastTransitionTime.Equal(&now) || !c.LastHeartbeatTime.Equal(&later) {
			t.Errorf("%s: transition %v heartbeat %v", c.Type, c.LastTransitionTime, c.LastHeartbeatTime)
		}
	}
}

func TestStartupTaintsAreRemoved(t *testing.T) {
	taints := []corev1.Taint{
		{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
		{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule},
	}
	got, changed := withoutStartupTaints(taints)
	if !changed || len(got) != 1 || got[0].Key != "dedicated" {
		t.Fatalf("got %v changed %v", got, changed)
	}
	if _, changed := withoutStartupTaints(got); changed {
		t.Error("changed without startup taints")
	}
}

func pod(annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "checkout-1", UID: "u1", Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeName: "c0-node-a1",
			Containers: []corev1.Container{{Name: "app", Image: "img:v1",
				ReadinessProbe: &corev1.Probe{PeriodSeconds: 7}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}},
	}
}

func condition(st corev1.PodStatus, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func TestDesiredStatusRunningAndReady(t *testing.T) {
	n := Nodes(testCluster(0))[0]
	p := pod(nil)
	now := metav1.NewTime(time.Unix(1000, 0))
	st := DesiredStatus(p, n, "10.64.0.2", now)
	if st.Phase != corev1.PodRunning || st.PodIP != "10.64.0.2" || st.HostIP != n.IP || st.StartTime == nil {
		t.Fatalf("status %+v", st)
	}
	if st.QOSClass != corev1.PodQOSBurstable {
		t.Error("qosClass not kept")
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if condition(st, ct) != corev1.ConditionTrue {
			t.Errorf("%s = %q", ct, condition(st, ct))
		}
	}
	cs := st.ContainerStatuses[0]
	if !cs.Ready || cs.Started == nil || !*cs.Started || cs.RestartCount != 0 || cs.State.Running == nil || cs.ContainerID == "" {
		t.Errorf("container status %+v", cs)
	}
	// Applying it again changes nothing (no needless writes).
	p.Status = st
	again := DesiredStatus(p, n, "10.64.0.2", metav1.NewTime(time.Unix(5000, 0)))
	if !equality.Semantic.DeepEqual(st, again) {
		t.Errorf("second DesiredStatus differs:\n%+v\n%+v", st, again)
	}
}

func TestDesiredStatusFailingReadiness(t *testing.T) {
	n := Nodes(testCluster(0))[0]
	p := pod(map[string]string{ReadinessAnnotation: ReadinessFail})
	st := DesiredStatus(p, n, "10.64.0.3", metav1.Now())
	if st.Phase != corev1.PodRunning || condition(st, corev1.PodReady) != corev1.ConditionFalse ||
		condition(st, corev1.ContainersReady) != corev1.ConditionFalse || st.ContainerStatuses[0].Ready {
		t.Fatalf("status %+v", st)
	}
	if !*st.ContainerStatuses[0].Started {
		t.Error("a failing-readiness container is still started")
	}
}

func TestUnhealthyEvent(t *testing.T) {
	p := pod(map[string]string{ReadinessAnnotation: ReadinessFail})
	ev := UnhealthyEvent(p, "c0-node-a1", time.Unix(1000, 0))
	if ev.Reason != "Unhealthy" || ev.Type != corev1.EventTypeWarning || ev.Source.Component != "kubelet" ||
		ev.Source.Host != "c0-node-a1" || ev.Count != 1 || !strings.HasPrefix(ev.Message, "Readiness probe failed: ") {
		t.Fatalf("event %+v", ev)
	}
	if ev.InvolvedObject.Kind != "Pod" || ev.InvolvedObject.UID != "u1" || ev.InvolvedObject.FieldPath != "spec.containers{app}" {
		t.Errorf("involved object %+v", ev.InvolvedObject)
	}
	if ProbePeriod(p) != 7*time.Second {
		t.Errorf("probe period %v", ProbePeriod(p))
	}
}

func TestIPAM(t *testing.T) {
	nodes := Nodes(testCluster(1))
	m := newIPAM(nodes)
	if !m.Claim("10.65.0.2", "ns/a") {
		t.Fatal("claim failed")
	}
	if m.Claim("10.65.0.2", "ns/b") {
		t.Fatal("an IP was claimed twice")
	}
	ip, err := m.Allocate(nodes[0].Name, "ns/b")
	if err != nil || ip != "10.65.0.3" {
		t.Fatalf("Allocate = %s, %v", ip, err)
	}
	if again, _ := m.Allocate(nodes[0].Name, "ns/b"); again != ip {
		t.Errorf("second Allocate for the same pod gave %s", again)
	}
	seen := map[string]bool{"10.65.0.2": true, ip: true}
	for i := 0; i < 251; i++ {
		ip, err := m.Allocate(nodes[0].Name, fmt.Sprint("ns/p", i))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if seen[ip] {
			t.Fatalf("duplicate %s", ip)
		}
		seen[ip] = true
	}
	if _, err := m.Allocate(nodes[0].Name, "ns/full"); err == nil {
		t.Fatal("allocated from a full /24")
	}
	m.Release("ns/a")
	if ip, err := m.Allocate(nodes[0].Name, "ns/full"); err != nil || ip != "10.65.0.2" {
		t.Fatalf("after release: %s, %v", ip, err)
	}
	if _, err := m.Allocate("nope", "x"); err == nil {
		t.Fatal("allocated on an unknown node")
	}
}
