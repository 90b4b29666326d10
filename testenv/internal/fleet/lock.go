package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// lock takes an exclusive lock on the state dir for commands that start or
// stop processes, so two of them never race. The lock is released when the
// returned function runs or the process exits.
func lock(dir string) (func(), error) {
	path := filepath.Join(dir, "run", "lock")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("another testenv command (pid %s) is working on %s; wait for it", strings.TrimSpace(string(b)), dir)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
