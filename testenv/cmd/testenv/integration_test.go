package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	testenvbuild "fleetpane/testenv/internal/build"
)

// TestFleetEndToEnd runs the real thing in a temporary state dir on port
// base 26000: up, check, pause/resume, up again, down. It needs the
// Kubernetes binaries (taken from <repo>/.testenv/bin when present, else
// built, which is slow when cold), node for the IdP and prometheus.
//
//	TESTENV_INTEGRATION=1 go test ./cmd/testenv -run EndToEnd -v -timeout 20m
func TestFleetEndToEnd(t *testing.T) {
	if os.Getenv("TESTENV_INTEGRATION") == "" {
		t.Skip("set TESTENV_INTEGRATION=1 to start a real fleet")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "testenv")
	build := exec.Command("go", "build", "-o", exe, ".")
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if wd, err := os.Getwd(); err == nil {
		repoBin := filepath.Join(wd, "..", "..", "..", ".testenv", "bin")
		for _, b := range testenvbuild.Binaries {
			_ = os.Link(filepath.Join(repoBin, b), filepath.Join(bin, b))
		}
	}

	run := func(wantOK bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(exe, append(args, "--dir", dir)...)
		out, err := cmd.CombinedOutput()
		t.Logf("$ testenv %s\n%s", strings.Join(args, " "), out)
		if wantOK && err != nil {
			t.Fatalf("testenv %s: %v", strings.Join(args, " "), err)
		}
		if !wantOK && err == nil {
			t.Fatalf("testenv %s succeeded, want failure", strings.Join(args, " "))
		}
		return string(out)
	}
	t.Cleanup(func() { run(true, "down") })

	start := time.Now()
	run(true, "up", "--port-base", "26000", "--timeout", "4m")
	t.Logf("up took %s", time.Since(start))
	out := run(true, "check")
	if !strings.Contains(out, " 0 failed") {
		t.Fatal("check failed")
	}
	for _, f := range []string{"fleetpane.toml", "admin.kubeconfig", "fleet.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	run(true, "pause", "prod-us")
	if out := run(false, "status"); !strings.Contains(out, "(paused)") {
		t.Error("status does not show the paused apiserver")
	}
	run(true, "resume", "prod-us")
	run(true, "status")

	start = time.Now()
	out = run(true, "up")
	if strings.Contains(out, " started (") {
		t.Error("a second up started something although everything ran")
	}
	t.Logf("second up took %s", time.Since(start))
	run(true, "check")

	run(true, "down")
	if out := run(false, "status"); strings.Contains(out, "running") {
		t.Error("something still runs after down")
	}
}
