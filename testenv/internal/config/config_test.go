package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"fleetpane/testenv/internal/pki"
)

func testFleet(t *testing.T) Fleet {
	t.Helper()
	dir := t.TempDir()
	f := Fleet{StateDir: dir, FleetpaneListen: "127.0.0.1:3000", FleetpaneURL: "http://127.0.0.1:3000"}
	for i, name := range []string{"prod-eu", "prod-us"} {
		files, err := pki.Ensure(filepath.Join(dir, name, "pki"), name, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		f.Clusters = append(f.Clusters, Cluster{
			Name: name, APIURL: "https://127.0.0.1:1644" + string(rune('3'+i)), CAFile: files.CACert,
			Admin:         CertPair{files.AdminCert, files.AdminKey},
			Fleetpane:     CertPair{files.FleetpaneCert, files.FleetpaneKey},
			PrometheusURL: "http://127.0.0.1:1909" + string(rune('0'+i)),
			Zones:         []string{"zone-a", "zone-b"}, Region: "eu-west", Nodes: []string{"n1"},
		})
	}
	f.IdP = IdP{Name: "local", DisplayName: "Local IdP", Issuer: "http://127.0.0.1:15556", ClientID: "fleetpane",
		ClientSecretFile: filepath.Join(dir, "idp", "client-secret"),
		Users:            []User{{Email: "alice@example.com", Password: "alice-password", Groups: []string{"sre"}}, {Email: "carol@example.com", Password: "carol-password"}}}
	return f
}

func TestFleetpaneTOMLUsesRelativePaths(t *testing.T) {
	f := testFleet(t)
	b, err := RenderFleetpaneTOML(f)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"[server]\nlisten = \"127.0.0.1:3000\"\npublic_url = \"http://127.0.0.1:3000\"\n",
		"[session]\nstore = \"sqlite\"\nsqlite_path = \"fleetpane/sessions.db\"\ncookie_secure = false\n",
		"[[providers]]\nname = \"local\"\ndisplay_name = \"Local IdP\"\nissuer = \"http://127.0.0.1:15556\"\nclient_id = \"fleetpane\"\nclient_secret_file = \"idp/client-secret\"\nscopes = [\"email\", \"profile\", \"groups\"]\n[providers.groups]\nclaim = \"groups\"\n",
		"[[clusters]]\nname = \"prod-eu\"\napi_url = \"https://127.0.0.1:16443\"\nca_file = \"prod-eu/pki/ca.crt\"\ncluster_domain = \"cluster.local\"\n[clusters.credentials]\nclient_cert_file = \"prod-eu/pki/fleetpane.crt\"\nclient_key_file = \"prod-eu/pki/fleetpane.key\"\n[clusters.prometheus]\nurl = \"http://127.0.0.1:19090\"\n[clusters.impersonation]\nsystem_names = \"drop\"\nallowed_groups = [\"sre\", \"team-a\", \"team-b\", \"viewers\"]\n",
		"name = \"prod-us\"",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("fleetpane.toml lacks\n%s\n--- got ---\n%s", want, s)
		}
	}
}

func TestTOMLStringEscapes(t *testing.T) {
	if got := tomlString("a\"b\\c\nd\x01"); got != `"a\"b\\c\nd\u0001"` {
		t.Fatalf("tomlString = %s", got)
	}
}

func TestFleetJSONFollowsTheContract(t *testing.T) {
	f := testFleet(t)
	b, err := RenderFleetJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Clusters []struct {
			Name  string `json:"name"`
			API   string `json:"api_url"`
			CA    string `json:"ca_file"`
			Admin struct {
				Cert string `json:"client_cert_file"`
				Key  string `json:"client_key_file"`
			} `json:"admin"`
			Fleetpane struct {
				Cert string `json:"client_cert_file"`
			} `json:"fleetpane"`
			Prom  string   `json:"prometheus_url"`
			Zones []string `json:"zones"`
		} `json:"clusters"`
		IdP struct {
			Issuer, ClientID, SecretFile string
			Users                        []struct {
				Email    string   `json:"email"`
				Password string   `json:"password"`
				Groups   []string `json:"groups"`
			} `json:"users"`
		} `json:"idp"`
		FleetpaneURL string `json:"fleetpane_url"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	c := got.Clusters[0]
	if c.API != "https://127.0.0.1:16443" || !filepath.IsAbs(c.CA) || !filepath.IsAbs(c.Admin.Cert) ||
		!filepath.IsAbs(c.Admin.Key) || !filepath.IsAbs(c.Fleetpane.Cert) || c.Prom != "http://127.0.0.1:19090" || len(c.Zones) != 2 {
		t.Errorf("cluster 0 = %+v", c)
	}
	if got.FleetpaneURL != "http://127.0.0.1:3000" || len(got.IdP.Users) != 2 {
		t.Errorf("fleet.json = %s", b)
	}
	// carol has no groups: an empty list, not null.
	if !strings.Contains(string(b), `"groups": []`) {
		t.Errorf("a user without groups must have \"groups\": []:\n%s", b)
	}
	for _, k := range []string{`"issuer"`, `"client_id"`, `"client_secret_file"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("fleet.json lacks %s", k)
		}
	}
}

func TestAdminKubeconfigHasOneContextPerCluster(t *testing.T) {
	f := testFleet(t)
	if err := WriteAll(f); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.LoadFromFile(filepath.Join(f.StateDir, "admin.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Contexts) != 2 || cfg.CurrentContext != "prod-eu" {
		t.Fatalf("contexts %v current %q", cfg.Contexts, cfg.CurrentContext)
	}
	for _, name := range []string{"prod-eu", "prod-us"} {
		ctx := cfg.Contexts[name]
		if ctx == nil || cfg.Clusters[ctx.Cluster] == nil || cfg.AuthInfos[ctx.AuthInfo] == nil {
			t.Fatalf("context %s incomplete", name)
		}
		if len(cfg.AuthInfos[ctx.AuthInfo].ClientCertificateData) == 0 || len(cfg.Clusters[ctx.Cluster].CertificateAuthorityData) == 0 {
			t.Errorf("context %s lacks embedded certificates", name)
		}
	}
	st, _ := os.Stat(filepath.Join(f.StateDir, "admin.kubeconfig"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("admin.kubeconfig mode %v", st.Mode().Perm())
	}
	for _, n := range []string{"fleetpane.toml", "fleet.json"} {
		if _, err := os.Stat(filepath.Join(f.StateDir, n)); err != nil {
			t.Error(err)
		}
	}
}
