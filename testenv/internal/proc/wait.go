package proc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// PortInUseError says that a port the fleet needs is already taken.
type PortInUseError struct {
	Addr      string
	Component string
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %s needed by %s is already in use (another testenv, or another program?)", e.Addr, e.Component)
}

// CheckPortFree returns a *PortInUseError naming addr and component when
// something already listens on addr ("127.0.0.1:16443").
func CheckPortFree(addr, component string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return &PortInUseError{Addr: addr, Component: component}
		}
		return fmt.Errorf("port %s for %s: %w", addr, component, err)
	}
	return l.Close()
}

// WaitOptions tunes WaitTCP and WaitHTTP.
type WaitOptions struct {
	// PID, if > 0, is watched: when it dies the wait fails at once.
	PID int
	// LogFile is quoted (last lines) in the error when the wait fails.
	LogFile string
	// Interval between attempts (default 100ms).
	Interval time.Duration
	// TLS is used for https URLs (nil: no verification, loopback only).
	TLS *tls.Config
	// OK decides whether an HTTP status means ready (default: 200).
	OK func(status int) bool
}

func (o *WaitOptions) interval() time.Duration {
	if o == nil || o.Interval <= 0 {
		return 100 * time.Millisecond
	}
	return o.Interval
}

func (o *WaitOptions) fail(what string, last error) error {
	msg := what
	if last != nil {
		msg += ": " + last.Error()
	}
	if o != nil && o.LogFile != "" {
		if t := LogTail(o.LogFile, 15); t != "" {
			msg += "\n--- last lines of " + o.LogFile + " ---\n" + t
		}
	}
	return errors.New(msg)
}

// WaitTCP waits until addr accepts TCP connections or ctx ends.
func WaitTCP(ctx context.Context, addr string, o *WaitOptions) error {
	var last error
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		last = err
		if o != nil && o.PID > 0 && !Alive(o.PID) {
			return o.fail(fmt.Sprintf("process %d exited before %s accepted connections", o.PID, addr), nil)
		}
		select {
		case <-ctx.Done():
			return o.fail(waitEnded(ctx, addr), last)
		case <-time.After(o.interval()):
		}
	}
}

// WaitHTTP polls url with GET until the status is accepted by o.OK
// (default 200) or ctx ends.
func WaitHTTP(ctx context.Context, url string, o *WaitOptions) error {
	tc := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback readiness probe
	if o != nil && o.TLS != nil {
		tc = o.TLS
	}
	ok := func(s int) bool { return s == http.StatusOK }
	if o != nil && o.OK != nil {
		ok = o.OK
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return nil
			}
			last = fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
		} else {
			last = err
		}
		if o != nil && o.PID > 0 && !Alive(o.PID) {
			return o.fail(fmt.Sprintf("process %d exited before %s was ready", o.PID, url), nil)
		}
		select {
		case <-ctx.Done():
			return o.fail(waitEnded(ctx, url), last)
		case <-time.After(o.interval()):
		}
	}
}

func waitEnded(ctx context.Context, what string) string {
	if errors.Is(ctx.Err(), context.Canceled) {
		return "canceled while waiting for " + what
	}
	return "timed out waiting for " + what
}
