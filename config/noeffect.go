package config

import "fmt"

// An accepted setting that changes nothing is worse than a rejected one:
// the operator believes it works. Every key can say when it has no effect,
// always (nothing reads it yet) or given the other settings, and Load warns
// when such a key is set (check-config prints the warning, both binaries
// log it at start).

// noEffectYet marks keys that are accepted but that nothing reads yet, with
// what the operator gets instead.
var noEffectYet = map[string]string{}

// noEffectWhen says, for keys that only matter together with others, why
// the key has no effect under c ("" when it does).
var noEffectWhen = map[string]func(c *Config) string{
	"TFPS_PORT": func(c *Config) string {
		if c.sipListenSet {
			return fmt.Sprintf("has no effect: TFPS_SIP_LISTEN (%s) sets the SIP port", c.SIPListen)
		}
		return ""
	},
	"TFPS_ISP_EMAIL": func(c *Config) string {
		if c.smtpFromSet && c.SMTPFrom != "tfps@localhost" {
			return "has no effect: TFPS_SMTP_FROM is set and wins"
		}
		return ""
	},
	"TFPS_SMTP_PASSWORD": func(c *Config) string {
		if c.SMTPUser == "" {
			return "has no effect without TFPS_SMTP_USER: no login is attempted"
		}
		return ""
	},
	"TFPS_ABUSE_SCORE_LIMIT": func(c *Config) string {
		if c.AbuseDBKey == "" {
			return "has no effect without TFPS_ABUSE_DB_KEY: only AbuseIPDB gives abuse scores"
		}
		return ""
	},
	"TFPS_LEARNING_DIGEST_EVERY": func(c *Config) string {
		if c.Learning.Mode != LearningSuggest {
			return "has no effect unless TFPS_LEARNING=suggest: only suggest mails digests"
		}
		return ""
	},
	"TFPS_LEARNING_DIFF_PERCENT": func(c *Config) string {
		if c.Learning.Mode == LearningOff {
			return "has no effect with TFPS_LEARNING=off"
		}
		return ""
	},
	"TFPS_WEBHOOK_TIMEOUT": func(c *Config) string {
		if c.Notify.WebhookURL == "" {
			return "has no effect without TFPS_WEBHOOK_URL"
		}
		return ""
	},
}

// noEffect returns why key, set by the operator, has no effect under c, or "".
func (k Key) noEffect(c *Config) string {
	if k.Legacy != "" {
		return k.Legacy
	}
	if why := noEffectYet[k.Name]; why != "" {
		return why
	}
	if fn := noEffectWhen[k.Name]; fn != nil {
		return fn(c)
	}
	return ""
}
