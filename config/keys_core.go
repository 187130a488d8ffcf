package config

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/voipshield/tfps/bizhours"
)

// DefaultBusinessHours is the TFPS default: 09:00-17:00 New York time, Monday to Friday.
const DefaultBusinessHours = "America/New_York|20210104T090000|21000104T170000||WEEKLY|||MO,TU,WE,TH,FR"

var pinRE = regexp.MustCompile(`^[0-9]{4}$`)

func coreKeys() []Key {
	return []Key{
		// ---- settings of the original defines.m4 ----
		ipKey("TFPS_PRIVATE_IP", "Private address of this server (TFPS PRIVATE_IP); the SIP front's Contact host when TFPS_PUBLIC_IP is empty.", func(c *Config) *netip.Addr { return &c.PrivateIP }),
		ipKey("TFPS_PUBLIC_IP", "Public address of this server (TFPS PUBLIC_IP); the host of redirect Contacts.", func(c *Config) *netip.Addr { return &c.PublicIP }),
		intKey("TFPS_PORT", "5060", "SIP port (TFPS PORT), used when TFPS_SIP_LISTEN is empty.", 1, 65535, func(c *Config) *int { return &c.Port }),
		{Name: "TFPS_SQL_ACCOUNT", Help: "TFPS SQL_ACCOUNT (MySQL user). Accepted for compatibility; set TFPS_DATABASE_URL instead.", Legacy: "has no effect: TFPS_DATABASE_URL selects the database", Set: func(*Config, string) error { return nil }},
		{Name: "TFPS_SQL_PASSWORD", Secret: true, Help: "TFPS SQL_PASSWORD. Accepted for compatibility; put credentials in TFPS_DATABASE_URL.", Legacy: "has no effect: TFPS_DATABASE_URL selects the database", Set: func(*Config, string) error { return nil }},
		secretKey("TFPS_ABUSE_DB_KEY", "AbuseIPDB API key (TFPS ABUSE_DB_KEY): abuse score (R02) and country of public source addresses. Empty: the offline country table only, no score.", func(c *Config) *string { return &c.AbuseDBKey }),
		secretKey("TFPS_APIBAN_KEY", "APIBAN API key: its banned list (R15) is polled into memory every TFPS_APIBAN_INTERVAL. Empty: APIBAN is not consulted.", func(c *Config) *string { return &c.APIBanKey }),
		{Name: "TFPS_BUSINESS_HOURS", Default: DefaultBusinessHours, Help: "Business hours as an RFC 5545 recurrence: tz|dtstart|dtend|duration|freq|until|interval|byday (TFPS BUSINESS_HOURS). Chooses in-hours or off-hours limits. Each account follows it in its own time zone (its timezone, else its home country's), where midnight resets its daily quotas; the zone written here serves accounts without either, and an account may have a rule of its own.", Set: func(c *Config, v string) error {
			sc, err := bizhours.Parse(v)
			if err != nil {
				return fmt.Errorf("%v; expected e.g. %s", err, DefaultBusinessHours)
			}
			c.BusinessHours = sc
			return nil
		}},
		{Name: "TFPS_AUTHORIZE_METHOD", Default: "302", Help: "SIP answer style (TFPS AUTHORIZE_METHOD): 302 redirects with an A00/Rnn prefix; 503 answers 503 (approved, fail over to your carrier) or 603 (rejected).", Set: func(c *Config, v string) error {
			switch v {
			case "302":
				c.AuthorizeMethod = 302
			case "503":
				c.AuthorizeMethod = 503
			default:
				return fmt.Errorf("must be 302 or 503")
			}
			return nil
		}},
		choiceKey("TFPS_VERIFICATION_METHOD", "CAPTCHA", "Voice verification (TFPS VERIFICATION_METHOD): CAPTCHA (caller types 4 spoken digits) or PIN (caller types the account PIN then #).", []string{"CAPTCHA", "PIN"}, func(c *Config) *string { return &c.VerificationMethod }),
		{Name: "TFPS_PIN", Secret: true, Help: "Global 4-digit PIN (TFPS PIN), used for accounts without a PIN of their own. Required when the method is PIN.", Set: func(c *Config, v string) error {
			if v != "" && !pinRE.MatchString(v) {
				return fmt.Errorf("must be exactly 4 digits")
			}
			c.PIN = v
			return nil
		}},
		intKey("TFPS_MAX_CAPTCHAATTEMPTS", "3", "Failed verifications allowed within TFPS_CACHE_BLOCK_TIME before the account's calls are rejected (TFPS MAX_CAPTCHAATTEMPTS); also the failed PIN attempts allowed per caller number and per source address across accounts before the IVR refuses them the PIN.", 1, 100, func(c *Config) *int { return &c.MaxCaptchaAttempts }),
		durationKey("TFPS_CACHE_BLOCK_TIME", "3600", "Window in which failed verifications count, and how long the block lasts (TFPS CACHE_BLOCK_TIME; seconds or a duration such as 1h).", time.Second, 30*24*time.Hour, func(c *Config) *time.Duration { return &c.CacheBlockTime }),
		intKey("TFPS_MAX_CONCURRENT", "10", "Highest concurrent-call limit any account may have, including what a caller sets in the IVR or a passed verification raises to (TFPS MAX_CONCURRENT; TFPS's default was 5).", 1, 10000, func(c *Config) *int { return &c.MaxConcurrent }),
		countriesKey("TFPS_DESTINATION_COUNTRIES_BLACKLIST", "", "Destination countries always rejected, ISO 3166 codes separated by commas (TFPS DESTINATION_COUNTRIES_BLACKLIST).", func(c *Config) *[]string { return &c.DestinationCountriesBlacklist }),
		emailsKey("TFPS_NOTIFICATION_EMAIL", "", "Administrators who receive every notification, comma separated (TFPS NOTIFICATION_EMAIL).", func(c *Config) *[]string { return &c.NotificationEmail }),
		stringKey("TFPS_SMTP_HOST", "", "SMTP relay host (TFPS SMTP_HOST). Empty: mails stay queued in the outbox.", func(c *Config) *string { return &c.SMTPHost }),
		intKey("TFPS_SMTP_PORT", "587", "SMTP relay port.", 1, 65535, func(c *Config) *int { return &c.SMTPPort }),
		stringKey("TFPS_SMTP_USER", "", "SMTP user name (TFPS SMTP_USER). Empty: no authentication (loopback relay).", func(c *Config) *string { return &c.SMTPUser }),
		secretKey("TFPS_SMTP_PASSWORD", "SMTP password (TFPS SMTP_PASSWORD).", func(c *Config) *string { return &c.SMTPPassword }),
		stringKey("TFPS_SMTP_FROM", "tfps@localhost", "From header of notification mails (TFPS SMTP_FROM).", func(c *Config) *string { return &c.SMTPFrom }),
		stringKey("TFPS_SMTP_EMAIL", "", "Envelope sender (TFPS SMTP_EMAIL); defaults to TFPS_SMTP_FROM.", func(c *Config) *string { return &c.SMTPEmail }),
		{Name: "TFPS_SMTP_ACCOUNT", Help: "TFPS SMTP_ACCOUNT (an msmtp account name). Accepted for compatibility.", Legacy: "has no effect: mail is sent natively with TFPS_SMTP_HOST/USER/PASSWORD", Set: func(*Config, string) error { return nil }},
		{Name: "TFPS_ISP_EMAIL", Help: "TFPS ISP_EMAIL (older name of the From address). Used as TFPS_SMTP_FROM when that is not set.", Set: func(c *Config, v string) error {
			if v != "" && (c.SMTPFrom == "" || c.SMTPFrom == "tfps@localhost") {
				c.SMTPFrom = v
			}
			return nil
		}},
		intKey("TFPS_DEFAULT_CONCURRENT_CALLS", "4", "Concurrent calls in business hours given to a new account (TFPS DEFAULT_CONCURRENT_CALLS; TFPS's default was 2).", 0, 10000, func(c *Config) *int { return &c.DefaultConcurrentCalls }),
		intKey("TFPS_DEFAULT_CONCURRENT_CALLS_OFF", "2", "Concurrent calls off hours given to a new account (TFPS DEFAULT_CONCURRENT_CALLS_OFF; TFPS's default was 0).", 0, 10000, func(c *Config) *int { return &c.DefaultConcurrentCallsOff }),
		intKey("TFPS_DEFAULT_QUOTA", "40", "Daily calls in business hours given to a new account (TFPS DEFAULT_QUOTA; TFPS's default was 10).", 0, 1000000, func(c *Config) *int { return &c.DefaultQuota }),
		intKey("TFPS_DEFAULT_QUOTA_OFF", "10", "Daily calls off hours given to a new account (TFPS DEFAULT_QUOTA_OFF; TFPS's default was 2).", 0, 1000000, func(c *Config) *int { return &c.DefaultQuotaOff }),
		countriesKey("TFPS_DEFAULT_SOURCE_COUNTRIES", "", "Source countries of every new account (TFPS DEFAULT_SOURCE_COUNTRIES; TFPS's default was US). Onboarding also allows the country the verified call came from.", func(c *Config) *[]string { return &c.DefaultSourceCountries }),
		countriesKey("TFPS_DEFAULT_DESTINATION_COUNTRIES", "", "Destination countries of every new account (TFPS DEFAULT_DESTINATION_COUNTRIES; TFPS's default was US). Onboarding also allows the account's home country.", func(c *Config) *[]string { return &c.DefaultDestinationCountries }),

		// ---- new settings ----
		stringKey("TFPS_DATA_DIR", "./data", "Directory for the default SQLite database and cached audio.", func(c *Config) *string { return &c.DataDir }),
		{Name: "TFPS_DATABASE_URL", Help: "SQL database: sqlite:///path/to/file.db (default: tfps.db in TFPS_DATA_DIR) or postgres://user:pass@host:5432/db.", Secret: false, Set: func(c *Config, v string) error {
			if v == "" {
				c.DatabaseURL = ""
				return nil
			}
			if !strings.HasPrefix(v, "sqlite:") && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
				return fmt.Errorf("must start with sqlite: or postgres://")
			}
			c.DatabaseURL = v
			return nil
		}},
		urlKey("TFPS_REDIS_URL", "redis://127.0.0.1:6379/0", "Redis for real-time counters, blocks and tickets: redis://[:password@]host:port/db or rediss:// for TLS.", []string{"redis", "rediss"}, func(c *Config) *string { return &c.RedisURL }),
		boolKey("TFPS_REDIS_CLUSTER", "off", "on: TFPS_REDIS_URL names a Redis Cluster, read as go-redis's ParseClusterURL reads it (further nodes as addr= parameters, e.g. redis://10.0.0.1:6379?addr=10.0.0.2:6379&addr=10.0.0.3:6379), through the cluster client. Every script's keys sit in the account's slot; the open-ticket cap per source address takes a second round trip, for verify decisions only.", func(c *Config) *bool { return &c.RedisCluster }),
		stringKey("TFPS_REDIS_PREFIX", "tfps:", "Prefix of every Redis key, so several installations can share one Redis.", func(c *Config) *string { return &c.RedisPrefix }),
		durationKey("TFPS_REDIS_TIMEOUT", "500ms", "Deadline of every Redis operation; past it the caller gets an error instead of waiting. A decision's counting script has the decision's own deadline instead (TFPS_SIP_DECIDE_TIMEOUT, when longer), so a Redis or gateway that stalls for a moment makes calls late, not refused by the error policy.", 10*time.Millisecond, time.Minute, func(c *Config) *time.Duration { return &c.RedisTimeout }),
		listenKey("TFPS_SIP_LISTEN", "", "SIP listen address (UDP and TCP); default 0.0.0.0:TFPS_PORT. Empty port 0 picks a free one.", func(c *Config) *string { return &c.SIPListen }),
		listenKey("TFPS_HTTP_LISTEN", "127.0.0.1:8080", "HTTP listen address of the JSON API, /healthz and /metrics.", func(c *Config) *string { return &c.HTTPListen }),
		listenKey("TFPS_PPROF_LISTEN", "", "Loopback address for Go's profiler (/debug/pprof/), for measuring CPU and memory under load. Empty: off. Refused on a non-loopback address.", func(c *Config) *string { return &c.PprofListen }),
		secretKey("TFPS_API_TOKEN", "Admin bearer token: may use every /v1/ route, POST /v1/check included. Without it or TFPS_API_TOKENS the gateway only starts its HTTP API on a loopback address, and that API refuses writes without Content-Type: application/json and requests whose Host is not the listener.", func(c *Config) *string { return &c.APIToken }),
		{Name: "TFPS_API_TOKENS", Secret: true, Help: "Scoped bearer tokens, comma separated, each name:scope:sha256-hex-of-the-token; scope check (POST /v1/check and GET /v1/codes: give this to PBXs), read (every GET) or admin (everything). The name appears in the log of each admin change. Make the hash with: printf %s \"$TOKEN\" | sha256sum.", Set: func(c *Config, v string) error {
			ts, err := ParseAPITokens(v)
			if err != nil {
				return err
			}
			c.APITokens = ts
			return nil
		}},
		urlKey("TFPS_ARI_URL", "http://127.0.0.1:8088/ari", "Asterisk REST Interface base URL used by the IVR.", []string{"http", "https"}, func(c *Config) *string { return &c.ARIURL }),
		stringKey("TFPS_ARI_USER", "tfps", "ARI user (ari.conf).", func(c *Config) *string { return &c.ARIUser }),
		secretKey("TFPS_ARI_PASSWORD", "ARI password (ari.conf).", func(c *Config) *string { return &c.ARIPassword }),
		stringKey("TFPS_ARI_APP", "tfps", "Stasis application name the dialplan sends calls to.", func(c *Config) *string { return &c.ARIApp }),
		choiceKey("TFPS_DEFAULT_LANGUAGE", "en", "Prompt language for accounts without one: en, es, fr or pt-BR (Brazilian Portuguese).", []string{"en", "es", "fr", "pt-BR"}, func(c *Config) *string { return &c.DefaultLanguage }),
		{Name: "TFPS_LOG_LEVEL", Default: "info", Help: "Log level: debug, info, warn or error.", Set: func(c *Config, v string) error {
			if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil || !slicesContainsFold([]string{"debug", "info", "warn", "error"}, v) {
				return fmt.Errorf("must be debug, info, warn or error")
			}
			return nil
		}},
		choiceKey("TFPS_LOG_FORMAT", "text", "Log format: text or json.", []string{"text", "json"}, func(c *Config) *string { return &c.LogFormat }),
	}
}

