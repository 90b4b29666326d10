package fleet

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"fleetpane/testenv/internal/fixtures"
	"fleetpane/testenv/internal/kube"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/metricsserver"
)

func seed(ctx context.Context, r *run, p Plan, c layout.Cluster) error {
	cl, err := kube.NewClients(p.AdminTarget(c))
	if err != nil {
		return err
	}
	start := time.Now()
	if err := fixtures.Seed(ctx, cl, fixtures.VariantOf(c.Name)); err != nil {
		return fmt.Errorf("seeding %s: %w", c.Name, err)
	}
	ca, err := os.ReadFile(p.PKI(c).CACert)
	if err != nil {
		return err
	}
	if err := cl.Apply(ctx, metricsserver.Objects(p.Ports().MetricsServer(c.Index), ca)...); err != nil {
		return fmt.Errorf("seeding %s: %w", c.Name, err)
	}
	r.printf("seeded %s: fixtures, RBAC and the metrics.k8s.io APIService applied in %s", c.Name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// waitReady polls every cluster until its fixtures are ready, marking the
// pods that must fail readiness on the way. On timeout it says what is not
// ready, per cluster.
func waitReady(ctx context.Context, r *run, p Plan, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var mu sync.Mutex
	last := map[string][]string{}
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range p.ClusterList() {
		g.Go(func() error {
			cl, err := kube.NewClients(p.AdminTarget(c))
			if err != nil {
				return err
			}
			v := fixtures.VariantOf(c.Name)
			fixturesReady := false
			for {
				var problems []string
				if err := fixtures.MarkFailingPods(gctx, cl, v); err != nil {
					problems = append(problems, "marking failing pods: "+kube.Short(err))
				}
				ps, err := fixtures.Check(gctx, cl, v, 4)
				if err != nil {
					problems = append(problems, "checking: "+kube.Short(err))
				}
				problems = append(problems, ps...)
				if len(problems) == 0 && !fixturesReady {
					fixturesReady = true
					r.printf("%s ready: 4 nodes, fixture pods Running, team-a/checkout EndpointSlices hold the Ready pod IPs", c.Name)
				}
				if len(problems) == 0 {
					ps, err := metricsserver.Check(gctx, cl)
					if err != nil {
						problems = append(problems, "checking metrics: "+kube.Short(err))
					}
					problems = append(problems, ps...)
				}
				if len(problems) == 0 {
					mu.Lock()
					delete(last, c.Name)
					mu.Unlock()
					r.printf("%s metrics ready: metrics.k8s.io serves checkout's pods, its HPA is ScalingActive", c.Name)
					return nil
				}
				mu.Lock()
				last[c.Name] = problems
				mu.Unlock()
				select {
				case <-gctx.Done():
					return gctx.Err()
				case <-time.After(500 * time.Millisecond):
				}
			}
		})
	}
	err := g.Wait()
	if err == nil {
		return nil
	}
	if ctx.Err() == nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "the fleet was not ready after %s:", timeout)
	names := make([]string, 0, len(last))
	for n := range last {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, pr := range last[n] {
			fmt.Fprintf(&b, "\n  %s: %s", n, pr)
		}
	}
	fmt.Fprintf(&b, "\n(logs: %s)", p.State().Path("logs"))
	return fmt.Errorf("%s", b.String())
}
