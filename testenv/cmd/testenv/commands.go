package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"fleetpane/testenv/internal/build"
	"fleetpane/testenv/internal/fleet"
	"fleetpane/testenv/internal/layout"
)

func cmdUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	dir := dirFlag(fs)
	clusters := fs.Int("clusters", 0, "number of clusters (default 3, or as the last up)")
	portBase := fs.Int("port-base", 0, "port base (default 16000, or as the last up)")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait for the seeded fleet to be ready")
	noBuild := fs.Bool("no-build", false, "do not run go build; use the binaries in <dir>/bin")
	noIdP := fs.Bool("no-idp", false, "do not run the IdP")
	noProm := fs.Bool("no-prometheus", false, "do not run the metrics generator and Prometheus")
	keep := fs.Bool("keep-on-failure", false, "leave what was started running when up fails")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	d, err := stateDir(*dir)
	if err != nil {
		return err
	}
	n, base := 3, layout.DefaultPortBase
	if prev, err := fleet.LoadPlan(d); err == nil {
		n, base = prev.Clusters, prev.PortBase
	}
	if *clusters != 0 {
		n = *clusters
	}
	if *portBase != 0 {
		base = *portBase
	}
	plan, err := fleet.NewPlan(d, n, base, !*noIdP, !*noProm)
	if err != nil {
		return usageError{err.Error()}
	}
	exe, err := self()
	if err != nil {
		return err
	}
	return fleet.Up(ctx, fleet.UpOptions{
		Plan: plan, Build: !*noBuild, ModuleDir: moduleDir(d), Self: exe,
		Timeout: *timeout, KeepOnFailure: *keep, Out: os.Stdout,
	})
}

func cmdDown(args []string) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	dir := dirFlag(fs)
	purge := fs.Bool("purge", false, "also delete the state dir (keeps bin/)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	d, err := stateDir(*dir)
	if err != nil {
		return err
	}
	return fleet.Down(d, *purge, os.Stdout)
}

func cmdStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	dir := dirFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	d, err := stateDir(*dir)
	if err != nil {
		return err
	}
	_, err = fleet.Status(ctx, d, os.Stdout)
	return err
}

func clusterArg(name string, args []string) (dir, cluster string, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	dirp := dirFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return "", "", err
	}
	if len(pos) != 1 {
		return "", "", usageError{fmt.Sprintf("usage: testenv %s <cluster>", name)}
	}
	d, err := stateDir(*dirp)
	return d, pos[0], err
}

func cmdPause(args []string) error {
	d, c, err := clusterArg("pause", args)
	if err != nil {
		return err
	}
	return fleet.Pause(d, c, os.Stdout)
}

func cmdResume(ctx context.Context, args []string) error {
	d, c, err := clusterArg("resume", args)
	if err != nil {
		return err
	}
	return fleet.Resume(ctx, d, c, os.Stdout)
}

func cmdEnv(args []string) error {
	fs := flag.NewFlagSet("env", flag.ContinueOnError)
	dir := dirFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	d, err := stateDir(*dir)
	if err != nil {
		return err
	}
	s, err := fleet.Env(d)
	if err != nil {
		return err
	}
	fmt.Print(s)
	return nil
}

func cmdBuild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	dir := dirFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	d, err := stateDir(*dir)
	if err != nil {
		return err
	}
	mod := moduleDir(d)
	if mod == "" {
		return fmt.Errorf("cannot find the testenv Go module; run from the repository")
	}
	start := time.Now()
	st := layout.State{Dir: d}
	fmt.Printf("building into %s (a cold build takes minutes: kube-apiserver ~7 min on 2 cores)\n", st.BinDir())
	if err := build.Run(ctx, build.Options{ModuleDir: mod, BinDir: st.BinDir(), Progress: os.Stdout}); err != nil {
		return err
	}
	fmt.Printf("done in %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

func cmdCheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	dir := dirFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	d, err := stateDir(*dir)
	if err != nil {
		return err
	}
	return fleet.Check(ctx, d, os.Stdout)
}

func cmdScale(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	dir := dirFlag(fs)
	o := fleet.ScaleOptions{}
	fs.IntVar(&o.Services, "services", 2000, "Services per cluster")
	fs.IntVar(&o.Pods, "pods", 10000, "pods per cluster (spread over the Services)")
	fs.IntVar(&o.Namespaces, "namespaces", 50, "namespaces per cluster (scale-00, scale-01, ...)")
	fs.IntVar(&o.Nodes, "nodes", 50, "simulated nodes per cluster (at most 250 pods each)")
	fs.StringVar(&o.Group, "group", "team-a", "group bound to ClusterRole view in the first --group-namespaces namespaces")
	fs.IntVar(&o.GroupNamespaces, "group-namespaces", 3, "how many scale namespaces --group may view")
	fs.IntVar(&o.Workers, "workers", 64, "concurrent requests per cluster")
	fs.DurationVar(&o.Timeout, "timeout", 20*time.Minute, "how long to wait for every Service to have ready endpoints")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	d, err := stateDir(*dir)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return usageError{err.Error()}
	}
	plan, err := fleet.LoadPlan(d)
	if err != nil {
		return err
	}
	return fleet.Scale(ctx, plan, o, os.Stdout)
}
