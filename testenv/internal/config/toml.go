package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"fleetpane/testenv/internal/rbac"
)

// RenderFleetpaneTOML renders Fleetpane's config for the fleet. File paths
// are made relative to f.StateDir (the config file's directory) when they lie
// inside it, as the contract's example does.
func RenderFleetpaneTOML(f Fleet) ([]byte, error) {
	var b strings.Builder
	rel := func(p string) string {
		if r, err := filepath.Rel(f.StateDir, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	kv := func(k, v string) { fmt.Fprintf(&b, "%s = %s\n", k, tomlString(v)) }

	b.WriteString("# Written by `testenv up`; regenerated on every run.\n\n")
	b.WriteString("[server]\n")
	kv("listen", f.FleetpaneListen)
	kv("public_url", f.FleetpaneURL)

	// Sessions in SQLite under the state dir, so they survive a Fleetpane
	// restart. The fleet serves Fleetpane over plain http on loopback, where
	// the cookie cannot be Secure (Fleetpane allows that only there).
	b.WriteString("\n[session]\n")
	kv("store", "sqlite")
	kv("sqlite_path", "fleetpane/sessions.db")
	if strings.HasPrefix(f.FleetpaneURL, "http://") {
		b.WriteString("cookie_secure = false\n")
	}

	if f.IdP.Issuer != "" {
		b.WriteString("\n[[providers]]\n")
		kv("name", f.IdP.Name)
		kv("display_name", f.IdP.DisplayName)
		kv("issuer", f.IdP.Issuer)
		kv("client_id", f.IdP.ClientID)
		kv("client_secret_file", rel(f.IdP.ClientSecretFile))
		b.WriteString("scopes = [\"email\", \"profile\", \"groups\"]\n")
		b.WriteString("[providers.groups]\n")
		kv("claim", "groups")
	}
	for _, c := range f.Clusters {
		if c.Name == "" || c.APIURL == "" || c.CAFile == "" || c.Fleetpane.CertFile == "" || c.Fleetpane.KeyFile == "" {
			return nil, fmt.Errorf("config: cluster %q is incomplete", c.Name)
		}
		b.WriteString("\n[[clusters]]\n")
		kv("name", c.Name)
		kv("api_url", c.APIURL)
		kv("ca_file", rel(c.CAFile))
		kv("cluster_domain", "cluster.local")
		b.WriteString("[clusters.credentials]\n")
		kv("client_cert_file", rel(c.Fleetpane.CertFile))
		kv("client_key_file", rel(c.Fleetpane.KeyFile))
		if c.PrometheusURL != "" {
			b.WriteString("[clusters.prometheus]\n")
			kv("url", c.PrometheusURL)
		}
		// Mirrors the resourceNames of fleetpane:impersonator, so Fleetpane
		// sends only the groups the cluster lets it impersonate.
		b.WriteString("[clusters.impersonation]\nsystem_names = \"drop\"\nallowed_groups = [")
		for i, g := range rbac.ImpersonableGroups {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tomlString(g))
		}
		b.WriteString("]\n")
	}
	return []byte(b.String()), nil
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
