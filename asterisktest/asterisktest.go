// Package asterisktest starts a private, real Asterisk 22 for a test.
//
// Asterisk runs from the Debian unstable chroot that scripts/asterisk-chroot.sh
// provisions (default /var/cache/tfps/asterisk-sid, TFPS_ASTERISK_CHROOT
// overrides it). Each Start writes its own configuration, run, log and spool
// folders under the chroot's /tmp/tfps/<random>, binds ARI on a free loopback
// port, waits until ARI answers as that very instance (its entity ID), and
// stops Asterisk in t.Cleanup. Several test packages may run their own
// instances at the same time.
//
// The dialplan and module list are the shipped ones (package asterisk), so the
// tests exercise what an operator installs.
package asterisktest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/CyCoreSystems/ari/v5/client/native"

	asteriskconf "github.com/voipshield/tfps/asterisk"
)

// DefaultChroot is where scripts/asterisk-chroot.sh builds the chroot.
const DefaultChroot = "/var/cache/tfps/asterisk-sid"

// EnvChroot overrides DefaultChroot.
const EnvChroot = "TFPS_ASTERISK_CHROOT"

// readyMarker is written by scripts/asterisk-chroot.sh when the chroot is complete.
const readyMarker = ".tfps-asterisk-ready"

// User and Password are the ARI credentials of every test instance.
const (
	User     = "tfps"
	Password = "tfps-test-secret"
)

// Options tune one instance.
type Options struct {
	// Dialplan is appended to the shipped extensions.conf (extra contexts).
	Dialplan string
	// Files adds or replaces files of the instance's etc/ after the shipped
	// ones are prepared (e.g. a pjsip.conf with a transport: by default
	// there is none, so that several instances run side by side; a test
	// that brings one binds its own free loopback port).
	Files map[string]string
	// StartTimeout bounds the wait for ARI (default 30 s).
	StartTimeout time.Duration
}

// Asterisk is one running instance.
type Asterisk struct {
	// URL is the ARI base URL, e.g. http://127.0.0.1:41234/ari.
	URL string
	// WebsocketURL is the ARI events URL.
	WebsocketURL string
	// Chroot is the chroot folder on the host.
	Chroot string
	// Dir is the instance folder as Asterisk sees it (inside the chroot).
	Dir string
	// SoundsDir is an empty folder (as Asterisk sees it) for prompts a test
	// renders; HostPath gives its host path.
	SoundsDir string

	entityID string
	cmd      *exec.Cmd
	logPath  string
	exited   chan struct{}
	timeout  time.Duration
}

// Chroot returns the chroot folder the tests use.
func Chroot() string {
	if d := os.Getenv(EnvChroot); d != "" {
		return d
	}
	return DefaultChroot
}

// Start runs a private Asterisk for t with the shipped configuration.
func Start(t testing.TB) *Asterisk { return StartWith(t, Options{}) }

// StartWith runs a private Asterisk for t. It fails the test (never skips)
// when the chroot is missing or Asterisk does not come up.
func StartWith(t testing.TB, opts Options) *Asterisk {
	t.Helper()
	chroot := Chroot()
	if _, err := os.Stat(filepath.Join(chroot, readyMarker)); err != nil {
		t.Fatalf("asterisktest: no Asterisk chroot at %s (%v): run scripts/asterisk-chroot.sh as root first (TFPS_ASTERISK_CHROOT overrides the folder)", chroot, err)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	removeStale(filepath.Join(chroot, "tmp", "tfps"))
	var lastErr error
	for try := 0; try < 5; try++ {
		a, err := start(t, chroot, opts)
		if err == nil {
			return a
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("asterisktest: start Asterisk: %v", lastErr)
	return nil
}

var errPortTaken = errors.New("ARI port taken by another process")

func start(t testing.TB, chroot string, opts Options) (*Asterisk, error) {
	id := randomHex(6)
	inside := "/tmp/tfps/" + id
	host := filepath.Join(chroot, inside)
	for _, d := range []string{"etc", "run", "log", "spool", "lib", "cache", "sounds"} {
		if err := os.MkdirAll(filepath.Join(host, d), 0o755); err != nil {
			return nil, fmt.Errorf("create instance folder: %w", err)
		}
	}
	t.Cleanup(func() {
		if !t.Failed() || os.Getenv("TFPS_ASTERISK_KEEP") == "" {
			_ = os.RemoveAll(host)
		}
	})

	port, err := freePort()
	if err != nil {
		return nil, err
	}
	entityID := macFromHex(id)
	files, err := instanceConfig(inside, port, entityID, opts)
	if err != nil {
		return nil, err
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(host, "etc", name), []byte(body), 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}

	logPath := filepath.Join(host, "log", "console.log")
	a := &Asterisk{
		URL:          fmt.Sprintf("http://127.0.0.1:%d/ari", port),
		WebsocketURL: fmt.Sprintf("ws://127.0.0.1:%d/ari/events", port),
		Chroot:       chroot,
		Dir:          inside,
		SoundsDir:    inside + "/sounds",
		entityID:     entityID,
		logPath:      logPath,
		timeout:      opts.StartTimeout,
	}
	if err := a.run(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	defer cancel()
	if err := a.waitReady(ctx); err != nil {
		a.stop()
		if errors.Is(err, errPortTaken) {
			t.Logf("asterisktest: port %d taken, retrying on another", port)
		} else {
			t.Logf("asterisktest: console log of the failed instance:\n%s", a.tail(40))
		}
		return nil, err
	}
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("asterisktest: console log (last lines):\n%s", a.tail(60))
		}
	})
	t.Logf("asterisktest: Asterisk pid %d, ARI %s, dir %s", a.PID(), a.URL, host)
	return a, nil
}

// run starts the Asterisk process of this instance.
func (a *Asterisk) run() error {
	logFile, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create console log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command("chroot", a.Chroot, "/usr/sbin/asterisk", "-C", a.Dir+"/etc/asterisk.conf", "-f", "-n")
	cmd.Dir = "/"
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Asterisk dies with the test binary, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run chroot %s asterisk: %w", a.Chroot, err)
	}
	a.cmd, a.exited = cmd, make(chan struct{})
	exited := a.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return nil
}

