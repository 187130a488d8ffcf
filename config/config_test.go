package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsAreValid(t *testing.T) {
	cfg, _, err := Load(Options{Lookup: env(nil)})
	if err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if cfg.AuthorizeMethod != 302 || cfg.VerificationMethod != "CAPTCHA" || cfg.MaxCaptchaAttempts != 3 {
		t.Errorf("TFPS defaults not applied: %+v", cfg.Core)
	}
	if cfg.CacheBlockTime != time.Hour {
		t.Errorf("CACHE_BLOCK_TIME default = %s, want 1h", cfg.CacheBlockTime)
	}
	if cfg.SIPListen != "0.0.0.0:5060" {
		t.Errorf("SIP listen derived from TFPS_PORT = %q", cfg.SIPListen)
	}
	if cfg.DatabaseURL != "sqlite://data/tfps.db" {
		t.Errorf("default database = %q", cfg.DatabaseURL)
	}
	if cfg.RedisURL != "redis://127.0.0.1:6379/0" {
		t.Errorf("default redis = %q", cfg.RedisURL)
	}
	if cfg.BusinessHours == nil || cfg.BusinessHours.Location().String() != "America/New_York" {
		t.Errorf("business hours default not parsed")
	}
}

// A broken environment gets every bad key reported at once, each naming
// the key, the bad value and what is allowed.
func TestBrokenEnvironmentListsEveryBadKey(t *testing.T) {
	bad := map[string]string{
		"TFPS_BUSINESS_HOURS":                  "America/New_York|2021-01-04|x",
		"TFPS_PIN":                             "12a4",
		"TFPS_DESTINATION_COUNTRIES_BLACKLIST": "CU,XX,LV",
		"TFPS_DEFAULT_QUOTA":                   "-3",
		"TFPS_AUTHORIZE_METHOD":                "404",
		"TFPS_VERIFICATION_METHOD":             "SMS",
		"TFPS_CACHE_BLOCK_TIME":                "forever",
		"TFPS_HTTP_LISTEN":                     "localhost",
		"TFPS_REDIS_URL":                       "http://x",
		"TFPS_NOTIFICATION_EMAIL":              "not an address",
		"TFPS_PUBLIC_IP":                       "3.95.189",
		"TFPS_LOG_LEVEL":                       "loud",
	}
	_, _, err := Load(Options{Lookup: env(bad)})
	var errs Errors
	if !errors.As(err, &errs) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("Load = %v, want Errors", err)
	}
	got := map[string]FieldError{}
	for _, e := range errs {
		got[e.Key] = e
	}
	for k, v := range bad {
		e, ok := got[k]
		if !ok {
			t.Errorf("%s=%q not reported", k, v)
			continue
		}
		if k != "TFPS_PIN" && e.Value != v {
			t.Errorf("%s reported value %q, want %q", k, e.Value, v)
		}
		if e.Msg == "" {
			t.Errorf("%s has no explanation", k)
		}
	}
	if len(errs) != len(bad) {
		t.Errorf("got %d errors, want %d:\n%v", len(errs), len(bad), err)
	}
	msg := err.Error()
	for _, want := range []string{`"XX"`, "exactly 4 digits", "302 or 503", "CAPTCHA, PIN", "from 0 to 1000000"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error text lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "12a4") {
		t.Errorf("secret PIN value leaked into the error text:\n%s", msg)
	}
}

func TestPINRequiredForPINMethod(t *testing.T) {
	_, _, err := Load(Options{Lookup: env(map[string]string{"TFPS_VERIFICATION_METHOD": "PIN"})})
	if err == nil || !strings.Contains(err.Error(), "TFPS_PIN") {
		t.Fatalf("PIN method without a PIN: %v", err)
	}
}

func TestFileThenEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tfps.conf")
	os.WriteFile(path, []byte("# comment\nTFPS_DEFAULT_QUOTA=20\nTFPS_SMTP_PASSWORD=\"p#ss \\\"word\\\"\"\nTFPS_SMTP_HOST=mail.example.net # relay\n"), 0o600)
	cfg, _, err := Load(Options{File: path, Lookup: env(map[string]string{"TFPS_DEFAULT_QUOTA": "30"})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultQuota != 30 {
		t.Errorf("environment should win over the file: quota %d", cfg.DefaultQuota)
	}
	if cfg.SMTPPassword != `p#ss "word"` || cfg.SMTPHost != "mail.example.net" {
		t.Errorf("file values: password %q host %q", cfg.SMTPPassword, cfg.SMTPHost)
	}
	src := map[string]Setting{}
	for _, s := range cfg.Settings() {
		src[s.Key] = s
	}
	if src["TFPS_DEFAULT_QUOTA"].Source != FromEnv || src["TFPS_SMTP_HOST"].Source != FromFile || src["TFPS_PORT"].Source != FromDefault {
		t.Errorf("sources wrong: %+v %+v %+v", src["TFPS_DEFAULT_QUOTA"], src["TFPS_SMTP_HOST"], src["TFPS_PORT"])
	}
	if src["TFPS_SMTP_PASSWORD"].Value != "****" {
		t.Errorf("secret not masked: %q", src["TFPS_SMTP_PASSWORD"].Value)
	}
}

func TestFileUnknownKeyAndSyntax(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.conf")
	os.WriteFile(path, []byte("TFPS_DEFAULT_QUOTTA=3\n"), 0o600)
	_, _, err := Load(Options{File: path, Lookup: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "did you mean TFPS_DEFAULT_QUOTA") {
		t.Errorf("typo in file: %v", err)
	}
	os.WriteFile(path, []byte("just words\n"), 0o600)
	_, _, err = Load(Options{File: path, Lookup: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("syntax error: %v", err)
	}
	_, _, err = Load(Options{File: filepath.Join(dir, "missing.conf"), Lookup: env(nil)})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// The importer reads the example defines.m4 of the TFPS README (seed 000),
// writes a config file, and that file reads back to the very same values.
func TestImportM4RoundTrip(t *testing.T) {
	src, err := os.ReadFile("testdata/defines.m4.seed000")
	if err != nil {
		t.Fatal(err)
	}
	kvs, warnings, err := ImportM4(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"TFPS_PRIVATE_IP":                      "172.31.92.20",
		"TFPS_PUBLIC_IP":                       "3.95.189.100",
		"TFPS_PORT":                            "5060",
		"TFPS_SQL_ACCOUNT":                     "root",
		"TFPS_SQL_PASSWORD":                    "",
		"TFPS_ABUSE_DB_KEY":                    "a386a124f2474f95417eadff5bfa0badbae51c3dd81895c9d0e3e597e294b5a96108a0f5124064ab",
		"TFPS_BUSINESS_HOURS":                  "America/New_York|20210104T090000|21000104T170000||WEEKLY|||MO,TU,WE,TH,FR",
		"TFPS_AUTHORIZE_METHOD":                "302",
		"TFPS_VERIFICATION_METHOD":             "CAPTCHA",
		"TFPS_PIN":                             "6578",
		"TFPS_MAX_CAPTCHAATTEMPTS":             "3",
		"TFPS_CACHE_BLOCK_TIME":                "3600",
		"TFPS_MAX_CONCURRENT":                  "5",
		"TFPS_DESTINATION_COUNTRIES_BLACKLIST": "CU,LV,TN,DZ,MA,AF,IQ,LK,LH,MV,TD,GN,EE,MG",
		"TFPS_NOTIFICATION_EMAIL":              "flavio@voffice.com.br",
		"TFPS_SMTP_HOST":                       "smtp.gmail.com",
		"TFPS_SMTP_EMAIL":                      "wehostvoip@gmail.com",
		"TFPS_SMTP_ACCOUNT":                    "gmail",
		"TFPS_SMTP_USER":                       "wehostvoip",
		"TFPS_SMTP_PASSWORD":                   "P1p1l1n1#",
		"TFPS_SMTP_FROM":                       "cloud@wehostvoip.io",
		"TFPS_DEFAULT_CONCURRENT_CALLS":        "2",
		"TFPS_DEFAULT_CONCURRENT_CALLS_OFF":    "0",
		"TFPS_DEFAULT_QUOTA":                   "10",
		"TFPS_DEFAULT_QUOTA_OFF":               "2",
		"TFPS_DEFAULT_SOURCE_COUNTRIES":        "US",
		"TFPS_DEFAULT_DESTINATION_COUNTRIES":   "US",
	}
	if len(kvs) != len(want) {
		t.Errorf("imported %d keys, want %d: %v", len(kvs), len(want), kvs)
	}
	// PIN is defined twice in the example: reported, last value kept.
	if !strings.Contains(strings.Join(warnings, "\n"), "PIN defined again") {
		t.Errorf("duplicate PIN not reported: %v", warnings)
	}
	var buf bytes.Buffer
	if err := WriteFile(&buf, []string{"imported"}, kvs); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tfps.conf")
	os.WriteFile(path, buf.Bytes(), 0o600)
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range back {
		got[kv.Key] = kv.Value
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s round-tripped to %q, want %q", k, got[k], v)
		}
	}
	// The imported file is loadable; the only complaint is the example's
	// own typo "LH", which is not a country code.
	_, _, err = Load(Options{File: path, Lookup: env(nil)})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Key != "TFPS_DESTINATION_COUNTRIES_BLACKLIST" || !strings.Contains(errs[0].Msg, `"LH"`) {
		t.Errorf("loading the imported example: %v", err)
	}
}

// Seed 001's example quotes one value with ' instead of ` and leaves
// values empty; the importer still reads it.
func TestImportM4Seed001(t *testing.T) {
	f, err := os.Open("testdata/defines.m4.seed001")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kvs, _, err := ImportM4(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range kvs {
		got[kv.Key] = kv.Value
	}
	if got["TFPS_SMTP_ACCOUNT"] != "some_account" || got["TFPS_AUTHORIZE_METHOD"] != "503" || got["TFPS_ISP_EMAIL"] != "from_email" {
		t.Errorf("seed 001 values: %v", got)
	}
	if _, ok := got["TFPS_PUBLIC_IP"]; !ok {
		t.Errorf("empty PUBLIC_IP lost")
	}
}

func TestImportM4Errors(t *testing.T) {
	_, _, err := ImportM4(strings.NewReader("hello\n"))
	if err == nil || !strings.Contains(err.Error(), "no define") {
		t.Errorf("not an m4 file: %v", err)
	}
	_, _, err = ImportM4(strings.NewReader("define(`PORT', 5060)\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("unquoted value: %v", err)
	}
	kvs, warnings, err := ImportM4(strings.NewReader("define(`PORT', `5070')\ndefine(`FOO', `bar')\n"))
	if err != nil || len(kvs) != 1 || len(warnings) != 1 || !strings.Contains(warnings[0], "FOO") {
		t.Errorf("unknown name: %v %v %v", kvs, warnings, err)
	}
}
