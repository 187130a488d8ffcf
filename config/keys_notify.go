package config

import (
	"fmt"
	"time"
)

// NotifyConfig holds the settings of the notify part of the product (mail
// outbox, SMTP security, templates, rate limit, webhook). The relay address
// and credentials are the TFPS keys in Core (SMTPHost, SMTPUser, ...).
type NotifyConfig struct {
	SMTPTLS        string        // auto, none, starttls, tls
	SMTPAuth       string        // auto, none, plain, login
	SMTPTimeout    time.Duration // each SMTP command's reply
	TimeZone       *time.Location
	TemplatesDir   string
	AlertInterval  time.Duration // one threshold alert per account and kind per interval
	RetryMin       time.Duration // first retry delay, doubled after each failure
	RetryMax       time.Duration // longest retry delay
	MaxAge         time.Duration // give up (state failed) after retrying this long
	WebhookURL     string
	PollInterval   time.Duration
	WebhookTimeout time.Duration
}

func notifyKeys() []Key {
	return []Key{
		choiceKey("TFPS_SMTP_TLS", "auto", "How to protect the SMTP connection: auto (tls on port 465, starttls otherwise), none (loopback or trusted relay only), starttls, tls (implicit TLS).", []string{"auto", "none", "starttls", "tls"}, func(c *Config) *string { return &c.Notify.SMTPTLS }),
		choiceKey("TFPS_SMTP_AUTH", "auto", "SMTP login mechanism: auto (PLAIN if offered, else LOGIN; none without TFPS_SMTP_USER), none, plain, login. The password is never sent in clear text to a host that is not loopback.", []string{"auto", "none", "plain", "login"}, func(c *Config) *string { return &c.Notify.SMTPAuth }),
		durationKey("TFPS_SMTP_TIMEOUT", "30s", "Time allowed for each SMTP step (connect, TLS, each command's reply); the message itself gets twice as long.", time.Second, 10*time.Minute, func(c *Config) *time.Duration { return &c.Notify.SMTPTimeout }),
		{Name: "TFPS_NOTIFY_TIMEZONE", Help: "Time zone of the times shown in mails (IANA name, e.g. America/New_York). Empty: the time zone of TFPS_BUSINESS_HOURS.", Set: func(c *Config, v string) error {
			if v == "" {
				c.Notify.TimeZone = nil
				return nil
			}
			loc, err := time.LoadLocation(v)
			if err != nil {
				return fmt.Errorf("must be an IANA time zone name such as America/New_York or UTC")
			}
			c.Notify.TimeZone = loc
			return nil
		}},
		stringKey("TFPS_NOTIFY_TEMPLATES_DIR", "", "Folder of mail templates that replace the built-in ones: <kind>.tmpl (e.g. quota_exceeded.tmpl) and _common.tmpl, Go text/template defining \"subject\" and \"body\". See docs/notifications.md.", func(c *Config) *string { return &c.Notify.TemplatesDir }),
		durationKey("TFPS_ALERT_INTERVAL", "25m", "At most one threshold alert (burst, concurrent calls, quota, failed verification, fraud rule) per account and kind per interval; the ones held back are summarised in the next mail. 0 disables the limit.", 0, 7*24*time.Hour, func(c *Config) *time.Duration { return &c.Notify.AlertInterval }),
		durationKey("TFPS_NOTIFY_RETRY_MIN", "30s", "Delay before the first retry of a mail that failed for a temporary reason; doubled after each failure.", time.Second, time.Hour, func(c *Config) *time.Duration { return &c.Notify.RetryMin }),
		durationKey("TFPS_NOTIFY_RETRY_MAX", "30m", "Longest delay between two tries of the same mail.", time.Second, 24*time.Hour, func(c *Config) *time.Duration { return &c.Notify.RetryMax }),
		durationKey("TFPS_NOTIFY_MAX_AGE", "72h", "A mail still failing this long after its event is given up (kept in the outbox as failed).", time.Minute, 90*24*time.Hour, func(c *Config) *time.Duration { return &c.Notify.MaxAge }),
		durationKey("TFPS_NOTIFY_POLL", "2s", "How often the outbox worker looks for due mail (a mail queued by the same process is picked up at once).", 100*time.Millisecond, time.Minute, func(c *Config) *time.Duration { return &c.Notify.PollInterval }),
		urlKey("TFPS_WEBHOOK_URL", "", "Optional: also POST every notification as JSON to this URL (chat or incident tool), from the same outbox with the same retries.", []string{"http", "https"}, func(c *Config) *string { return &c.Notify.WebhookURL }),
		durationKey("TFPS_WEBHOOK_TIMEOUT", "10s", "Time allowed for one webhook POST.", time.Second, 5*time.Minute, func(c *Config) *time.Duration { return &c.Notify.WebhookTimeout }),
	}
}
