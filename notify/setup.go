package notify

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps/config"
)

// FromConfig builds the delivery worker from the configuration: the mail
// channel when TFPS_SMTP_HOST is set, the webhook when TFPS_WEBHOOK_URL is.
// With neither, the worker idles and mail stays queued in the outbox until a
// relay is configured. A bad setting or template is reported here, at start.
func FromConfig(cfg *config.Config, outbox Outbox, reg prometheus.Registerer, log *slog.Logger, now func() time.Time) (*Worker, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	loc := cfg.Notify.TimeZone
	if loc == nil && cfg.BusinessHours != nil {
		loc = cfg.BusinessHours.Location()
	}
	tmpl, err := LoadTemplates(cfg.Notify.TemplatesDir, loc)
	if err != nil {
		return nil, fmt.Errorf("load mail templates: %w", err)
	}
	var channels []Channel
	if cfg.SMTPHost != "" {
		mailer, err := NewMailer(SMTPConfigFrom(cfg))
		if err != nil {
			return nil, err
		}
		if len(cfg.NotificationEmail) == 0 {
			log.Warn("TFPS_NOTIFICATION_EMAIL is empty: only accounts with their own address get mail")
		}
		email := NewEmail(mailer, tmpl, cfg.SMTPFrom, cfg.NotificationEmail, now)
		email.Envelope = cfg.SMTPEmail
		channels = append(channels, email)
	} else {
		log.Warn("TFPS_SMTP_HOST is empty: notifications stay queued in the outbox")
	}
	if cfg.Notify.WebhookURL != "" {
		channels = append(channels, &Webhook{URL: cfg.Notify.WebhookURL, Templates: tmpl,
			Client: &http.Client{Timeout: cfg.Notify.WebhookTimeout}})
	}
	interval := cfg.Notify.AlertInterval
	if interval == 0 {
		interval = -1 // 0 in the configuration disables the limit
	}
	return NewWorker(outbox, channels, WorkerConfig{
		PollInterval:  cfg.Notify.PollInterval,
		RetryMin:      cfg.Notify.RetryMin,
		RetryMax:      cfg.Notify.RetryMax,
		MaxAge:        cfg.Notify.MaxAge,
		AlertInterval: interval,
		Lease:         leaseFor(cfg.Notify.SMTPTimeout),
		Now:           now,
		Logger:        log.With("component", "notify"),
		Registerer:    reg,
	})
}

// leaseFor keeps the lease well above the longest possible send: connect,
// TLS, a handful of commands and the submission, each bounded by timeout.
func leaseFor(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return DefaultLease
	}
	return max(DefaultLease, 20*timeout)
}

// SMTPConfigFrom maps the TFPS_SMTP_* settings to an SMTPConfig.
func SMTPConfigFrom(cfg *config.Config) SMTPConfig {
	sc := SMTPConfig{
		Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUser, Password: cfg.SMTPPassword,
		DialTimeout: cfg.Notify.SMTPTimeout, CommandTimeout: cfg.Notify.SMTPTimeout, SubmissionTimeout: 2 * cfg.Notify.SMTPTimeout,
	}
	if cfg.Notify.SMTPTLS != "auto" {
		sc.Security = Security(cfg.Notify.SMTPTLS)
	}
	if cfg.Notify.SMTPAuth != "auto" {
		sc.Auth = AuthMethod(cfg.Notify.SMTPAuth)
	}
	return sc
}
