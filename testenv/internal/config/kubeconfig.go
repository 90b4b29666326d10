package config

import (
	"fmt"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// RenderAdminKubeconfig renders a kubeconfig with one context per cluster,
// named like the cluster, using the admin identity (O=system:masters). The
// current context is the first cluster. Certificates are embedded, so the
// file works when copied elsewhere.
func RenderAdminKubeconfig(clusters []Cluster) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	for _, c := range clusters {
		ca, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig for %s: %w", c.Name, err)
		}
		cert, err := os.ReadFile(c.Admin.CertFile)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig for %s: %w", c.Name, err)
		}
		key, err := os.ReadFile(c.Admin.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig for %s: %w", c.Name, err)
		}
		cl := clientcmdapi.NewCluster()
		cl.Server = c.APIURL
		cl.CertificateAuthorityData = ca
		cfg.Clusters[c.Name] = cl
		ai := clientcmdapi.NewAuthInfo()
		ai.ClientCertificateData = cert
		ai.ClientKeyData = key
		user := "admin@" + c.Name
		cfg.AuthInfos[user] = ai
		ctx := clientcmdapi.NewContext()
		ctx.Cluster = c.Name
		ctx.AuthInfo = user
		cfg.Contexts[c.Name] = ctx
		if cfg.CurrentContext == "" {
			cfg.CurrentContext = c.Name
		}
	}
	return clientcmd.Write(*cfg)
}
