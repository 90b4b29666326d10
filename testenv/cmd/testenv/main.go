// Command testenv starts a local, real Kubernetes fleet on 127.0.0.1 for
// Fleetpane's development and tests. See testenv/README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `testenv: a local real Kubernetes fleet on 127.0.0.1

usage: testenv <command> [flags]

commands:
  up [--clusters N] [--port-base P] [--timeout D] [--no-build] [--no-idp] [--no-prometheus] [--keep-on-failure]
                      start what is not running, seed the fixtures, wait until ready
  down [--purge]      stop every process of the fleet (by PID); --purge also deletes the state (not bin/)
  status              list components; exits 1 if any is down
  pause <cluster>     stop that cluster's kube-apiserver only
  resume <cluster>    start it again and wait for /readyz
  env                 print shell exports (FLEETPANE_CONFIG, KUBECONFIG)
  build               build kube-apiserver, kube-controller-manager, kube-scheduler into <dir>/bin
  check               verify the running fleet from outside (pods, EndpointSlices, RBAC)
  scale [--services N] [--pods N] [--namespaces N] [--nodes N] [--group G] [--group-namespaces N] [--workers N]
                      add (idempotently) simulated nodes, namespaces, Running pods and Services to every
                      cluster, for ./dev bench; use it on a fleet of its own (--dir, --port-base)

every command takes --dir DIR (default: $FLEETPANE_TESTENV_DIR, else .testenv at the repository root)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "up":
		err = cmdUp(ctx, args)
	case "down":
		err = cmdDown(args)
	case "status":
		err = cmdStatus(ctx, args)
	case "pause":
		err = cmdPause(args)
	case "resume":
		err = cmdResume(ctx, args)
	case "env":
		err = cmdEnv(args)
	case "build":
		err = cmdBuild(ctx, args)
	case "check":
		err = cmdCheck(ctx, args)
	case "scale":
		err = cmdScale(ctx, args)
	// Subcommands that `up` runs as detached processes.
	case "etcd":
		err = cmdEtcd(ctx, args)
	case "agent":
		err = cmdAgent(ctx, args)
	case "metricsgen":
		err = cmdMetricsGen(ctx, args)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "testenv: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "testenv %s: %v\n", cmd, err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "testenv %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }
