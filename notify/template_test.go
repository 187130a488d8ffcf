package notify

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voipshield/tfps"
)

func TestEveryKindRendersWithItsFacts(t *testing.T) {
	tmpl, err := LoadTemplates("", nyc)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range tfps.NotificationKinds {
		t.Run(string(kind), func(t *testing.T) {
			n := sample(kind)
			subject, body, err := tmpl.Render(&n, nil)
			if err != nil {
				t.Fatal(err)
			}
			if subject == "" || strings.ContainsAny(subject, "\r\n") || !strings.HasPrefix(subject, "[TFPS] ") {
				t.Errorf("subject %q", subject)
			}
			// Every mail names the account, the source and the time in the operator's zone.
			for _, want := range []string{"1001@pbx.example.com", "203.0.113.7", "2026-01-02 10:04:05 EST"} {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
			if strings.Contains(body, "<no value>") || strings.Contains(subject, "<no value>") {
				t.Errorf("a field rendered as <no value>:\n%s\n%s", subject, body)
			}
		})
	}
}

func TestKindSpecificFacts(t *testing.T) {
	tmpl, err := LoadTemplates("", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n       tfps.Notification
		subject string
		body    []string
	}{
		{tfps.Notification{Kind: tfps.NotifyConcurrentCallsExceeded, User: "u", Domain: "d", Count: 3, Limit: 2, OffHours: true},
			"[TFPS] u@d: 3 concurrent calls, limit 2 (off hours)", []string{"over the off hours limit of 2"}},
		{tfps.Notification{Kind: tfps.NotifyQuotaRaised, User: "u", Domain: "d", DailyQuota: 11, DailyQuotaOff: 3, OffHours: true},
			"[TFPS] Daily quota of u@d raised to 3 (off hours)", []string{"Daily quota:      11 in business hours, 3 off hours"}},
		{tfps.Notification{Kind: tfps.NotifySourceCountryAdded, User: "u", Domain: "d", SourceCountry: "BR", Countries: []string{"US", "BR"}},
			"[TFPS] u@d may now call from BR", []string{"Source countries now: US, BR", "From country: BR"}},
		{tfps.Notification{Kind: tfps.NotifyRangeAllowed, User: "u", Domain: "d", Number: "+442079460001", Range: "4420794"},
			"[TFPS] u@d may now call the high-risk range +4420794", []string{"allowed for this account only", "Range:        +4420794", "Number:       +442079460001"}},
		{tfps.Notification{Kind: tfps.NotifyRangeRaised, User: "u", Domain: "d", Range: "44207946"},
			"[TFPS] u@d may call more numbers of the range +44207946 for a while", []string{"range hopping", "twice as many numbers"}},
		{tfps.Notification{Kind: tfps.NotifyRuleVerified, User: "u", Domain: "d", Number: "+12025550123"},
			"[TFPS] u@d passed the verification of a fraud rule's warning", []string{"not asked again", "Number:       +12025550123"}},
		{tfps.Notification{Kind: tfps.NotifyBurst, User: "u", Domain: "d", Caller: "1001", Number: "+34911234567", Count: 6, Limit: 5},
			"[TFPS] 1001 called +34911234567 6 times: pair blocked", []string{"more than the 5 allowed"}},
		{tfps.Notification{Kind: tfps.NotifyFraudCritical, User: "u", Domain: "d", Fields: map[string]string{"rule_id": "7", "param": "calls per minute", "value": "40", "threshold": "30"}},
			"[TFPS] Fraud rule CRITICAL: u@d calls per minute 40 (threshold 30)", []string{"Rule:         7"}},
		{tfps.Notification{Kind: tfps.NotifyFraudWarning, User: "u", Domain: "d"}, // fields missing: empty, not an error
			"[TFPS] Fraud rule WARNING: u@d (threshold )", nil},
	} {
		t.Run(string(tc.n.Kind), func(t *testing.T) {
			tc.n.At = start
			subject, body, err := tmpl.Render(&tc.n, nil)
			if err != nil {
				t.Fatal(err)
			}
			if subject != tc.subject {
				t.Errorf("subject %q, want %q", subject, tc.subject)
			}
			for _, want := range tc.body {
				if !strings.Contains(body, want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
		})
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOperatorOverridesTemplates(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"quota_exceeded.tmpl": `{{define "subject"}}QUOTA {{.Account}} {{.Count}}/{{.Limit}}{{end}}{{define "body"}}Custom body for {{.User}} at {{.Time}}{{template "footer" .}}{{end}}`,
		"_common.tmpl":        `{{define "footer"}} -- ACME NOC{{end}}`,
	})
	tmpl, err := LoadTemplates(dir, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	n := tfps.Notification{Kind: tfps.NotifyQuotaExceeded, At: start, User: "1001", Domain: "d", Count: 12, Limit: 10}
	subject, body, err := tmpl.Render(&n, nil)
	if err != nil {
		t.Fatal(err)
	}
	if subject != "QUOTA 1001@d 12/10" || body != "Custom body for 1001 at 2026-11-23 14:00:00 UTC -- ACME NOC" {
		t.Errorf("override not used: %q / %q", subject, body)
	}
	// Kinds without an override keep the built-in text, with the overridden footer.
	n.Kind = tfps.NotifyNewAccount
	subject, body, _ = tmpl.Render(&n, nil)
	if subject != "[TFPS] New account 1001@d" || !strings.HasSuffix(strings.TrimSpace(body), "-- ACME NOC") {
		t.Errorf("built-in with common override: %q / %q", subject, body)
	}
}

func TestBrokenOverridesFailAtStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"syntax", map[string]string{"ab_burst.tmpl": `{{define "subject"}}{{.Account}{{end}}`}, "parse template ab_burst.tmpl"},
		{"unknown field", map[string]string{"ab_burst.tmpl": `{{define "subject"}}{{.Nope}}{{end}}`}, "render ab_burst template"},
		{"misnamed file", map[string]string{"quota_exceded.tmpl": `{{define "subject"}}x{{end}}`}, "quota_exceded.tmpl names no notification kind"},
		{"missing template", map[string]string{"new_account.tmpl": `{{define "body"}}{{template "missing" .}}{{end}}`}, `template "missing" not defined`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadTemplates(writeFiles(t, tc.files), time.UTC)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := LoadTemplates(filepath.Join(t.TempDir(), "absent"), time.UTC); err == nil {
		t.Error("a missing templates folder was accepted")
	}
}

func TestTemplateErrorIsFinal(t *testing.T) {
	tmpl, err := LoadTemplates("", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = tmpl.Render(&tfps.Notification{Kind: "no_such_kind"}, nil)
	var te *TemplateError
	if !errors.As(err, &te) || Retryable(err) {
		t.Fatalf("got %v (retryable %v), want a final TemplateError", err, Retryable(err))
	}
}
