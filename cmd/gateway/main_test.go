package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/state/statetest"
)

func TestVersionFlag(t *testing.T) {
	out, err := exec.Command(gatewaytest.Binary(t), "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "gateway ") {
		t.Fatalf("--version: %q %v", out, err)
	}
}

// The real binary starts on free ports, answers /healthz, and on SIGTERM
// stops cleanly with exit status 0.
func TestRunAndStopOnSIGTERM(t *testing.T) {
	bin := gatewaytest.Binary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"TFPS_HTTP_LISTEN=127.0.0.1:0",
		"TFPS_SIP_LISTEN=127.0.0.1:0",
		"TFPS_DATA_DIR="+dir,
		"TFPS_REDIS_URL="+statetest.RedisURL(),
		"TFPS_REDIS_PREFIX=tfpstest:"+filepath.Base(dir)+":",
	)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	addrRE := regexp.MustCompile(`msg="gateway started".* http=(\S+)`)
	var addr string
	var log strings.Builder
	timeout := time.After(60 * time.Second)
	for addr == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("gateway exited before it started:\n%s", log.String())
			}
			log.WriteString(l + "\n")
			if m := addrRE.FindStringSubmatch(l); m != nil {
				addr = m[1]
			}
		case <-timeout:
			t.Fatalf("no start line within 60s:\n%s", log.String())
		}
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("healthz %d %s", resp.StatusCode, body)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() {
		for l := range lines {
			log.WriteString(l + "\n")
		}
		done <- cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, log.String())
		}
	case <-ctx.Done():
		t.Fatalf("still running 60s after SIGTERM:\n%s", log.String())
	}
	if !strings.Contains(log.String(), `msg=stopped`) {
		t.Errorf("no clean stop in the log:\n%s", log.String())
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("HTTP still answering after exit")
	}
}
