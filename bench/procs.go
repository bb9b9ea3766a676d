package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one server process the harness started. Its stderr (and stdout,
// unless piped) goes to a log file in the work directory.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  *bufio.Reader // nil unless started with pipeStdout
	log     string
	started time.Time
	exited  chan struct{}
	waitErr error
}

type startOpts struct {
	env        []string // added to the harness's filtered environment
	pipeStdout bool     // keep stdout for the caller (READY lines, stdio MCP)
}

// start runs argv as a process named name. The process gets stdin as a pipe:
// closing it is how peers and the Vault role are told to exit.
func (h *harness) start(name string, argv []string, so startOpts) (*proc, error) {
	p := &proc{name: name, log: filepath.Join(h.dir, name+".log"), exited: make(chan struct{})}
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(childEnv(), so.env...)
	p.cmd.Stderr = logf
	p.cmd.SysProcAttr = sysProcAttr()
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if so.pipeStdout {
		out, err := p.cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		p.stdout = bufio.NewReader(out)
	} else {
		p.cmd.Stdout = logf
	}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	h.procs = append(h.procs, p)
	return p, nil
}

// startPeer starts a role that prints "READY <fields>" and returns the fields.
func (h *harness) startPeer(name string, argv []string, env ...string) (*proc, []string, error) {
	p, err := h.start(name, argv, startOpts{env: env, pipeStdout: true})
	if err != nil {
		return nil, nil, err
	}
	line := make(chan string, 1)
	go func() {
		s, _ := p.stdout.ReadString('\n')
		line <- s
		io.Copy(io.Discard, p.stdout)
	}()
	select {
	case s := <-line:
		f := strings.Fields(s)
		if len(f) < 2 || f[0] != "READY" {
			p.stop()
			return nil, nil, fmt.Errorf("%s did not start (see %s): %q", name, p.log, s)
		}
		return p, f[1:], nil
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, nil, fmt.Errorf("%s: no READY line within 60s (see %s)", name, p.log)
	case <-h.ctx.Done():
		p.stop()
		return nil, nil, h.ctx.Err()
	}
}

// startSwitchboard writes config to <name>.yaml, serves it over HTTP on a free
// loopback port and waits until GET /readyz answers 200; it returns the base URL.
func (h *harness) startSwitchboard(name, config string, env ...string) (*proc, string, time.Duration, error) {
	file := filepath.Join(h.dir, name+".yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		return nil, "", 0, err
	}
	port, err := freePort()
	if err != nil {
		return nil, "", 0, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	p, err := h.start(name, []string{h.bin.switchboard, "serve", "--config", file, "--transport", "http", "--listen", addr}, startOpts{env: env})
	if err != nil {
		return nil, "", 0, err
	}
	base := "http://" + addr
	took, err := p.waitReady(h.ctx, base+"/readyz", 60*time.Second)
	if err != nil {
		p.stop()
		return nil, "", 0, err
	}
	return p, base, took, nil
}

// waitReady polls url every millisecond until it answers 200, and returns the
// time since the process started.
func (p *proc) waitReady(ctx context.Context, url string, timeout time.Duration) (time.Duration, error) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.started), nil
			}
		}
		select {
		case <-p.exited:
			return 0, fmt.Errorf("%s exited before it was ready: %v (see %s)", p.name, p.waitErr, p.log)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: %s not 200 within %s (see %s)", p.name, url, timeout, p.log)
		}
	}
}

// stop asks the process to end (stdin closed, SIGTERM) and kills it after 3s.
func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.stdin.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// cpuTime is the process's user + system CPU time so far (/proc/<pid>/stat).
func (p *proc) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid()))
	if err != nil {
		return 0, err
	}
	// Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc stat format")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

// rss is the process's resident set size in bytes (/proc/<pid>/status VmRSS).
func (p *proc) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// childEnv is the harness's environment without what would change how the
// measured servers behave (Vault, switchboard and OpenTelemetry settings).
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VAULT_") || strings.HasPrefix(kv, "SWITCHBOARD_") || strings.HasPrefix(kv, "OTEL_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