// Restart stops Asterisk and starts it again with the same configuration
// and port, as an operator's restart would; it returns once ARI answers.
func (a *Asterisk) Restart(t testing.TB) {
	t.Helper()
	a.stop()
	a.start(t)
}

// Crash kills Asterisk (SIGKILL: no hang-ups, no goodbye on the websocket)
// and starts it again on the same port.
func (a *Asterisk) Crash(t testing.TB) {
	t.Helper()
	_ = a.cmd.Process.Kill()
	<-a.exited
	a.start(t)
}

func (a *Asterisk) start(t testing.TB) {
	t.Helper()
	if err := a.run(); err != nil {
		t.Fatalf("asterisktest: restart: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	if err := a.waitReady(ctx); err != nil {
		t.Fatalf("asterisktest: restart: %v\n%s", err, a.tail(40))
	}
}

// PID is the Asterisk process ID (for CPU measurements in /proc).
func (a *Asterisk) PID() int { return a.cmd.Process.Pid }

// HostPath maps a path as Asterisk sees it to the host's path.
func (a *Asterisk) HostPath(inside string) string { return filepath.Join(a.Chroot, inside) }

// Client connects an ARI client for application app to this instance. With
// all set it receives the events of every channel (for a test caller that
// watches the IVR's playbacks). It is closed in t.Cleanup.
func (a *Asterisk) Client(t testing.TB, app string, all bool) ari.Client {
	t.Helper()
	done := make(chan struct{})
	var cl ari.Client
	var err error
	go func() {
		defer close(done)
		cl, err = native.Connect(a.Options(app, all))
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("asterisktest: ARI client %q did not connect to %s within 15 s", app, a.URL)
	}
	if err != nil {
		t.Fatalf("asterisktest: connect ARI client %q: %v", app, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Options returns native client options for application app.
func (a *Asterisk) Options(app string, all bool) *native.Options {
	return &native.Options{
		Application:  app,
		URL:          a.URL,
		WebsocketURL: a.WebsocketURL,
		Username:     User,
		Password:     Password,
		SubscribeAll: all,
	}
}

// CLI runs an Asterisk CLI command against this instance (asterisk -rx).
func (a *Asterisk) CLI(cmd string) (string, error) {
	out, err := exec.Command("chroot", a.Chroot, "/usr/sbin/asterisk", "-C", a.Dir+"/etc/asterisk.conf", "-rx", cmd).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("asterisk -rx %q: %w", cmd, err)
	}
	return string(out), nil
}

// Log returns the console log so far.
func (a *Asterisk) Log() string {
	b, _ := os.ReadFile(a.logPath)
	return string(b)
}

func (a *Asterisk) tail(n int) string {
	lines := strings.Split(strings.TrimRight(a.Log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Stop ends Asterisk now (SIGTERM, then SIGKILL after 5 s). Tests call it to
// check how the IVR survives a restart; Cleanup calls it too.
func (a *Asterisk) Stop() { a.stop() }

func (a *Asterisk) stop() {
	select {
	case <-a.exited:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(5 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

// waitReady polls ARI until it answers as this instance.
func (a *Asterisk) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	delay := 20 * time.Millisecond
	for {
		select {
		case <-a.exited:
			return fmt.Errorf("asterisk exited during start-up (%v)", a.cmd.ProcessState)
		default:
		}
		if strings.Contains(a.Log(), "Failed to bind") || strings.Contains(a.Log(), "Unable to bind") {
			return errPortTaken
		}
		id, err := a.entity(ctx, client)
		switch {
		case err == nil && id == a.entityID:
			return nil
		case err == nil:
			return errPortTaken // another Asterisk answers on our port
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ARI at %s not ready: %w (last error: %v)", a.URL, ctx.Err(), err)
		case <-time.After(delay):
		}
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

func (a *Asterisk) entity(ctx context.Context, client *http.Client) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/asterisk/info", nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(User, Password)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /asterisk/info: %s", resp.Status)
	}
	var info struct {
		System struct {
			EntityID string `json:"entity_id"`
		} `json:"system"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return "", fmt.Errorf("decode /asterisk/info: %w", err)
	}
	return info.System.EntityID, nil
}

// instanceConfig returns the files of etc/: the shipped ones with the
// instance's folders, port and credentials.
func instanceConfig(inside string, port int, entityID string, opts Options) (map[string]string, error) {
	files := map[string]string{}
	err := fs.WalkDir(asteriskconf.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := asteriskconf.Files.ReadFile(path)
		if err != nil {
			return err
		}
		files[path] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read shipped configuration: %w", err)
	}
	files["asterisk.conf"] = fmt.Sprintf(`[directories]
astetcdir => %[1]s/etc
astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules
astvarlibdir => %[1]s/lib
astdbdir => %[1]s/lib
astkeydir => %[1]s/lib
astdatadir => /usr/share/asterisk
astagidir => /usr/share/asterisk/agi-bin
astspooldir => %[1]s/spool
astrundir => %[1]s/run
astlogdir => %[1]s/log
astcachedir => %[1]s/cache
astsbindir => /usr/sbin

[options]
verbose = 1
entityid = %[2]s
transmit_silence = no
`, inside, entityID)
	files["http.conf"] = fmt.Sprintf("[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = %d\n", port)
	files["ari.conf"] = strings.Replace(files["ari.conf"], "password = change-me", "password = "+Password, 1)
	if !strings.Contains(files["ari.conf"], "password = "+Password) {
		return nil, errors.New("shipped ari.conf has no 'password = change-me' line to replace")
	}
	// No SIP listener in tests: several instances run side by side.
	files["pjsip.conf"] = "; no transports in tests\n"
	files["logger.conf"] = "[general]\n[logfiles]\nconsole => notice,warning,error,verbose\n"
	files["extensions.conf"] += "\n" + opts.Dialplan
	for _, empty := range []string{"cdr.conf", "cel.conf", "features.conf", "indications.conf", "acl.conf", "udptl.conf", "ccss.conf", "websocket_client.conf", "rtp.conf", "pjproject.conf"} {
		if _, ok := files[empty]; !ok {
			files[empty] = ""
		}
	}
	files["rtp.conf"] = "[general]\nrtpstart=20000\nrtpend=40000\n"
	for name, body := range opts.Files {
		files[name] = body
	}
	return files, nil
}

// removeStale deletes instance folders left by test binaries that were
// killed before their cleanup ran (nothing written for 6 hours).
func removeStale(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		info, err := os.Stat(filepath.Join(p, "log", "console.log"))
		if err != nil {
			info, err = os.Stat(p)
		}
		if err == nil && e.IsDir() && time.Since(info.ModTime()) > 6*time.Hour {
			_ = os.RemoveAll(p)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// macFromHex formats 12 hex digits as an Asterisk entity ID (a MAC address).
func macFromHex(h string) string {
	var parts []string
	for i := 0; i+2 <= len(h) && len(parts) < 6; i += 2 {
		parts = append(parts, h[i:i+2])
	}
	// unicast, locally administered
	b, _ := strconv.ParseUint(parts[0], 16, 8)
	parts[0] = fmt.Sprintf("%02x", (b|0x02)&^0x01)
	return strings.Join(parts, ":")
}

// CPU returns the user+system CPU time a process has used, from /proc.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read /proc/%d/stat: %w", pid, err)
	}
	// Fields after the command name (which may hold spaces) start after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat times", pid)
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}

// Grep returns the console log lines containing s (for assertions on what
// Asterisk did, e.g. "Playing").
func (a *Asterisk) Grep(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(a.Log()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}
