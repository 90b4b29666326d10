// Package nodesim simulates the kubelets of the local fleet: a few Nodes per
// cluster that report Ready, and for every pod the scheduler binds to them a
// Running status with a pod IP, container statuses and conditions, as a
// kubelet would write it. It runs as `testenv agent`, one process serving
// every cluster, and keeps going while an apiserver is paused.
//
// Annotations understood on pods:
//
//	testenv.fleetpane/readiness: fail   Running but never Ready; the agent
//	    posts a Warning Event "Unhealthy" from source kubelet every probe
//	    period, bumping its count like the kubelet's event correlator.
//
// Pods with a deletionTimestamp are deleted for good (grace 0), as a kubelet
// does once the containers stopped.
package nodesim

import (
	"encoding/json"
	"fmt"
	"os"

	"fleetpane/testenv/internal/kube"
)

// Annotation and value that make a pod fail readiness.
const (
	ReadinessAnnotation = "testenv.fleetpane/readiness"
	ReadinessFail       = "fail"
)

// ReadinessFailMessage is the message of the Unhealthy events.
const ReadinessFailMessage = "Readiness probe failed: HTTP probe failed with statuscode: 503"

// Config is the agent's configuration (agent/config.json in the state dir).
type Config struct {
	Clusters []ClusterConfig `json:"clusters"`
	// KubeletListen is the loopback host:port of the CONNECT proxy to the
	// simulated kubelets (see kubelet.go); "" serves none.
	KubeletListen string `json:"kubelet_listen,omitempty"`
}

// ClusterConfig is one cluster the agent serves.
type ClusterConfig struct {
	Name   string   `json:"name"`
	Index  int      `json:"index"`
	Region string   `json:"region"`
	Zones  []string `json:"zones"`
	// NodesPerZone defaults to 2.
	NodesPerZone int         `json:"nodes_per_zone"`
	Target       kube.Target `json:"target"`
	// CAKeyFile is the key of the cluster CA (Target.CAFile), which signs
	// the simulated kubelets' serving certificates; "" serves no kubelet.
	CAKeyFile string `json:"ca_key_file,omitempty"`
}

// Load reads a Config file.
func Load(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Clusters) == 0 {
		return c, fmt.Errorf("%s: no clusters", path)
	}
	return c, nil
}

// Render renders c as the content of its file.
func (c Config) Render() ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
