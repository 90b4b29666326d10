package rbac

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

func TestFleetpaneMayImpersonateOnlyTheDemoGroups(t *testing.T) {
	var role *rbacv1.ClusterRole
	for _, o := range Objects() {
		if r, ok := o.(*rbacv1.ClusterRole); ok && r.Name == ImpersonatorRole {
			role = r
		}
	}
	if role == nil {
		t.Fatal("no impersonator role")
	}
	for _, rule := range role.Rules {
		for _, res := range rule.Resources {
			switch res {
			case "users":
			case "groups":
				if len(rule.ResourceNames) == 0 {
					t.Fatal("groups without resourceNames would allow system:masters")
				}
				for _, g := range rule.ResourceNames {
					if strings.HasPrefix(g, "system:") {
						t.Errorf("may impersonate %s", g)
					}
				}
			default:
				t.Errorf("unexpected resource %q in the impersonator role", res)
			}
		}
		if len(rule.Verbs) != 1 || rule.Verbs[0] != "impersonate" {
			t.Errorf("verbs %v", rule.Verbs)
		}
	}
}

func TestBindings(t *testing.T) {
	want := map[string]string{
		"fleetpane-demo:sre-view":              "Group/sre -> ClusterRole/view",
		"fleetpane-demo:sre-nodes":             "Group/sre -> ClusterRole/" + NodesReader,
		"fleetpane-demo:team-a-view":           "Group/team-a -> ClusterRole/view in team-a",
		"fleetpane-demo:team-b-view":           "Group/team-b -> ClusterRole/view in team-b",
		"fleetpane-demo:viewers":               "Group/viewers -> ClusterRole/" + ServicesReader,
		ImpersonatorRole:                       "User/fleetpane -> ClusterRole/" + ImpersonatorRole,
		CacheReaderRole:                        "User/fleetpane -> ClusterRole/" + CacheReaderRole,
		MetricsServerRole:                      "User/system:metrics-server -> ClusterRole/" + MetricsServerRole,
		"metrics-server:system:auth-delegator": "User/system:metrics-server -> ClusterRole/system:auth-delegator",
		"metrics-server-auth-reader":           "User/system:metrics-server -> Role/extension-apiserver-authentication-reader in kube-system",
	}
	got := map[string]string{}
	for _, o := range Objects() {
		switch b := o.(type) {
		case *rbacv1.ClusterRoleBinding:
			got[b.Name] = b.Subjects[0].Kind + "/" + b.Subjects[0].Name + " -> " + b.RoleRef.Kind + "/" + b.RoleRef.Name
		case *rbacv1.RoleBinding:
			got[b.Name] = b.Subjects[0].Kind + "/" + b.Subjects[0].Name + " -> " + b.RoleRef.Kind + "/" + b.RoleRef.Name + " in " + b.Namespace
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("bindings %v", got)
	}
}

func TestFleetpaneReadsExactlyTheCachedKinds(t *testing.T) {
	var role *rbacv1.ClusterRole
	for _, o := range Objects() {
		if r, ok := o.(*rbacv1.ClusterRole); ok && r.Name == CacheReaderRole {
			role = r
		}
	}
	if role == nil {
		t.Fatal("no cache-reader role")
	}
	want := map[string]bool{
		"/services": true, "/pods": true, "/events": true, "/namespaces": true, "/nodes": true,
		"apps/deployments": true, "apps/statefulsets": true, "apps/daemonsets": true,
		"discovery.k8s.io/endpointslices":               true,
		"networking.k8s.io/networkpolicies":             true,
		"networking.k8s.io/ingresses":                   true,
		"autoscaling/horizontalpodautoscalers":          true,
		"policy/poddisruptionbudgets":                   true,
		"gateway.networking.k8s.io/httproutes":          true,
		"rbac.authorization.k8s.io/roles":               true,
		"rbac.authorization.k8s.io/rolebindings":        true,
		"rbac.authorization.k8s.io/clusterroles":        true,
		"rbac.authorization.k8s.io/clusterrolebindings": true,
	}
	got := map[string]bool{}
	for _, rule := range role.Rules {
		if strings.Join(rule.Verbs, ",") != "list,watch" {
			t.Errorf("verbs %v: only list and watch", rule.Verbs)
		}
		if len(rule.ResourceNames) != 0 || len(rule.NonResourceURLs) != 0 {
			t.Errorf("unexpected rule %+v", rule)
		}
		for _, g := range rule.APIGroups {
			for _, r := range rule.Resources {
				if r == "*" || g == "*" || r == "secrets" || r == "configmaps" {
					t.Errorf("must not grant %s/%s", g, r)
				}
				got[g+"/"+r] = true
			}
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("missing %s", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("unexpected %s", k)
		}
	}
}

// Only sre reads Nodes: no other binding's role grants them (besides the
// identities of metrics-server and of Fleetpane's shared caches, which the
// cluster still asks, per person, through access reviews).
func TestOnlySreReadsNodes(t *testing.T) {
	roles := map[string]*rbacv1.ClusterRole{}
	for _, o := range Objects() {
		if r, ok := o.(*rbacv1.ClusterRole); ok {
			roles[r.Name] = r
		}
	}
	grantsNodes := func(role string) bool {
		r := roles[role]
		if r == nil {
			return false
		}
		for _, rule := range r.Rules {
			for _, res := range rule.Resources {
				if res == "nodes" && (len(rule.APIGroups) == 1 && rule.APIGroups[0] == "") {
					return true
				}
			}
		}
		return false
	}
	for _, o := range Objects() {
		b, ok := o.(*rbacv1.ClusterRoleBinding)
		if !ok || !grantsNodes(b.RoleRef.Name) {
			continue
		}
		for _, s := range b.Subjects {
			if s.Kind == rbacv1.GroupKind && s.Name != "sre" {
				t.Errorf("%s grants nodes to group %s", b.Name, s.Name)
			}
			if s.Kind == rbacv1.UserKind && s.Name != MetricsServerUser && s.Name != FleetpaneUser {
				t.Errorf("%s grants nodes to user %s", b.Name, s.Name)
			}
		}
	}
	if !grantsNodes(NodesReader) {
		t.Error("the nodes reader does not grant nodes")
	}
}
