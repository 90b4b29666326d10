package pki

import (
	"crypto/x509"
	"net"
	"os"
	"testing"
	"time"
)

func TestEnsureIssuesWhatTheContractNames(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f, err := Ensure(dir, "prod-eu", now)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadCert(f.CACert)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA {
		t.Fatal("CA certificate is not a CA")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	serving, _ := LoadCert(f.ServingCert)
	if _, err := serving.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Errorf("serving cert for localhost: %v", err)
	}
	if err := serving.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("serving cert for 127.0.0.1: %v", err)
	}
	if !containsIP(serving.IPAddresses, "127.0.0.1") {
		t.Errorf("serving cert IPs %v", serving.IPAddresses)
	}

	check := func(path, cn string, orgs ...string) {
		t.Helper()
		c, err := LoadCert(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s: %v", cn, err)
		}
		if c.Subject.CommonName != cn || len(c.Subject.Organization) != len(orgs) {
			t.Errorf("%s: subject %v, want CN=%s O=%v", path, c.Subject, cn, orgs)
		}
		for i, o := range orgs {
			if c.Subject.Organization[i] != o {
				t.Errorf("%s: O=%v, want %v", path, c.Subject.Organization, orgs)
			}
		}
	}
	check(f.AdminCert, "admin", "system:masters")
	check(f.FleetpaneCert, "fleetpane")
	check(f.MetricsServerClientCert, MetricsServerUser)

	// The aggregator dials the metrics-server as <service>.<namespace>.svc.
	ms, err := LoadCert(f.MetricsServerCert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ms.Verify(x509.VerifyOptions{Roots: pool, DNSName: "metrics-server.kube-system.svc"}); err != nil {
		t.Errorf("metrics-server serving cert: %v", err)
	}

	for _, k := range []string{f.CAKey, f.AdminKey, f.FleetpaneKey, f.ServingKey, f.SAKey, f.MetricsServerKey, f.MetricsServerClientKey} {
		st, err := os.Stat(k)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", k, st.Mode().Perm())
		}
	}
	if _, err := LoadKey(f.SAKey); err != nil {
		t.Errorf("sa key: %v", err)
	}
	if b, err := os.ReadFile(f.SAPub); err != nil || len(b) == 0 {
		t.Errorf("sa pub: %v", err)
	}
	fp, _ := LoadCert(f.FrontProxyClientCert)
	if fp == nil || fp.Subject.CommonName != "front-proxy-client" {
		t.Errorf("front-proxy client cert: %v", fp)
	}
}

func TestEnsureIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f, err := Ensure(dir, "c", now)
	if err != nil {
		t.Fatal(err)
	}
	before := read(t, f.CACert, f.AdminCert, f.FleetpaneCert, f.SAKey)
	if _, err := Ensure(dir, "c", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	after := read(t, f.CACert, f.AdminCert, f.FleetpaneCert, f.SAKey)
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("file %d changed on a second Ensure", i)
		}
	}
}

func TestEnsureRenewsMissingAndExpiringLeaves(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f, err := Ensure(dir, "c", now)
	if err != nil {
		t.Fatal(err)
	}
	ca := read(t, f.CACert)[0]
	admin := read(t, f.AdminCert)[0]
	if err := os.Remove(f.FleetpaneKey); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(dir, "c", now); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(f.FleetpaneKey); err != nil {
		t.Fatalf("fleetpane key not recreated: %v", err)
	}
	if read(t, f.CACert)[0] != ca || read(t, f.AdminCert)[0] != admin {
		t.Error("CA or admin cert changed while only the fleetpane key was missing")
	}
	// Near the leaves' expiry they are renewed, the CA is kept.
	if _, err := Ensure(dir, "c", now.Add(LeafValidity-RenewBefore/2)); err != nil {
		t.Fatal(err)
	}
	if read(t, f.AdminCert)[0] == admin {
		t.Error("expiring admin cert was not renewed")
	}
	if read(t, f.CACert)[0] != ca {
		t.Error("CA changed")
	}
}

func TestNewCAReissuesLeaves(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	f, err := Ensure(dir, "c", now)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(f.CAKey)
	if _, err := Ensure(dir, "c", now); err != nil {
		t.Fatal(err)
	}
	ca, _ := LoadCert(f.CACert)
	admin, _ := LoadCert(f.AdminCert)
	if err := admin.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("admin cert not signed by the new CA: %v", err)
	}
}

func read(t *testing.T, paths ...string) []string {
	t.Helper()
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func containsIP(ips []net.IP, s string) bool {
	for _, ip := range ips {
		if ip.String() == s {
			return true
		}
	}
	return false
}

func TestKubeletServingChainsToTheClusterCA(t *testing.T) {
	f, err := Ensure(t.TempDir(), "prod-eu", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := KubeletServing(f.CACert, f.CAKey, "prod-eu-node-a1", net.ParseIP("10.250.0.10"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := LoadCert(f.CACert)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, host := range []string{"10.250.0.10", "prod-eu-node-a1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if leaf.Subject.CommonName != "system:node:prod-eu-node-a1" {
		t.Errorf("subject %v", leaf.Subject)
	}
}
