// Package etcd runs the one etcd that all apiservers of the fleet share (each
// under its own --etcd-prefix). It is an embedded etcd 3.6 server
// (go.etcd.io/etcd/server/v3/embed) run by `testenv etcd`, so the fleet needs
// no etcd package from the OS and matches what kube-apiserver 1.36 expects.
//
// Component describes that subcommand as a detached process; Serve is what
// the subcommand runs.
package etcd

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"fleetpane/testenv/internal/control"
	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/proc"
)

// Options of the etcd server.
type Options struct {
	DataDir    string
	ClientPort int
	PeerPort   int
}

// Args renders o as the arguments of `testenv etcd`.
func (o Options) Args() []string {
	return []string{"etcd",
		"--data-dir", o.DataDir,
		"--client-port", fmt.Sprint(o.ClientPort),
		"--peer-port", fmt.Sprint(o.PeerPort),
	}
}

// ClientURL is the URL apiservers use.
func (o Options) ClientURL() string { return fmt.Sprintf("http://%s", layout.Addr(o.ClientPort)) }

// Serve runs etcd in the current process until ctx ends or etcd fails.
func Serve(ctx context.Context, o Options) error {
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return err
	}
	cfg := embed.NewConfig()
	cfg.Name = "testenv"
	cfg.Dir = o.DataDir
	client := url.URL{Scheme: "http", Host: layout.Addr(o.ClientPort)}
	peer := url.URL{Scheme: "http", Host: layout.Addr(o.PeerPort)}
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenPeerUrls = []url.URL{peer}
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{"stderr"}
	// A throwaway test store: speed over durability.
	cfg.UnsafeNoFsync = true
	cfg.QuotaBackendBytes = 2 << 30
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	cfg.SnapshotCount = 10000
	// Not set by NewConfig: zero would log every request as slow.
	cfg.WarningUnaryRequestDuration = 500 * time.Millisecond
	cfg.WarningApplyDuration = 500 * time.Millisecond

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
		fmt.Fprintf(os.Stderr, "etcd ready on %s (data %s)\n", client.String(), o.DataDir)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		return fmt.Errorf("etcd: not ready after 60s")
	case <-ctx.Done():
		return nil
	}
	select {
	case err := <-e.Err():
		return fmt.Errorf("etcd: %w", err)
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "etcd stopping")
		return nil
	}
}

// Component is the etcd process as a control-plane component: `testenv
// etcd ...` run from the testenv executable self.
func Component(o Options, self string) control.Component {
	return control.Component{
		Name: "etcd", Key: layout.Etcd, Program: self, Args: o.Args(),
		Ports:           []int{o.ClientPort, o.PeerPort},
		KeepOnNewBinary: true,
		Ready: func(ctx context.Context, pid int, logFile string) error {
			return proc.WaitHTTP(ctx, o.ClientURL()+"/health", &proc.WaitOptions{PID: pid, LogFile: logFile})
		},
	}
}
