package proc

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSpawnRunningStop(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Name: "sleeper", Path: "/bin/sleep", Args: []string{"30"},
		LogFile: filepath.Join(dir, "logs", "s.log"), PidFile: filepath.Join(dir, "run", "s.pid")}
	pid, err := Spawn(spec)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := Running(spec.PidFile)
	if !ok || got != pid {
		t.Fatalf("Running = %d, %v; want %d", got, ok, pid)
	}
	if !SameCommand(pid, "/bin/sleep", []string{"30"}) || SameCommand(pid, "/bin/sleep", []string{"31"}) {
		t.Error("SameCommand")
	}
	if err := Stop(spec.PidFile, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if Alive(pid) {
		t.Fatal("still alive after Stop")
	}
	if _, err := os.Stat(spec.PidFile); !errors.Is(err, os.ErrNotExist) {
		t.Error("pidfile not removed")
	}
	if b, _ := os.ReadFile(spec.LogFile); !strings.Contains(string(b), "start sleeper") {
		t.Errorf("log lacks the start line: %q", b)
	}
}

func TestStalePidfileIsNotOurs(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "x.pid")
	// Our own PID runs the test binary, not /bin/sleep: a reused PID.
	if err := os.WriteFile(pf, []byte(strconv.Itoa(os.Getpid())+"\n/bin/sleep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := Running(pf); ok {
		t.Fatal("a reused PID was taken for ours")
	}
	if err := Stop(pf, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pf); !errors.Is(err, os.ErrNotExist) {
		t.Error("stale pidfile not removed")
	}
	// A dead PID.
	os.WriteFile(pf, []byte("999999999\n/bin/sleep\n"), 0o644)
	if _, ok := Running(pf); ok {
		t.Fatal("dead PID reported running")
	}
}

func TestCheckPortFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = CheckPortFree(l.Addr().String(), "kube-apiserver[prod-eu]")
	var pe *PortInUseError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "kube-apiserver[prod-eu]") || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Fatalf("err = %v", err)
	}
}

func TestWaitFailsFastWhenTheProcessDies(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Name: "false", Path: "/bin/sh", Args: []string{"-c", "echo boom; exit 3"},
		LogFile: filepath.Join(dir, "f.log"), PidFile: filepath.Join(dir, "f.pid")}
	pid, err := Spawn(spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err = WaitTCP(ctx, "127.0.0.1:1", &WaitOptions{PID: pid, LogFile: spec.LogFile})
	if err == nil || time.Since(start) > 5*time.Second || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
}