// APIToken is one entry of TFPS_API_TOKENS.
type APIToken struct {
	Name   string
	Scope  string // check, read or admin
	SHA256 [32]byte
}

var tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ParseAPITokens reads name:scope:sha256-hex entries separated by commas.
// Every bad entry is named by its position and name, never by its hash.
func ParseAPITokens(v string) ([]APIToken, error) {
	var out []APIToken
	names, hashes := map[string]bool{}, map[[32]byte]bool{}
	for i, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		parts := strings.Split(e, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("entry %d: must be name:scope:sha256-hex", i+1)
		}
		name, scope, hx := parts[0], strings.ToLower(parts[1]), strings.ToLower(parts[2])
		if !tokenNameRE.MatchString(name) {
			return nil, fmt.Errorf("entry %d: name must be 1-64 letters, digits, '.', '_' or '-'", i+1)
		}
		if scope != "check" && scope != "read" && scope != "admin" {
			return nil, fmt.Errorf("token %s: scope must be check, read or admin", name)
		}
		b, err := hex.DecodeString(hx)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("token %s: the third field must be the 64 hex digits of the token's SHA-256 (printf %%s \"$TOKEN\" | sha256sum)", name)
		}
		t := APIToken{Name: name, Scope: scope}
		copy(t.SHA256[:], b)
		if names[name] {
			return nil, fmt.Errorf("token %s: name used twice", name)
		}
		if hashes[t.SHA256] {
			return nil, fmt.Errorf("token %s: same token as an earlier entry", name)
		}
		names[name], hashes[t.SHA256] = true, true
		out = append(out, t)
	}
	return out, nil
}

func slicesContainsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// Logger builds the slog logger the configuration asks for.
func (c *Config) Logger(w interface{ Write([]byte) (int, error) }) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
