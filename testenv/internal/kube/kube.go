// Package kube builds client-go clients for one local cluster and applies
// typed objects with server-side apply, so seeding is idempotent.
package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// APIServices (the aggregation layer's registrations) are applied like the
// built-in kinds.
func init() { utilruntime.Must(apiregistrationv1.AddToScheme(scheme.Scheme)) }

// FieldManager is the server-side apply field manager of testenv.
const FieldManager = "testenv"

// Target is how to reach one cluster with a client certificate.
type Target struct {
	Name     string // cluster name, for messages
	APIURL   string
	CAFile   string
	CertFile string
	KeyFile  string
}

// RESTConfig returns a client config for t.
func RESTConfig(t Target) *rest.Config {
	return &rest.Config{
		Host: t.APIURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
		},
		QPS:       100,
		Burst:     200,
		Timeout:   30 * time.Second,
		UserAgent: "testenv",
	}
}

// Clients are the clients of one cluster.
type Clients struct {
	Name    string
	Typed   kubernetes.Interface
	Dynamic dynamic.Interface
}

// NewClients builds typed and dynamic clients for t.
func NewClients(t Target) (*Clients, error) {
	cfg := RESTConfig(t)
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: client: %w", t.Name, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: client: %w", t.Name, err)
	}
	return &Clients{Name: t.Name, Typed: typed, Dynamic: dyn}, nil
}

// resources maps the kinds testenv applies to their resource names.
var resources = map[schema.GroupVersionKind]string{
	{Version: "v1", Kind: "Namespace"}:                                              "namespaces",
	{Version: "v1", Kind: "Service"}:                                                "services",
	{Version: "v1", Kind: "Node"}:                                                   "nodes",
	{Version: "v1", Kind: "ServiceAccount"}:                                         "serviceaccounts",
	{Version: "v1", Kind: "ConfigMap"}:                                              "configmaps",
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                              "deployments",
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:                             "statefulsets",
	{Group: "apps", Version: "v1", Kind: "DaemonSet"}:                               "daemonsets",
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}:          "horizontalpodautoscalers",
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}:                   "poddisruptionbudgets",
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}:                    "ingresses",
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}:              "networkpolicies",
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}:        "clusterroles",
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}: "clusterrolebindings",
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}:               "roles",
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}:        "rolebindings",
	{Group: "apiregistration.k8s.io", Version: "v1", Kind: "APIService"}:            "apiservices",
}

var clusterScoped = map[string]bool{"namespaces": true, "nodes": true, "clusterroles": true, "clusterrolebindings": true, "apiservices": true}

// Apply server-side-applies typed objects (from k8s.io/api) in order, as
// field manager "testenv" with force, so re-running it converges.
func (c *Clients) Apply(ctx context.Context, objs ...runtime.Object) error {
	for _, obj := range objs {
		if err := c.apply(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

func (c *Clients) apply(ctx context.Context, obj runtime.Object) error {
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return fmt.Errorf("%s: apply: unknown type %T", c.Name, obj)
	}
	gvk := gvks[0]
	res, ok := resources[gvk]
	if !ok {
		return fmt.Errorf("%s: apply: kind %s is not in kube.resources", c.Name, gvk)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return fmt.Errorf("%s: apply %s: %w", c.Name, gvk.Kind, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	gvr := gvk.GroupVersion().WithResource(res)
	var ri dynamic.ResourceInterface = c.Dynamic.Resource(gvr)
	if !clusterScoped[res] {
		ri = c.Dynamic.Resource(gvr).Namespace(u.GetNamespace())
	}
	_, err = ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("%s: apply %s %s: %w", c.Name, gvk.Kind, qualified(u), err)
	}
	return nil
}

func qualified(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return ns + "/" + u.GetName()
	}
	return u.GetName()
}

// Short shortens an API error for one-line messages.
func Short(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\n"); i >= 0 {
		s = s[:i]
	}
	return s
}
