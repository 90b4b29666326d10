package fleet

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// run is one invocation of a command: it prints progress with the time
// since the start and remembers what it started, to undo it on failure.
type run struct {
	out   io.Writer
	start time.Time
	mu    sync.Mutex
	undo  []undoStep
}

type undoStep struct {
	name string
	stop func() error
}

func newRun(out io.Writer) *run {
	if out == nil {
		out = io.Discard
	}
	return &run{out: out, start: time.Now()}
}

// printf prints one progress line, prefixed by the elapsed time.
func (r *run) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, "%6.1fs  %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// started records that this run started name, and how to stop it.
func (r *run) started(name string, stop func() error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.undo = append(r.undo, undoStep{name, stop})
}

// rollback stops, newest first, what this run started. Components that
// were started later depend on earlier ones (apiservers on etcd), so this
// order stops apiservers before etcd.
func (r *run) rollback() {
	r.mu.Lock()
	steps := r.undo
	r.undo = nil
	r.mu.Unlock()
	if len(steps) == 0 {
		return
	}
	fmt.Fprintf(r.out, "stopping what this run started:\n")
	for i := len(steps) - 1; i >= 0; i-- {
		if err := steps[i].stop(); err != nil {
			fmt.Fprintf(r.out, "  %s: %v\n", steps[i].name, err)
		} else {
			fmt.Fprintf(r.out, "  stopped %s\n", steps[i].name)
		}
	}
}

func (r *run) startedAny() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.undo) > 0
}

func (r *run) elapsed() time.Duration { return time.Since(r.start) }
