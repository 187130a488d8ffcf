package command

import (
	"strings"
	"testing"
)

// Settings silently ignored: check-config warns about every accepted
// setting that the other settings make moot, and says nothing about
// settings that work (the reputation keys are read by their clients).
func TestCheckConfigWarnsSettingsWithoutEffect(t *testing.T) {
	t.Setenv("TFPS_ABUSE_DB_KEY", "abuse-secret-key")
	t.Setenv("TFPS_APIBAN_KEY", "apiban-secret-key")
	t.Setenv("TFPS_ABUSE_SCORE_LIMIT", "50")
	t.Setenv("TFPS_SIP_LISTEN", "127.0.0.1:5062")
	t.Setenv("TFPS_PORT", "5070")
	t.Setenv("TFPS_SMTP_PASSWORD", "hunter2")
	t.Setenv("TFPS_WEBHOOK_TIMEOUT", "20s")
	t.Setenv("TFPS_DEFAULT_QUOTA", "20")
	code, _, errs := runMain(t, "check-config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, k := range []string{"TFPS_PORT", "TFPS_SMTP_PASSWORD", "TFPS_WEBHOOK_TIMEOUT"} {
		if !strings.Contains(errs, "warning: "+k+": has no effect") {
			t.Errorf("no warning that %s has no effect:\n%s", k, errs)
		}
	}
	// The reputation keys and the abuse score limit work once a key is
	// set, and the quota always works.
	for _, k := range []string{"TFPS_ABUSE_DB_KEY", "TFPS_APIBAN_KEY", "TFPS_ABUSE_SCORE_LIMIT", "TFPS_DEFAULT_QUOTA"} {
		if strings.Contains(errs, "warning: "+k) {
			t.Errorf("warning about %s, which has an effect:\n%s", k, errs)
		}
	}
	if strings.Contains(errs, "abuse-secret-key") || strings.Contains(errs, "hunter2") {
		t.Errorf("a warning shows a secret:\n%s", errs)
	}

	t.Setenv("TFPS_ABUSE_DB_KEY", "")
	_, _, errs = runMain(t, "check-config")
	if !strings.Contains(errs, "warning: TFPS_ABUSE_SCORE_LIMIT: has no effect without TFPS_ABUSE_DB_KEY") {
		t.Errorf("no warning that the score limit needs the AbuseIPDB key:\n%s", errs)
	}
}
