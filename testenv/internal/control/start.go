package control

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"time"

	"fleetpane/testenv/internal/layout"
	"fleetpane/testenv/internal/proc"
)

// Outcome says what Ensure did.
type Outcome int

const (
	AlreadyRunning Outcome = iota
	Started
	Restarted // it ran with other flags or an outdated binary
)

func (o Outcome) String() string {
	switch o {
	case Started:
		return "started"
	case Restarted:
		return "restarted"
	default:
		return "already running"
	}
}

// Component is one control-plane process of one cluster.
type Component struct {
	// Name is for messages, e.g. "kube-apiserver[prod-eu]".
	Name string
	// Key names its log file and pidfile, e.g. "kube-apiserver-prod-eu".
	Key     string
	Program string
	Args    []string
	// Env is added to the environment of the process (KEY=VALUE).
	Env []string
	// Ports are checked to be free before it starts.
	Ports []int
	// Ready waits until the process serves; pid > 0 lets it fail fast when
	// the process dies.
	Ready func(ctx context.Context, pid int, logFile string) error
	// KeepOnNewBinary keeps a running process whose executable was rebuilt
	// (etcd runs from the testenv binary, which changes often; restarting
	// it under running apiservers buys nothing).
	KeepOnNewBinary bool
	// StopGrace is how long a SIGTERM may take before SIGKILL (default 15s).
	StopGrace time.Duration
}

// APIServerStopGrace is short: an apiserver with clients still watching
// waits for them in its graceful shutdown, and it keeps no state of its own.
const APIServerStopGrace = 5 * time.Second

func (c Component) stopGrace() time.Duration {
	if c.StopGrace > 0 {
		return c.StopGrace
	}
	return 15 * time.Second
}

// Result of Ensure.
type Result struct {
	Outcome Outcome
	PID     int
	Elapsed time.Duration
}

// ReadyTimeout bounds how long a component may take to become ready.
var ReadyTimeout = 90 * time.Second

// Ensure makes sure c runs with its current flags and binary and is ready:
// it leaves a matching process alone, restarts one that differs, and starts
// a missing one (after checking its port is free).
func Ensure(ctx context.Context, st layout.State, c Component) (Result, error) {
	start := time.Now()
	pidfile, logfile := st.PidFile(c.Key), st.LogFile(c.Key)
	res := Result{Outcome: Started}
	if pid, ok := proc.Running(pidfile); ok {
		if proc.SameCommand(pid, c.Program, c.Args) && (c.KeepOnNewBinary || !proc.BinaryReplaced(pid)) {
			rctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
			defer cancel()
			if err := c.Ready(rctx, pid, logfile); err != nil {
				return res, fmt.Errorf("%s (pid %d) runs but is not ready: %w", c.Name, pid, err)
			}
			return Result{Outcome: AlreadyRunning, PID: pid, Elapsed: time.Since(start)}, nil
		}
		if err := proc.Stop(pidfile, c.stopGrace()); err != nil {
			return res, fmt.Errorf("%s: stop outdated pid %d: %w", c.Name, pid, err)
		}
		res.Outcome = Restarted
	}
	if _, err := os.Stat(c.Program); err != nil {
		return res, fmt.Errorf("%s: binary %s is missing (run `testenv build`)", c.Name, c.Program)
	}
	for _, port := range c.Ports {
		if err := proc.CheckPortFree(layout.Addr(port), c.Name); err != nil {
			return res, err
		}
	}
	pid, err := proc.Spawn(proc.Spec{Name: c.Name, Path: c.Program, Args: c.Args, Env: c.Env, LogFile: logfile, PidFile: pidfile})
	if err != nil {
		return res, err
	}
	res.PID = pid
	rctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	if err := c.Ready(rctx, pid, logfile); err != nil {
		// Do not leave a half-started process behind.
		_ = proc.Stop(pidfile, c.stopGrace())
		return res, fmt.Errorf("%s did not become ready: %w", c.Name, err)
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// APIServerTLS is a TLS config that trusts the cluster CA and presents the
// admin client certificate.
func APIServerTLS(c Cluster) (*tls.Config, error) {
	ca, err := os.ReadFile(c.PKI.CACert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s: bad CA file %s", c.Name, c.PKI.CACert)
	}
	cert, err := tls.LoadX509KeyPair(c.PKI.AdminCert, c.PKI.AdminKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// WaitAPIServer waits for the cluster's /readyz.
func WaitAPIServer(ctx context.Context, c Cluster, pid int, logFile string) error {
	tc, err := APIServerTLS(c)
	if err != nil {
		return err
	}
	return proc.WaitHTTP(ctx, c.APIURL()+"/readyz", &proc.WaitOptions{PID: pid, LogFile: logFile, TLS: tc, Interval: 200 * time.Millisecond})
}

func waitHealthz(port int) func(ctx context.Context, pid int, logFile string) error {
	return func(ctx context.Context, pid int, logFile string) error {
		url := fmt.Sprintf("https://%s/healthz", layout.Addr(port))
		return proc.WaitHTTP(ctx, url, &proc.WaitOptions{PID: pid, LogFile: logFile, Interval: 200 * time.Millisecond,
			OK: func(s int) bool { return s == http.StatusOK }})
	}
}

// APIServer is the kube-apiserver component of c.
func APIServer(st layout.State, c Cluster) Component {
	return Component{
		Name: "kube-apiserver[" + c.Name + "]", Key: layout.APIServerComponent(c.Name),
		Program: st.Bin("kube-apiserver"), Args: APIServerArgs(c), Ports: []int{c.APIPort},
		StopGrace: APIServerStopGrace,
		Ready:     func(ctx context.Context, pid int, logFile string) error { return WaitAPIServer(ctx, c, pid, logFile) },
	}
}

// ControllerManager is the kube-controller-manager component of c.
func ControllerManager(st layout.State, c Cluster) Component {
	return Component{
		Name: "kube-controller-manager[" + c.Name + "]", Key: layout.ControllerManagerComponent(c.Name),
		Program: st.Bin("kube-controller-manager"), Args: ControllerManagerArgs(c), Ports: []int{c.KCMPort},
		Ready: waitHealthz(c.KCMPort),
	}
}

// Scheduler is the kube-scheduler component of c.
func Scheduler(st layout.State, c Cluster) Component {
	return Component{
		Name: "kube-scheduler[" + c.Name + "]", Key: layout.SchedulerComponent(c.Name),
		Program: st.Bin("kube-scheduler"), Args: SchedulerArgs(c), Ports: []int{c.SchedPort},
		Ready: waitHealthz(c.SchedPort),
	}
}
