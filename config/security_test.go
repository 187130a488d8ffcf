package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Secrets in output: passwords inside URLs (TFPS_DATABASE_URL,
// TFPS_REDIS_URL, any URL setting) are masked in what check-config prints
// and in every configuration error, and so is the value of a mistyped key
// whose name says it holds a secret.
func TestSecretsInOutput(t *testing.T) {
	const pg, rd = "pgS3cretPW", "r3disPW"
	cfg, _, err := Load(Options{Lookup: env(map[string]string{
		"TFPS_DATABASE_URL": "postgres://tfps:" + pg + "@127.0.0.1:5432/test",
		"TFPS_REDIS_URL":    "redis://:" + rd + "@127.0.0.1:6379/0",
	})})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cfg.Settings() {
		if strings.Contains(s.Value, pg) || strings.Contains(s.Value, rd) {
			t.Errorf("check-config shows %s=%s", s.Key, s.Value)
		}
		if s.Key == "TFPS_DATABASE_URL" && s.Value != "postgres://tfps:****@127.0.0.1:5432/test" {
			t.Errorf("TFPS_DATABASE_URL shown as %q, want the password masked and the rest kept", s.Value)
		}
	}
	if cfg.DatabaseURL != "postgres://tfps:"+pg+"@127.0.0.1:5432/test" {
		t.Errorf("the effective value lost its password: %q", cfg.DatabaseURL)
	}

	path := filepath.Join(t.TempDir(), "tfps.conf")
	os.WriteFile(path, []byte("TFPS_SMTP_PASWORD=mailS3cret\n"), 0o600)
	_, _, err = Load(Options{File: path, Lookup: env(map[string]string{
		"TFPS_DATABASE_URL": "mysql://tfps:" + pg + "@db/tfps",
		"TFPS_REDIS_URL":    "http://:" + rd + "@127.0.0.1:6379/0",
	})})
	if err == nil {
		t.Fatal("bad URLs accepted")
	}
	for _, secret := range []string{pg, rd, "mailS3cret"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("configuration error shows a secret:\n%v", err)
		}
	}
}
