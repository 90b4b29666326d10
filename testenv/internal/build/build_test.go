package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindModule(t *testing.T) {
	root := t.TempDir()
	mod := filepath.Join(root, "testenv")
	deep := filepath.Join(root, "app", "src")
	for _, d := range []string{mod, deep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module fleetpane/testenv\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, start := range []string{root, deep, mod} {
		got, err := FindModule("", start)
		if err != nil || got != mod {
			t.Errorf("FindModule(%s) = %q, %v", start, got, err)
		}
	}
	if _, err := FindModule(t.TempDir()); err == nil {
		t.Error("found a module where there is none")
	}
}

func TestMissingAndErrors(t *testing.T) {
	dir := t.TempDir()
	if m := Missing(dir); len(m) != 4 {
		t.Fatalf("missing %v", m)
	}
	os.WriteFile(filepath.Join(dir, "kube-scheduler"), []byte("x"), 0o755)
	if m := Missing(dir); len(m) != 3 {
		t.Fatalf("missing %v", m)
	}
	e := &Error{Binary: "kube-apiserver", Tail: "line", Err: os.ErrNotExist}
	if e.Error() == "" || tail("a\nb\nc\n", 2) != "b\nc" {
		t.Error("error text")
	}
}

func TestKubernetesVersionMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := "k8s.io/kubernetes " + KubernetesVersion
	if !strings.Contains(string(data), want) {
		t.Fatalf("go.mod does not require %q: keep build.KubernetesVersion equal to go.mod", want)
	}
	if !strings.Contains(Flags[0], "gitVersion="+KubernetesVersion) || !strings.Contains(Flags[0], "gitMajor=1 ") {
		t.Fatalf("version flags not stamped: %q", Flags[0])
	}
}

func TestMetricsServerVersionMatchesGoMod(t *testing.T) {
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod := string(data)
	if want := "sigs.k8s.io/metrics-server " + MetricsServerVersion; !strings.Contains(mod, want) {
		t.Fatalf("go.mod does not require %q: keep build.MetricsServerVersion equal to go.mod", want)
	}
	f := FlagsFor(MetricsServer)
	if len(f) != 1 || !strings.Contains(f[0], "client-go/pkg/version.gitVersion="+MetricsServerVersion) ||
		!strings.Contains(f[0], "gitVersion="+KubernetesVersion) {
		t.Fatalf("metrics-server flags %q", f)
	}
}
