package metricsgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"fleetpane/testenv/internal/proc"
)

// TestMain doubles as the detached generator process for TestStartStop:
// `<test binary> metricsgen-child <addr> <clusters>`.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "metricsgen-child" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := Run(ctx, os.Args[2], strings.Split(os.Args[3], ","), nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestStartStop(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := func(clusters ...string) ProcessConfig {
		return ProcessConfig{Exe: exe, Args: []string{"metricsgen-child", addr, strings.Join(clusters, ",")}, Dir: dir, Listen: addr, Clusters: clusters}
	}
	ctx := context.Background()
	pid, started, err := Start(ctx, cfg("prod-eu", "prod-us"))
	if err != nil || !started {
		t.Fatalf("Start: %d %v %v", pid, started, err)
	}
	t.Cleanup(func() { _ = Stop(dir) })
	pid2, started, err := Start(ctx, cfg("prod-eu", "prod-us"))
	if err != nil || started || pid2 != pid {
		t.Errorf("second Start: %d %v %v", pid2, started, err)
	}
	// Another cluster set restarts it.
	pid3, started, err := Start(ctx, cfg("prod-eu", "prod-us", "staging"))
	if err != nil || !started || pid3 == pid || proc.Alive(pid) {
		t.Errorf("Start with new clusters: %d %v %v (old %d alive %v)", pid3, started, err, pid, proc.Alive(pid))
	}
	if got, err := servedClusters(ctx, "http://"+addr); err != nil || len(got) != 3 {
		t.Errorf("served %v %v", got, err)
	}
	// Port taken by the running one, other state dir: clear error.
	other := cfg("x")
	other.Dir = t.TempDir()
	_, _, err = Start(ctx, other)
	var pe *proc.PortInUseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "metricsgen") {
		t.Errorf("port clash: %v", err)
	}
	if err := Stop(dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for proc.Alive(pid3) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if proc.Alive(pid3) {
		t.Errorf("pid %d alive after Stop", pid3)
	}
}
