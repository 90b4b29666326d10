// Package proc starts and stops the detached background processes of the
// local test fleet (etcd, kube-apiserver, the IdP, Prometheus, ...).
//
// Every process is started in its own session (setsid), so it outlives the
// `testenv up` that started it and is not hit by the terminal's Ctrl-C. Its
// stdout and stderr go to one log file, and its PID is recorded in a pidfile.
// A pidfile holds two lines: the PID and the program path that was started.
// A PID is only considered ours while /proc/<pid>/cmdline still starts with
// that program path, so a stale pidfile whose PID was reused by an unrelated
// process is never signalled.
//
// The API is deliberately small:
//
//	Spawn(Spec) (pid, error)        start detached, log + pidfile
//	Running(pidfile) (pid, bool)    is the recorded process alive?
//	Stop(pidfile, grace) error      SIGTERM, wait, SIGKILL; removes the pidfile
//	StopPID(pid, grace) error       same for a bare PID
//	CheckPortFree(addr, component)  error naming port and component if taken
//	WaitTCP / WaitHTTP              readiness polling, aborted early if the process died
//	LogTail(path, n)                last lines of a log, for error messages
package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Spec describes one detached process.
type Spec struct {
	// Name is the component name used in messages, e.g. "kube-apiserver[prod-eu]".
	Name string
	// Path is the program to run (absolute path, or looked up in PATH).
	Path string
	// Args are the arguments, without the program name.
	Args []string
	// Env is added to the current environment (KEY=VALUE entries); nil keeps it as is.
	Env []string
	// Dir is the working directory ("" = current directory).
	Dir string
	// LogFile receives stdout and stderr (appended; parent directories are created).
	LogFile string
	// PidFile receives the PID (parent directories are created).
	PidFile string
}

// Spawn starts the process described by s detached from the caller (new
// session, stdin from /dev/null, output appended to s.LogFile), writes
// s.PidFile and returns the PID. The caller does not need to wait for it;
// Spawn reaps it in the background if it exits while the caller still runs.
func Spawn(s Spec) (int, error) {
	if s.Path == "" || s.LogFile == "" || s.PidFile == "" {
		return 0, fmt.Errorf("proc: %s: Path, LogFile and PidFile are required", s.Name)
	}
	path := s.Path
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return 0, fmt.Errorf("%s: program %q not found in PATH", s.Name, s.Path)
		}
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("%s: program %s: %w", s.Name, path, err)
	}
	for _, f := range []string{s.LogFile, s.PidFile} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			return 0, fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	logf, err := os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("%s: open log: %w", s.Name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n==== %s start %s: %s %s\n", time.Now().Format(time.RFC3339), s.Name, path, strings.Join(s.Args, " "))
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()

	cmd := exec.Command(path, s.Args...)
	cmd.Dir = s.Dir
	if s.Env != nil {
		cmd.Env = append(os.Environ(), s.Env...)
	}
	cmd.Stdin = devnull
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: start %s: %w", s.Name, path, err)
	}
	pid := cmd.Process.Pid
	go func() { _ = cmd.Wait() }() // reap if it dies while we are still running
	if err := writePidfile(s.PidFile, pid, path); err != nil {
		_ = StopPID(pid, 2*time.Second)
		return 0, fmt.Errorf("%s: %w", s.Name, err)
	}
	return pid, nil
}

func writePidfile(file string, pid int, program string) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(fmt.Sprintf("%d\n%s\n", pid, program)), 0o644); err != nil {
		return fmt.Errorf("write pidfile: %w", err)
	}
	return os.Rename(tmp, file)
}

// ReadPidfile returns the PID and program recorded in a pidfile.
func ReadPidfile(file string) (pid int, program string, err error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, "", err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 {
		return 0, "", fmt.Errorf("pidfile %s: bad PID %q", file, lines[0])
	}
	if len(lines) > 1 {
		program = strings.TrimSpace(lines[1])
	}
	return pid, program, nil
}

// Running reports whether the process recorded in pidfile is alive and is
// still the program that was started. A missing or stale pidfile gives false.
func Running(pidfile string) (int, bool) {
	pid, program, err := ReadPidfile(pidfile)
	if err != nil {
		return 0, false
	}
	return pid, isOurs(pid, program)
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...; comm may contain spaces and parens.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		if st := stat[i+2]; st == 'Z' || st == 'X' {
			return false
		}
	}
	return true
}

func isOurs(pid int, program string) bool {
	if !Alive(pid) {
		return false
	}
	if program == "" {
		return true
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return string(argv0) == program || filepath.Base(string(argv0)) == filepath.Base(program)
}

// Stop stops the process recorded in pidfile (see StopPID) and removes the
// pidfile. A missing pidfile or a stale one (process gone or PID reused) is
// not an error: the pidfile is just removed.
func Stop(pidfile string, grace time.Duration) error {
	pid, ok := Running(pidfile)
	if ok {
		if err := StopPID(pid, grace); err != nil {
			return err
		}
	}
	if err := os.Remove(pidfile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// StopPID sends SIGTERM to pid, waits up to grace for it to exit, then sends
// SIGKILL and waits a little more. Only that PID is signalled.
func StopPID(pid int, grace time.Duration) error {
	if !Alive(pid) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("SIGTERM %d: %w", pid, err)
	}
	if waitGone(pid, grace) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGKILL %d: %w", pid, err)
	}
	if waitGone(pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("process %d did not exit after SIGKILL", pid)
}

func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !Alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// LogTail returns the last n lines of a log file ("" if unreadable).
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 256<<10 {
		b = b[len(b)-256<<10:]
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Cmdline returns the argument vector of a running process (nil if gone).
func Cmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// SameCommand reports whether pid runs program with exactly args.
func SameCommand(pid int, program string, args []string) bool {
	argv := Cmdline(pid)
	if len(argv) != len(args)+1 || argv[0] != program {
		return false
	}
	for i, a := range args {
		if argv[i+1] != a {
			return false
		}
	}
	return true
}

// BinaryReplaced reports whether the executable pid runs was replaced or
// removed on disk since it started (e.g. by a rebuild).
func BinaryReplaced(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err != nil || strings.HasSuffix(exe, " (deleted)")
}
