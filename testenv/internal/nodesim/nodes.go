package nodesim

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeSpec is one simulated node.
type NodeSpec struct {
	Name    string
	Zone    string
	Region  string
	IP      string // InternalIP, the pods' hostIP
	PodCIDR string // a /24; pod IPs are .2 to .254 of it
	// podNet is the first three octets of PodCIDR, e.g. "10.64.0".
	podNet string
}

// KubeletVersion is what the simulated nodes report.
const KubeletVersion = "v1.36.3"

// Nodes returns the nodes of a cluster: NodesPerZone per zone, named
// <cluster>-node-<zone letter><n> (prod-eu-node-a1), with pod CIDRs that are
// unique across the fleet: 10.<64+cluster index>.<node index>.0/24.
func Nodes(c ClusterConfig) []NodeSpec {
	per := c.NodesPerZone
	if per <= 0 {
		per = 2
	}
	var out []NodeSpec
	for zi, zone := range c.Zones {
		letter := string(rune('a' + zi))
		if len(zone) > 0 && zone[len(zone)-2] == '-' {
			letter = zone[len(zone)-1:]
		}
		for n := 1; n <= per; n++ {
			i := len(out)
			net := fmt.Sprintf("10.%d.%d", 64+c.Index, i)
			out = append(out, NodeSpec{
				Name:    fmt.Sprintf("%s-node-%s%d", c.Name, letter, n),
				Zone:    zone,
				Region:  c.Region,
				IP:      fmt.Sprintf("10.250.%d.%d", c.Index, 10+i),
				PodCIDR: net + ".0/24",
				podNet:  net,
			})
		}
	}
	return out
}

// NodeObject is the Node as created (spec and metadata).
func NodeObject(n NodeSpec) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.Name,
			Labels: map[string]string{
				"kubernetes.io/hostname":           n.Name,
				"kubernetes.io/os":                 "linux",
				"kubernetes.io/arch":               "amd64",
				"topology.kubernetes.io/zone":      n.Zone,
				"topology.kubernetes.io/region":    n.Region,
				"node.kubernetes.io/instance-type": "sim.large",
				"testenv.fleetpane/simulated":      "true",
			},
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"},
		},
		Spec: corev1.NodeSpec{
			PodCIDR:    n.PodCIDR,
			PodCIDRs:   []string{n.PodCIDR},
			ProviderID: "testenv://" + n.Name,
		},
	}
}

var capacity = corev1.ResourceList{
	corev1.ResourceCPU:              resource.MustParse("8"),
	corev1.ResourceMemory:           resource.MustParse("32Gi"),
	corev1.ResourcePods:             resource.MustParse("110"),
	corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
}

var allocatable = corev1.ResourceList{
	corev1.ResourceCPU:              resource.MustParse("7800m"),
	corev1.ResourceMemory:           resource.MustParse("31Gi"),
	corev1.ResourcePods:             resource.MustParse("110"),
	corev1.ResourceEphemeralStorage: resource.MustParse("95Gi"),
}

// NodeStatus is the status a healthy kubelet reports. Condition transition
// times are kept from old when the condition did not change.
func NodeStatus(n NodeSpec, old corev1.NodeStatus, now metav1.Time) corev1.NodeStatus {
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
		for _, o := range old.Conditions {
			if o.Type == t && o.Status == s {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	st := old
	st.Capacity = capacity.DeepCopy()
	st.Allocatable = allocatable.DeepCopy()
	st.Phase = ""
	st.Conditions = []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status (simulated by testenv)"),
	}
	st.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: n.IP},
		{Type: corev1.NodeHostName, Address: n.Name},
	}
	st.DaemonEndpoints = corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}}
	st.NodeInfo = corev1.NodeSystemInfo{
		MachineID:               n.Name,
		SystemUUID:              n.Name,
		BootID:                  "testenv-" + n.Name,
		KernelVersion:           "6.1.0-testenv",
		OSImage:                 "testenv simulated node",
		ContainerRuntimeVersion: "sim://1.0.0",
		KubeletVersion:          KubeletVersion,
		OperatingSystem:         "linux",
		Architecture:            "amd64",
	}
	return st
}

// withoutStartupTaints drops the taints the apiserver puts on new nodes
// (node.kubernetes.io/not-ready, unreachable), which the node lifecycle
// controller would remove once the node is Ready; testenv does not run it.
func withoutStartupTaints(taints []corev1.Taint) ([]corev1.Taint, bool) {
	var out []corev1.Taint
	changed := false
	for _, t := range taints {
		if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
			changed = true
			continue
		}
		out = append(out, t)
	}
	return out, changed
}
