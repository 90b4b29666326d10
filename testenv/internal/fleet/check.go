package fleet

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"fleetpane/testenv/internal/fixtures"
	"fleetpane/testenv/internal/kube"
	"fleetpane/testenv/internal/metricsserver"
	"fleetpane/testenv/internal/nodesim"
)

// Check verifies a running fleet from the outside, as a client would: the
// fixtures are ready and the EndpointSlices hold the Ready pod IPs, the
// failing payments pod has kubelet Unhealthy events, and the Fleetpane
// identity can impersonate exactly what the contract allows. It prints one
// line per check and a closing "N passed, M failed" line.
func Check(ctx context.Context, dir string, out io.Writer) error {
	p, err := LoadPlan(dir)
	if err != nil {
		return err
	}
	passed, failed := 0, 0
	report := func(cluster, what string, err error) {
		if err != nil {
			failed++
			fmt.Fprintf(out, "FAIL %s: %s: %v\n", cluster, what, err)
			return
		}
		passed++
		fmt.Fprintf(out, "ok   %s: %s\n", cluster, what)
	}
	for _, c := range p.ClusterList() {
		admin, err := kube.NewClients(p.AdminTarget(c))
		if err != nil {
			return err
		}
		v := fixtures.VariantOf(c.Name)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		problems, err := fixtures.Check(cctx, admin, v, 4)
		if err == nil && len(problems) > 0 {
			err = fmt.Errorf("%s", strings.Join(problems, "; "))
		}
		report(c.Name, "fixtures ready, team-a/checkout EndpointSlices = Ready pod IPs", err)
		ips, err := fixtures.ReadyEndpointIPs(cctx, admin, "team-a", "checkout")
		if err == nil && len(ips) != int(fixtures.CheckoutReplicas(v)) {
			err = fmt.Errorf("%d ready endpoints, want %d", len(ips), fixtures.CheckoutReplicas(v))
		}
		report(c.Name, fmt.Sprintf("team-a/checkout has %d ready endpoints %v", len(ips), ips), err)
		report(c.Name, "payments has kubelet Unhealthy events", checkUnhealthyEvents(cctx, admin.Typed))
		problems, err = metricsserver.Check(cctx, admin)
		if err == nil && len(problems) > 0 {
			err = fmt.Errorf("%s", strings.Join(problems, "; "))
		}
		report(c.Name, "metrics.k8s.io serves checkout's pods (aggregated metrics-server), its HPA is ScalingActive", err)

		f := p.PKI(c)
		base := kube.RESTConfig(kube.Target{APIURL: p.Control(c).APIURL(), CAFile: f.CACert, CertFile: f.FleetpaneCert, KeyFile: f.FleetpaneKey})
		as := func(user string, groups ...string) kubernetes.Interface {
			cfg := rest.CopyConfig(base)
			if user != "" {
				cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
			}
			return kubernetes.NewForConfigOrDie(cfg)
		}
		allowed := func(cs kubernetes.Interface, ns, what string) error {
			var err error
			switch what {
			case "pods":
				_, err = cs.CoreV1().Pods(ns).List(cctx, metav1.ListOptions{Limit: 1})
			case "nodes":
				_, err = cs.CoreV1().Nodes().List(cctx, metav1.ListOptions{Limit: 1})
			case "secrets":
				_, err = cs.CoreV1().Secrets(ns).List(cctx, metav1.ListOptions{Limit: 1})
			default:
				_, err = cs.CoreV1().Services(ns).List(cctx, metav1.ListOptions{Limit: 1})
			}
			return err
		}
		denied := func(cs kubernetes.Interface, ns, what string) error {
			err := allowed(cs, ns, what)
			if err == nil {
				return fmt.Errorf("allowed, want forbidden")
			}
			if !apierrors.IsForbidden(err) {
				return err
			}
			return nil
		}
		// Fleetpane's own identity lists the kinds of its shared caches, never Secrets.
		report(c.Name, "fleetpane itself lists services (its shared cache)", allowed(as(""), "", "services"))
		report(c.Name, "fleetpane itself cannot list secrets", denied(as(""), "", "secrets"))
		report(c.Name, "alice (sre) lists pods everywhere", allowed(as("alice@example.com", "sre"), "", "pods"))
		report(c.Name, "bob (team-a) lists pods in team-a", allowed(as("bob@example.com", "team-a"), "team-a", "pods"))
		report(c.Name, "bob (team-a) cannot list pods in team-b", denied(as("bob@example.com", "team-a"), "team-b", "pods"))
		report(c.Name, "carol (no groups) cannot list services", denied(as("carol@example.com"), "team-a", "services"))
		report(c.Name, "dave (viewers) lists services", allowed(as("dave@example.com", "viewers"), "", "services"))
		report(c.Name, "dave (viewers) cannot list pods", denied(as("dave@example.com", "viewers"), "team-a", "pods"))
		report(c.Name, "alice (sre) lists nodes", allowed(as("alice@example.com", "sre"), "", "nodes"))
		report(c.Name, "bob (team-a) cannot list nodes", denied(as("bob@example.com", "team-a"), "", "nodes"))
		report(c.Name, "team-b cannot list nodes", denied(as("erin@example.com", "team-b"), "", "nodes"))
		report(c.Name, "dave (viewers) cannot list nodes", denied(as("dave@example.com", "viewers"), "", "nodes"))
		report(c.Name, "impersonating group system:masters is refused", denied(as("mallory", "system:masters"), "", "services"))
		cancel()
	}
	fmt.Fprintf(out, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("%d check(s) failed", failed)
	}
	return nil
}

func checkUnhealthyEvents(ctx context.Context, cs kubernetes.Interface) error {
	evs, err := cs.CoreV1().Events("team-a").List(ctx, metav1.ListOptions{FieldSelector: "reason=Unhealthy"})
	if err != nil {
		return err
	}
	for _, e := range evs.Items {
		if e.Source.Component == "kubelet" && e.Type == corev1.EventTypeWarning &&
			strings.HasPrefix(e.InvolvedObject.Name, "payments-") && e.Message == nodesim.ReadinessFailMessage {
			return nil
		}
	}
	return fmt.Errorf("no Warning Unhealthy event from kubelet for a payments pod (found %d Unhealthy events)", len(evs.Items))
}
