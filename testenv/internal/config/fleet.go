// Package config writes the files `testenv up` hands to Fleetpane and to
// tests: fleetpane.toml, admin.kubeconfig and fleet.json (see the contract in
// notes/contract.md). It only renders and writes; it starts nothing.
package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Fleet is everything the output files describe.
type Fleet struct {
	// StateDir is the absolute state directory; fleetpane.toml paths are
	// written relative to it.
	StateDir string
	Clusters []Cluster
	IdP      IdP
	// FleetpaneListen is Fleetpane's socket address, e.g. 127.0.0.1:3000.
	FleetpaneListen string
	// FleetpaneURL is how browsers reach Fleetpane, e.g. http://127.0.0.1:3000.
	FleetpaneURL string
}

// Cluster is one cluster of the fleet. File paths are absolute.
type Cluster struct {
	Name          string
	APIURL        string
	CAFile        string
	Admin         CertPair
	Fleetpane     CertPair
	PrometheusURL string // "" when the cluster has no Prometheus
	Zones         []string
	Region        string
	Nodes         []string
}

// CertPair is a client certificate and its key.
type CertPair struct {
	CertFile string `json:"client_cert_file"`
	KeyFile  string `json:"client_key_file"`
}

// IdP is the local OpenID provider.
type IdP struct {
	Name             string // provider name in fleetpane.toml, e.g. "local"
	DisplayName      string
	Issuer           string
	ClientID         string
	ClientSecretFile string // absolute
	Users            []User
}

// User is a demo account of the IdP.
type User struct {
	Email    string   `json:"email"`
	Password string   `json:"password"`
	Groups   []string `json:"groups"`
}

type fleetJSON struct {
	Clusters        []clusterJSON `json:"clusters"`
	IdP             idpJSON       `json:"idp"`
	FleetpaneURL    string        `json:"fleetpane_url"`
	StateDir        string        `json:"state_dir"`
	AdminKubeconfig string        `json:"admin_kubeconfig"`
	FleetpaneConfig string        `json:"fleetpane_config"`
}

type clusterJSON struct {
	Name          string   `json:"name"`
	APIURL        string   `json:"api_url"`
	CAFile        string   `json:"ca_file"`
	Admin         CertPair `json:"admin"`
	Fleetpane     CertPair `json:"fleetpane"`
	PrometheusURL string   `json:"prometheus_url,omitempty"`
	Zones         []string `json:"zones"`
	Region        string   `json:"region"`
	Nodes         []string `json:"nodes"`
}

type idpJSON struct {
	Issuer           string `json:"issuer"`
	ClientID         string `json:"client_id"`
	ClientSecretFile string `json:"client_secret_file"`
	Users            []User `json:"users"`
}

// RenderFleetJSON renders fleet.json.
func RenderFleetJSON(f Fleet) ([]byte, error) {
	out := fleetJSON{
		FleetpaneURL:    f.FleetpaneURL,
		StateDir:        f.StateDir,
		AdminKubeconfig: filepath.Join(f.StateDir, "admin.kubeconfig"),
		FleetpaneConfig: filepath.Join(f.StateDir, "fleetpane.toml"),
		IdP: idpJSON{
			Issuer: f.IdP.Issuer, ClientID: f.IdP.ClientID,
			ClientSecretFile: f.IdP.ClientSecretFile, Users: f.IdP.Users,
		},
		Clusters: []clusterJSON{},
	}
	if out.IdP.Users == nil {
		out.IdP.Users = []User{}
	}
	for i := range out.IdP.Users {
		if out.IdP.Users[i].Groups == nil {
			out.IdP.Users[i].Groups = []string{}
		}
	}
	for _, c := range f.Clusters {
		out.Clusters = append(out.Clusters, clusterJSON{
			Name: c.Name, APIURL: c.APIURL, CAFile: c.CAFile, Admin: c.Admin, Fleetpane: c.Fleetpane,
			PrometheusURL: c.PrometheusURL, Zones: c.Zones, Region: c.Region, Nodes: c.Nodes,
		})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteAll writes fleetpane.toml, admin.kubeconfig and fleet.json into
// f.StateDir.
func WriteAll(f Fleet) error {
	if !filepath.IsAbs(f.StateDir) {
		return fmt.Errorf("config: state dir %q is not absolute", f.StateDir)
	}
	toml, err := RenderFleetpaneTOML(f)
	if err != nil {
		return err
	}
	kc, err := RenderAdminKubeconfig(f.Clusters)
	if err != nil {
		return err
	}
	fj, err := RenderFleetJSON(f)
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"fleetpane.toml": toml, "admin.kubeconfig": kc, "fleet.json": fj} {
		mode := os.FileMode(0o644)
		if name == "admin.kubeconfig" {
			mode = 0o600
		}
		if err := WriteFileAtomic(filepath.Join(f.StateDir, name), data, mode); err != nil {
			return err
		}
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file and rename.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
