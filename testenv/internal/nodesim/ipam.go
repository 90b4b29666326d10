package nodesim

import (
	"fmt"
	"strings"
	"sync"
)

// ipam hands out pod IPs per node from the node's /24 (.2 to .254), never
// one that a pod of the cluster already has.
type ipam struct {
	mu    sync.Mutex
	used  map[string]string // IP -> pod key
	nodes map[string]NodeSpec
	next  map[string]int // node -> next host octet to try
}

func newIPAM(nodes []NodeSpec) *ipam {
	m := &ipam{used: map[string]string{}, nodes: map[string]NodeSpec{}, next: map[string]int{}}
	for _, n := range nodes {
		m.nodes[n.Name] = n
	}
	return m
}

// Claim records that pod key holds ip (an IP found in a pod's status). It
// returns false if another pod already holds it.
func (m *ipam) Claim(ip, key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if owner, ok := m.used[ip]; ok && owner != key {
		return false
	}
	m.used[ip] = key
	return true
}

// Allocate gives pod key a free IP on node.
func (m *ipam) Allocate(node, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.nodes[node]
	if !ok {
		return "", fmt.Errorf("unknown node %s", node)
	}
	for ip, owner := range m.used {
		if owner == key && strings.HasPrefix(ip, n.podNet+".") {
			return ip, nil
		}
	}
	start := m.next[node]
	if start < 2 {
		start = 2
	}
	for i := 0; i < 253; i++ {
		o := 2 + (start-2+i)%253
		ip := fmt.Sprintf("%s.%d", n.podNet, o)
		if _, taken := m.used[ip]; !taken {
			m.used[ip] = key
			m.next[node] = o + 1
			return ip, nil
		}
	}
	return "", fmt.Errorf("node %s has no free pod IP in %s", node, n.PodCIDR)
}

// Release frees every IP held by pod key.
func (m *ipam) Release(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for ip, owner := range m.used {
		if owner == key {
			delete(m.used, ip)
		}
	}
}
