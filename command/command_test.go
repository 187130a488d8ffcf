package command

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voipshield/tfps/config"
)

func program() Program {
	return Program{Name: "tfpstest", Summary: "test", Run: func(ctx context.Context, env *Env) error { return nil }}
}

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(program(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runMain(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "tfpstest ") {
		t.Errorf("--version: %d %q", code, out)
	}
}

// check-config on a broken environment lists every bad key and exits 78.
func TestCheckConfigListsEveryBadKey(t *testing.T) {
	t.Setenv("TFPS_PIN", "12a4")
	t.Setenv("TFPS_BUSINESS_HOURS", "garbage")
	t.Setenv("TFPS_DEFAULT_QUOTA", "-1")
	t.Setenv("TFPS_DEFAULT_SOURCE_COUNTRIES", "US,QQ")
	code, out, errs := runMain(t, "check-config")
	if code != ExitConfig {
		t.Errorf("exit %d, want %d", code, ExitConfig)
	}
	for _, k := range []string{"TFPS_PIN", "TFPS_BUSINESS_HOURS", "TFPS_DEFAULT_QUOTA", "TFPS_DEFAULT_SOURCE_COUNTRIES"} {
		if !strings.Contains(errs, k) {
			t.Errorf("stderr lacks %s:\n%s", k, errs)
		}
	}
	if !strings.Contains(errs, "4 error(s)") || strings.Contains(errs+out, "12a4") {
		t.Errorf("error summary or secret handling wrong:\n%s", errs)
	}
	if !strings.Contains(out, "TFPS_PORT=5060\t# default") {
		t.Errorf("effective configuration not printed:\n%s", out)
	}
}

func TestCheckConfigOK(t *testing.T) {
	t.Setenv("TFPS_SMTP_PASSWORD", "hunter2")
	code, out, errs := runMain(t, "check-config")
	if code != 0 || !strings.Contains(errs, "configuration OK") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "TFPS_SMTP_PASSWORD=****\t# env") {
		t.Errorf("secret not masked:\n%s", out)
	}
}

// check-config says which reputation services are on and why the others
// are off.
func TestCheckConfigReputationServices(t *testing.T) {
	code, _, errs := runMain(t, "check-config")
	if code != 0 || !strings.Contains(errs, "reputation: AbuseIPDB: off (TFPS_ABUSE_DB_KEY is empty") || !strings.Contains(errs, "reputation: APIBAN: off") {
		t.Fatalf("exit %d, both services should be reported off:\n%s", code, errs)
	}
	t.Setenv("TFPS_ABUSE_DB_KEY", "k")
	t.Setenv("TFPS_APIBAN_KEY", "k2")
	t.Setenv("TFPS_APIBAN_URL", "http://127.0.0.1:9/api")
	code, _, errs = runMain(t, "check-config")
	if code != 0 || !strings.Contains(errs, "reputation: AbuseIPDB: on (https://api.abuseipdb.com/api/v2") || !strings.Contains(errs, "reputation: APIBAN: on (http://127.0.0.1:9/api, polled every 5m0s") {
		t.Errorf("exit %d, both services should be reported on:\n%s", code, errs)
	}
}

func TestImportM4Command(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "tfps.conf")
	src, _ := filepath.Abs("../config/testdata/defines.m4.seed000")
	code, _, errs := runMain(t, "import-m4", src, "-o", out)
	if code != 0 {
		t.Fatalf("import-m4 exit %d: %s", code, errs)
	}
	kvs, err := config.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range kvs {
		got[kv.Key] = kv.Value
	}
	if got["TFPS_SMTP_PASSWORD"] != "P1p1l1n1#" || got["TFPS_BUSINESS_HOURS"] != config.DefaultBusinessHours {
		t.Errorf("imported values: %v", got)
	}
	// Refuses to overwrite.
	if code, _, errs := runMain(t, "import-m4", src, "-o", out); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("overwrite: %d %s", code, errs)
	}
	// check-config on the imported file names the example's bad country "LH".
	code, _, errs = runMain(t, "--config", out, "check-config")
	if code != ExitConfig || !strings.Contains(errs, `"LH"`) {
		t.Errorf("check-config of the import: %d %s", code, errs)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errs := runMain(t, "frobnicate"); code != ExitUsage || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %s", code, errs)
	}
}

// The README's configuration table is generated from the key declarations:
// a key missing from the README, or a stale description, fails here. Run
// `TFPS_UPDATE_README=1 go test ./command` to rewrite the table.
func TestReadmeConfigTable(t *testing.T) {
	replaceOrCheck(t, "config-table", ConfigTable())
	b, _ := os.ReadFile("../README.md")
	for _, k := range config.Keys() {
		if !strings.Contains(string(b), "`"+k.Name+"`") {
			t.Errorf("README lacks %s", k.Name)
		}
	}
}

// replaceOrCheck compares the README's generated section name with want,
// or rewrites it when TFPS_UPDATE_README is set.
func replaceOrCheck(t *testing.T, name, want string) {
	t.Helper()
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", begin, end)
	}
	if readme[i+len(begin):j] == want {
		return
	}
	if os.Getenv("TFPS_UPDATE_README") != "" {
		if err := os.WriteFile("../README.md", []byte(readme[:i+len(begin)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README %s is stale: run TFPS_UPDATE_README=1 go test ./command", name)
}

// The README's reason-code table is the engine's published table.
func TestReadmeCodesTable(t *testing.T) {
	replaceOrCheck(t, "codes-table", CodesTable())
}
