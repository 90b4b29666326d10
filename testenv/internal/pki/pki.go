// Package pki makes the certificates of one local cluster with Go's crypto
// (no openssl): a CA, the kube-apiserver serving certificate for
// 127.0.0.1/localhost, client certificates for the admin (O=system:masters)
// and Fleetpane identities, the metrics-server's serving and client
// certificates, and the service-account signing key pair. The node agent
// mints the simulated kubelets' serving certificates with the same CA
// (KubeletServing).
//
// Ensure is idempotent: files that exist and are still valid are kept, so a
// second `testenv up` does not invalidate kubeconfigs handed out before.
// Keys are ECDSA P-256 in PEM ("EC PRIVATE KEY"), mode 0600.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Validity of what Ensure issues, and how early before expiry it renews.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour
	RenewBefore  = 7 * 24 * time.Hour
)

// Files are the absolute paths of one cluster's PKI.
type Files struct {
	Dir           string
	CACert        string
	CAKey         string
	ServingCert   string
	ServingKey    string
	AdminCert     string
	AdminKey      string
	FleetpaneCert string
	FleetpaneKey  string
	SAKey         string // service-account signing key (private)
	SAPub         string // service-account verification key (public)
	// The front-proxy CA signs the client certificate the apiserver's
	// aggregator presents; other components read it from the
	// extension-apiserver-authentication ConfigMap.
	FrontProxyCACert     string
	FrontProxyCAKey      string
	FrontProxyClientCert string
	FrontProxyClientKey  string
	// metrics-server: its serving certificate (the aggregator verifies it
	// against the APIService's caBundle, the cluster CA) and its client
	// certificate (CN=system:metrics-server), for the apiserver and the
	// kubelets.
	MetricsServerCert       string
	MetricsServerKey        string
	MetricsServerClientCert string
	MetricsServerClientKey  string
}

// PathsIn returns the file names of a PKI directory.
func PathsIn(dir string) Files {
	j := func(n string) string { return filepath.Join(dir, n) }
	return Files{
		Dir: dir, CACert: j("ca.crt"), CAKey: j("ca.key"),
		ServingCert: j("apiserver.crt"), ServingKey: j("apiserver.key"),
		AdminCert: j("admin.crt"), AdminKey: j("admin.key"),
		FleetpaneCert: j("fleetpane.crt"), FleetpaneKey: j("fleetpane.key"),
		SAKey: j("sa.key"), SAPub: j("sa.pub"),
		FrontProxyCACert: j("front-proxy-ca.crt"), FrontProxyCAKey: j("front-proxy-ca.key"),
		FrontProxyClientCert: j("front-proxy-client.crt"), FrontProxyClientKey: j("front-proxy-client.key"),
		MetricsServerCert: j("metrics-server.crt"), MetricsServerKey: j("metrics-server.key"),
		MetricsServerClientCert: j("metrics-server-client.crt"), MetricsServerClientKey: j("metrics-server-client.key"),
	}
}

// MetricsServerHosts are the names the metrics-server certificate is valid
// for: the aggregator checks <service>.<namespace>.svc of the APIService.
var MetricsServerHosts = []string{
	"metrics-server.kube-system.svc", "metrics-server.kube-system.svc.cluster.local", "localhost", "127.0.0.1",
}

// MetricsServerUser is the metrics-server's user name (its client
// certificate's CN), which the RBAC of internal/rbac binds.
const MetricsServerUser = "system:metrics-server"

// ServingHosts are the names and IPs the apiserver certificate is valid for.
var ServingHosts = []string{
	"127.0.0.1", "localhost", "::1",
	"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
	"10.96.0.1",
}

// Ensure creates or completes the PKI of cluster in dir.
func Ensure(dir, cluster string, now time.Time) (Files, error) {
	f := PathsIn(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return f, err
	}
	ca, caKey, err := ensureCA(f.CACert, f.CAKey, "testenv "+cluster+" CA", now,
		f.ServingCert, f.AdminCert, f.FleetpaneCert, f.MetricsServerCert, f.MetricsServerClientCert)
	if err != nil {
		return f, err
	}
	fpCA, fpKey, err := ensureCA(f.FrontProxyCACert, f.FrontProxyCAKey, "testenv "+cluster+" front-proxy CA", now,
		f.FrontProxyClientCert)
	if err != nil {
		return f, err
	}
	if !leafValid(f.FrontProxyClientCert, f.FrontProxyClientKey, fpCA, now) {
		if err := issue(f.FrontProxyClientCert, f.FrontProxyClientKey, clientTemplate("front-proxy-client"), fpCA, fpKey, now); err != nil {
			return f, err
		}
	}
	leaves := []struct {
		cert, key string
		tmpl      x509.Certificate
	}{
		{f.ServingCert, f.ServingKey, servingTemplate("kube-apiserver", cluster, ServingHosts)},
		{f.AdminCert, f.AdminKey, clientTemplate("admin", "system:masters")},
		{f.FleetpaneCert, f.FleetpaneKey, clientTemplate("fleetpane")},
		{f.MetricsServerCert, f.MetricsServerKey, servingTemplate("metrics-server", cluster, MetricsServerHosts)},
		{f.MetricsServerClientCert, f.MetricsServerClientKey, clientTemplate(MetricsServerUser)},
	}
	for _, l := range leaves {
		if leafValid(l.cert, l.key, ca, now) {
			continue
		}
		if err := issue(l.cert, l.key, l.tmpl, ca, caKey, now); err != nil {
			return f, err
		}
	}
	if err := ensureSAKeys(f); err != nil {
		return f, err
	}
	return f, nil
}

