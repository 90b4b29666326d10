package main

import (
	"context"
	"flag"
	"log"
	"os"

	"fleetpane/testenv/internal/etcd"
	"fleetpane/testenv/internal/fleet"
	"fleetpane/testenv/internal/metricsgen"
	"fleetpane/testenv/internal/nodesim"
)

// The subcommands below run as detached processes started by `up`.

func cmdEtcd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	var o etcd.Options
	fs.StringVar(&o.DataDir, "data-dir", "", "data directory")
	fs.IntVar(&o.ClientPort, "client-port", 0, "client port on 127.0.0.1")
	fs.IntVar(&o.PeerPort, "peer-port", 0, "peer port on 127.0.0.1")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if o.DataDir == "" || o.ClientPort == 0 || o.PeerPort == 0 {
		return usageError{"--data-dir, --client-port and --peer-port are required"}
	}
	return etcd.Serve(ctx, o)
}

func cmdAgent(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	path := fs.String("config", "", "agent config file")
	fs.String("config-sha256", "", "hash of the config (lets up detect a changed config)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := nodesim.Load(*path)
	if err != nil {
		return err
	}
	logger := log.New(os.Stderr, "agent ", log.LstdFlags|log.Lmicroseconds)
	logger.Printf("serving %d cluster(s)", len(cfg.Clusters))
	err = nodesim.Run(ctx, cfg, logger)
	logger.Printf("stopped")
	return err
}

func cmdMetricsGen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("metricsgen", flag.ContinueOnError)
	listen := fs.String("listen", "", "host:port to serve on (loopback)")
	path := fs.String("config", "", "agent config file (clusters and their admin credentials)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	lister, names, err := fleet.NewPodLister(*path)
	if err != nil {
		return err
	}
	return metricsgen.Run(ctx, *listen, names, lister)
}
