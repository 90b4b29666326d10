package fleet

import (
	"strings"
	"testing"
)

func TestScaleOptionsValidate(t *testing.T) {
	ok := ScaleOptions{Services: 2000, Pods: 10000, Namespaces: 50, Nodes: 50, Group: "team-a", GroupNamespaces: 3, Workers: 64}
	if err := ok.Validate(); err != nil {
		t.Fatalf("the default scale is valid: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*ScaleOptions)
		want string
	}{
		{"too many pods per node", func(o *ScaleOptions) { o.Nodes = 10 }, "per node"},
		{"no services", func(o *ScaleOptions) { o.Services = 0 }, "at least 1"},
		{"too many nodes", func(o *ScaleOptions) { o.Nodes = 251 }, "at most 250"},
		{"group namespaces beyond namespaces", func(o *ScaleOptions) { o.GroupNamespaces = 51 }, "--group-namespaces"},
		{"no workers", func(o *ScaleOptions) { o.Workers = 0 }, "--workers"},
	} {
		o := ok
		tc.edit(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestScaleNamespaceNames(t *testing.T) {
	if got := ScaleNamespace(7); got != "scale-07" {
		t.Errorf("ScaleNamespace(7) = %q", got)
	}
}
