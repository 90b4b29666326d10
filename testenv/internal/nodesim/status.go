package nodesim

import (
	"crypto/sha256"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FailsReadiness reports whether the pod is annotated to fail readiness.
func FailsReadiness(pod *corev1.Pod) bool {
	return pod.Annotations[ReadinessAnnotation] == ReadinessFail
}

// DesiredStatus is the status a kubelet would report for pod once its
// containers run: phase Running, the given pod IP, the node's IP, and ready
// unless the pod fails readiness. Timestamps already in the status are kept
// so that a second call on its own result changes nothing.
func DesiredStatus(pod *corev1.Pod, node NodeSpec, podIP string, now metav1.Time) corev1.PodStatus {
	old := pod.Status
	st := *old.DeepCopy()
	ready := !FailsReadiness(pod)

	st.Phase = corev1.PodRunning
	st.Reason, st.Message = "", ""
	st.HostIP = node.IP
	st.HostIPs = []corev1.HostIP{{IP: node.IP}}
	if pod.Spec.HostNetwork {
		podIP = node.IP
	}
	st.PodIP = podIP
	st.PodIPs = []corev1.PodIP{{IP: podIP}}
	if st.StartTime == nil {
		st.StartTime = &now
	}
	started := *st.StartTime

	st.InitContainerStatuses = nil
	for _, c := range pod.Spec.InitContainers {
		st.InitContainerStatuses = append(st.InitContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(pod, c.Name),
			Ready: true, Started: ptr(false),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: started, ContainerID: containerID(pod, c.Name)}},
		})
	}
	prev := map[string]corev1.ContainerStatus{}
	for _, cs := range old.ContainerStatuses {
		prev[cs.Name] = cs
	}
	st.ContainerStatuses = nil
	var notReady []string
	for _, c := range pod.Spec.Containers {
		at := started
		if p, ok := prev[c.Name]; ok && p.State.Running != nil {
			at = p.State.Running.StartedAt
		}
		cs := corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: imageID(c.Image), ContainerID: containerID(pod, c.Name),
			Ready: ready, Started: ptr(true), RestartCount: 0,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at}},
		}
		if p, ok := prev[c.Name]; ok {
			cs.RestartCount = p.RestartCount
		}
		if !ready {
			notReady = append(notReady, c.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}

	readyStatus, reason, msg := corev1.ConditionTrue, "", ""
	if !ready {
		readyStatus, reason = corev1.ConditionFalse, "ContainersNotReady"
		msg = fmt.Sprintf("containers with unready status: %v", notReady)
	}
	set := func(t corev1.PodConditionType, s corev1.ConditionStatus, reason, msg string) {
		c := corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: now}
		for i, o := range st.Conditions {
			if o.Type == t {
				if o.Status == s {
					c.LastTransitionTime = o.LastTransitionTime
				}
				c.LastProbeTime = o.LastProbeTime
				st.Conditions[i] = c
				return
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	set(corev1.PodReadyToStartContainers, corev1.ConditionTrue, "", "")
	set(corev1.PodInitialized, corev1.ConditionTrue, "", "")
	set(corev1.PodReady, readyStatus, reason, msg)
	set(corev1.ContainersReady, readyStatus, reason, msg)
	set(corev1.PodScheduled, corev1.ConditionTrue, "", "")
	return st
}

func ptr[T any](v T) *T { return &v }

func imageID(image string) string {
	sum := sha256.Sum256([]byte(image))
	return fmt.Sprintf("%s@sha256:%x", image, sum)
}

func containerID(pod *corev1.Pod, name string) string {
	sum := sha256.Sum256([]byte(string(pod.UID) + "/" + name))
	return fmt.Sprintf("sim://%x", sum)
}
