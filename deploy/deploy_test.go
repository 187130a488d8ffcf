package deploy

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// need returns the path of a tool that scripts/test.sh installs.
func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s is needed: apt-get install %s (scripts/test.sh does)", tool, pkg)
	}
	return p
}

func TestAlertRulesLoad(t *testing.T) {
	promtool := need(t, "promtool", "prometheus")
	out, err := exec.Command(promtool, "check", "rules", "prometheus/alerts.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("SUCCESS")) {
		t.Fatalf("promtool check rules: %s", out)
	}
}

var (
	metricRE = regexp.MustCompile(`\btfps_[a-z0-9_]+`)
	// Metric declarations in the Go source: Name: "tfps_x", or
	// Namespace: "tfps", Subsystem: "s", Name: "x".
	declRE   = regexp.MustCompile(`Name:\s*"(tfps_[a-z0-9_]+)"`)
	nsDeclRE = regexp.MustCompile(`Namespace:\s*"tfps",\s*Subsystem:\s*"([a-z0-9_]+)",\s*Name:\s*"([a-z0-9_]+)"`)
)

// exportedMetrics returns the metric names the gateway and the IVR declare.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range declRE.FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
		for _, m := range nsDeclRE.FindAllSubmatch(b, -1) {
			names["tfps_"+string(m[1])+"_"+string(m[2])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 10 {
		t.Fatalf("found only %d metric declarations: %v", len(names), names)
	}
	return names
}

// TestDashboardAndRulesNameExportedMetrics fails on a metric the dashboard
// or the rules use that no code exports (a typo, or a renamed metric).
func TestDashboardAndRulesNameExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	for _, file := range []string{"prometheus/alerts.yml", "grafana/tfps.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		used := map[string]bool{}
		for _, m := range metricRE.FindAll(b, -1) {
			used[string(m)] = true
		}
		if len(used) == 0 {
			t.Fatalf("%s names no tfps metric", file)
		}
		var unknown []string
		for name := range used {
			base := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if !exported[base] && strings.HasSuffix(base, suffix) {
					base = strings.TrimSuffix(base, suffix)
				}
			}
			if !exported[base] {
				unknown = append(unknown, name)
			}
		}
		sort.Strings(unknown)
		if len(unknown) > 0 {
			t.Errorf("%s names metrics nothing exports: %v", file, unknown)
		}
	}
}

// TestDashboardCoversTheProduct checks the dashboard is valid JSON whose
// panels query Prometheus and cover what an operator watches.
func TestDashboardCoversTheProduct(t *testing.T) {
	b, err := os.ReadFile("grafana/tfps.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/tfps.json: %v", err)
	}
	all := string(b)
	for _, m := range []string{"tfps_decisions_total", "tfps_decide_seconds_bucket", "tfps_sip_responses_total", "tfps_dependency_errors_total",
		"tfps_ivr_sessions_total", "tfps_notify_outbox_pending"} {
		if !strings.Contains(all, m) {
			t.Errorf("dashboard lacks %s", m)
		}
	}
	for _, p := range d.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
	}
}

// TestSystemdUnits runs systemd-analyze verify on the units (with ExecStart
// pointed at a stand-in binary, as verify wants it to exist) and fails on
// any complaint, unknown keys included; and holds their hardening with
// systemd-analyze security.
func TestSystemdUnits(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	stub := filepath.Join(dir, "stub")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, unit := range []string{"tfps-gateway.service", "tfps-ivr.service"} {
		b, err := os.ReadFile(filepath.Join("systemd", unit))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"User=tfps", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectSystem=strict", "Restart=on-failure", "EnvironmentFile=-/etc/tfps/tfps.env"} {
			if !bytes.Contains(b, []byte("\n"+want+"\n")) {
				t.Errorf("%s lacks %s", unit, want)
			}
		}
		b = regexp.MustCompile(`(?m)^ExecStart=/usr/bin/\S+`).ReplaceAll(b, []byte("ExecStart="+stub))
		path := filepath.Join(dir, unit)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", path).CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, out)
		}
		// Exposure 0 (locked down) .. 10 (unprotected); keep it under 2.5.
		out, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=25", path).CombinedOutput()
		if err != nil {
			t.Errorf("systemd-analyze security %s: exposure over 2.5: %v\n%s", unit, err, out)
		}
	}
}
