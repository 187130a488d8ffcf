package replay

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voipshield/tfps/command"
)

// TestCommand runs `gateway replay` as the binary does: sample in, lines
// to --out, the table on stdout, --summary-json; a bad line exits 1 naming
// it.
func TestCommand(t *testing.T) {
	for k, v := range testVars(t, nil) {
		t.Setenv(k, v)
	}
	prog := command.Program{Name: "gateway", Commands: []command.Command{Command, SampleCommand}}
	dir := t.TempDir()
	var sample, stderr bytes.Buffer
	if code := command.Main(prog, []string{"replay-sample", "--lines", "500", "--accounts", "20"}, &sample, &stderr); code != 0 {
		t.Fatalf("replay-sample: exit %d: %s", code, stderr.String())
	}
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, sample.Bytes(), 0o600)
	out, sumFile := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "sum.json")
	var stdout bytes.Buffer
	stderr.Reset()
	if code := command.Main(prog, []string{"replay", "--out", out, "--summary-json", sumFile, in}, &stdout, &stderr); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr.String())
	}
	b, _ := os.ReadFile(out)
	if n := bytes.Count(b, []byte("\n")); n != 500 {
		t.Errorf("%d output lines, want 500", n)
	}
	if !strings.Contains(stdout.String(), "Replayed 500 lines") || !strings.Contains(stdout.String(), "V01") {
		t.Errorf("table:\n%s", stdout.String())
	}
	var sum Summary
	sb, _ := os.ReadFile(sumFile)
	if err := json.Unmarshal(sb, &sum); err != nil || sum.Lines != 500 || len(sum.Accounts) != 20 || sum.Scenarios["toll-fraud"] == nil {
		t.Errorf("summary json (%v): %s", err, sb)
	}

	os.WriteFile(in, append(sample.Bytes(), "{\"time\":\"2020-01-01T00:00:00Z\"}\n"...), 0o600)
	stderr.Reset()
	if code := command.Main(prog, []string{"replay", "--out", out, in}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "in.jsonl:501: field time:") {
		t.Errorf("bad line: exit %d, stderr %s", code, stderr.String())
	}
	if code := command.Main(prog, []string{"replay"}, &stdout, &stderr); code != command.ExitUsage {
		t.Errorf("no input: exit %d, want %d", code, command.ExitUsage)
	}
}
