// Package rbac holds the identities' permissions of every local cluster, as
// the contract states them:
//
//   - user fleetpane (client cert CN=fleetpane) may impersonate any user and
//     only the groups sre, team-a, team-b and viewers: never system:masters
//     or any other system: group, which would make it an admin;
//   - group sre views everything and also reads Nodes (cluster-scoped, not
//     in the built-in view role); team-a and team-b view their namespace;
//     viewers read Services and EndpointSlices cluster-wide (no pods);
//   - user fleetpane may also list and watch exactly the kinds its shared
//     caches hold, plus the RBAC objects (to drop cached access decisions
//     when they change): never Secrets or ConfigMaps;
//   - carol (no groups) gets nothing;
//   - user system:metrics-server (the metrics-server's client certificate)
//     has what the upstream metrics-server manifest grants its
//     ServiceAccount: read pods and nodes, get nodes/metrics from the
//     kubelets, delegated authentication and authorization; and the
//     metrics.k8s.io resources are aggregated into view, edit and admin, as
//     upstream does.
package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"fleetpane/testenv/internal/pki"
)

// ImpersonableGroups are the only groups Fleetpane may impersonate.
var ImpersonableGroups = []string{"sre", "team-a", "team-b", "viewers"}

// Names used by tests.
const (
	ImpersonatorRole = "fleetpane:impersonator"
	CacheReaderRole  = "fleetpane:cache-reader"
	ServicesReader   = "fleetpane-demo:services-reader"
	NodesReader      = "fleetpane-demo:nodes-reader"
	FleetpaneUser    = "fleetpane"
	// MetricsServerRole is the upstream manifest's ClusterRole of the
	// metrics-server; MetricsReaderRole aggregates metrics.k8s.io into view.
	MetricsServerRole = "system:metrics-server"
	MetricsReaderRole = "system:aggregated-metrics-reader"
	MetricsServerUser = pki.MetricsServerUser
)

var labels = map[string]string{"app.kubernetes.io/managed-by": "testenv"}

// CachedKinds are what Fleetpane's shared caches list and watch, as its own
// identity, per API group.
var CachedKinds = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services", "pods", "events", "namespaces", "nodes"}},
	{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "daemonsets"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}},
	{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies", "ingresses"}},
	{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}},
	{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}},
	{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"httproutes"}},
	{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings", "clusterroles", "clusterrolebindings"}},
}

func cacheReaderRules() []rbacv1.PolicyRule {
	rules := make([]rbacv1.PolicyRule, 0, len(CachedKinds))
	for _, r := range CachedKinds {
		r.Verbs = []string{"list", "watch"}
		rules = append(rules, r)
	}
	return rules
}

func meta(name, ns string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

// metricsServerObjects are the RBAC objects of the upstream metrics-server
// manifest (v0.8), bound to the user of its client certificate instead of
// a ServiceAccount.
func metricsServerObjects() []runtime.Object {
	read := []string{"get", "list", "watch"}
	aggregated := meta(MetricsReaderRole, "")
	aggregated.Labels = map[string]string{
		"app.kubernetes.io/managed-by":                 "testenv",
		"rbac.authorization.k8s.io/aggregate-to-view":  "true",
		"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
		"rbac.authorization.k8s.io/aggregate-to-admin": "true",
	}
	return []runtime.Object{
		&rbacv1.ClusterRole{
			ObjectMeta: aggregated,
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods", "nodes"}, Verbs: read}},
		},
		&rbacv1.ClusterRole{
			ObjectMeta: meta(MetricsServerRole, ""),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"nodes/metrics"}, Verbs: []string{"get"}},
				{APIGroups: []string{""}, Resources: []string{"pods", "nodes"}, Verbs: read},
			},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: meta(MetricsServerRole, ""),
			RoleRef:    clusterRoleRef(MetricsServerRole),
			Subjects:   []rbacv1.Subject{user(MetricsServerUser)},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: meta("metrics-server:system:auth-delegator", ""),
			RoleRef:    clusterRoleRef("system:auth-delegator"),
			Subjects:   []rbacv1.Subject{user(MetricsServerUser)},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: meta("metrics-server-auth-reader", "kube-system"),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"},
			Subjects:   []rbacv1.Subject{user(MetricsServerUser)},
		},
	}
}

func clusterRoleRef(name string) rbacv1.RoleRef {
	return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}
}

// Objects returns the RBAC objects, in apply order. Namespaced bindings
// need the namespaces team-a and team-b to exist.
func Objects() []runtime.Object {
	return append(demoObjects(), metricsServerObjects()...)
}

func demoObjects() []runtime.Object {
	return []runtime.Object{
		&rbacv1.ClusterRole{
			ObjectMeta: meta(ImpersonatorRole, ""),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"users"}, Verbs: []string{"impersonate"}},
				{APIGroups: []string{""}, Resources: []string{"groups"}, Verbs: []string{"impersonate"},
					ResourceNames: ImpersonableGroups},
			},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: meta(ImpersonatorRole, ""),
			RoleRef:    clusterRoleRef(ImpersonatorRole),
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: FleetpaneUser}},
		},
		&rbacv1.ClusterRole{
			ObjectMeta: meta(CacheReaderRole, ""),
			Rules:      cacheReaderRules(),
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: meta(CacheReaderRole, ""),
			RoleRef:    clusterRoleRef(CacheReaderRole),
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: FleetpaneUser}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: meta("fleetpane-demo:sre-view", ""),
			RoleRef:    clusterRoleRef("view"),
			Subjects:   []rbacv1.Subject{group("sre")},
		},
		// Nodes are cluster-scoped and not in view: sre reads them on top.
		&rbacv1.ClusterRole{
			ObjectMeta: meta(NodesReader, ""),
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch"}}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: meta("fleetpane-demo:sre-nodes", ""),
			RoleRef:    clusterRoleRef(NodesReader),
			Subjects:   []rbacv1.Subject{group("sre")},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: meta("fleetpane-demo:team-a-view", "team-a"),
			RoleRef:    clusterRoleRef("view"),
			Subjects:   []rbacv1.Subject{group("team-a")},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: meta("fleetpane-demo:team-b-view", "team-b"),
			RoleRef:    clusterRoleRef("view"),
			Subjects:   []rbacv1.Subject{group("team-b")},
		},
		&rbacv1.ClusterRole{
			ObjectMeta: meta(ServicesReader, ""),
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
			},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: meta("fleetpane-demo:viewers", ""),
			RoleRef:    clusterRoleRef(ServicesReader),
			Subjects:   []rbacv1.Subject{group("viewers")},
		},
	}
}