func servingTemplate(cn, cluster string, hosts []string) x509.Certificate {
	t := x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"testenv " + cluster}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			t.IPAddresses = append(t.IPAddresses, ip)
		} else {
			t.DNSNames = append(t.DNSNames, h)
		}
	}
	return t
}

// KubeletServing issues, in memory, the serving certificate of a simulated
// kubelet (CN=system:node:<node>, for the node's name and IP), signed by the
// cluster CA in caCert/caKey, as a kubelet's server certificate is.
func KubeletServing(caCert, caKey, node string, ip net.IP, now time.Time) (tls.Certificate, error) {
	ca, err := LoadCert(caCert)
	if err != nil {
		return tls.Certificate{}, err
	}
	signer, err := LoadKey(caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
		DNSNames:     []string{node},
		IPAddresses:  []net.IP{ip},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(LeafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, key.Public(), signer)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("kubelet certificate of %s: %w", node, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func clientTemplate(cn string, orgs ...string) x509.Certificate {
	return x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: orgs},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// ensureCA loads or creates a CA; creating one removes the leaves it
// signed before.
func ensureCA(certPath, keyPath, cn string, now time.Time, leaves ...string) (*x509.Certificate, crypto.Signer, error) {
	cert, certErr := LoadCert(certPath)
	key, keyErr := LoadKey(keyPath)
	if certErr == nil && keyErr == nil && now.Add(RenewBefore).Before(cert.NotAfter) && samePublicKey(cert, key) {
		return cert, key, nil
	}
	newKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	key = newKey
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", cn, err)
	}
	if err := writeKey(keyPath, newKey); err != nil {
		return nil, nil, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	// A new CA invalidates every leaf signed by the old one.
	for _, p := range leaves {
		_ = os.Remove(p)
	}
	cert, err = x509.ParseCertificate(der)
	return cert, key, err
}

func issue(certPath, keyPath string, tmpl x509.Certificate, ca *x509.Certificate, caKey crypto.Signer, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(LeafValidity)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("issue %s: %w", certPath, err)
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	return writePEM(certPath, "CERTIFICATE", der, 0o644)
}

// leafValid reports whether the certificate and key exist, match, chain to
// ca and stay valid for longer than RenewBefore.
func leafValid(certPath, keyPath string, ca *x509.Certificate, now time.Time) bool {
	cert, err := LoadCert(certPath)
	if err != nil {
		return false
	}
	key, err := LoadKey(keyPath)
	if err != nil || !samePublicKey(cert, key) {
		return false
	}
	if cert.CheckSignatureFrom(ca) != nil {
		return false
	}
	return now.Add(RenewBefore).Before(cert.NotAfter)
}

func ensureSAKeys(f Files) error {
	if key, err := LoadKey(f.SAKey); err == nil {
		if pub, err := os.ReadFile(f.SAPub); err == nil && len(pub) > 0 {
			return nil
		}
		return writePublicKey(f.SAPub, key.Public())
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	if err := writeKey(f.SAKey, key); err != nil {
		return err
	}
	return writePublicKey(f.SAPub, key.Public())
}

func writePublicKey(path string, pub crypto.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	return writePEM(path, "PUBLIC KEY", der, 0o644)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

// LoadCert reads the first certificate of a PEM file.
func LoadCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no certificate", path)
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

// LoadKey reads an EC, PKCS#8 or RSA private key from a PEM file.
func LoadKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	switch blk.Type {
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%s: unsupported key type %q", path, blk.Type)
}

func samePublicKey(cert *x509.Certificate, key crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := cert.PublicKey.(equaler)
	return ok && pub.Equal(key.Public())
}
