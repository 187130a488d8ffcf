// Package config is the one configuration loader of every binary.
//
// Every setting is a TFPS_* key. Values come from built-in defaults, then an
// optional env-style file (KEY=value lines, # comments), then the process
// environment, which wins. Every value is validated at start; the error lists
// every bad key with the bad value and what is allowed, so an operator fixes
// the whole file in one go. The keys of the original TFPS defines.m4 keep their
// names with the TFPS_ prefix, and ImportM4 converts such a file.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/voipshield/tfps/bizhours"
)

// EnvFile names the environment variable that points at a config file when
// no --config flag is given.
const EnvFile = "TFPS_CONFIG"

// Config is the effective configuration. Fields are grouped by the part of
// the product that reads them; each group's keys are declared in the
// keys_<area>.go file beside its struct.
type Config struct {
	Core
	Engine EngineConfig
	Notify NotifyConfig
	SIP    SIPConfig
	IVR    IVRConfig
	// Reputation: AbuseIPDB, APIBAN and high-risk number ranges.
	Reputation ReputationConfig
	UI         UIConfig
	// Learning: daily history and the limits trained from it.
	Learning LearningConfig

	settings []Setting
	// Whether these were set (not defaults), for the no-effect warnings.
	sipListenSet, smtpFromSet bool
}

// Core holds the settings of the original TFPS defines.m4 and the ones both
// binaries need (storage, Redis, listeners, logging).
type Core struct {
	// TFPS defines.m4
	PrivateIP          netip.Addr
	PublicIP           netip.Addr
	Port               int
	AbuseDBKey         string
	APIBanKey          string
	BusinessHours      *bizhours.Schedule
	AuthorizeMethod    int    // 302 or 503
	VerificationMethod string // CAPTCHA or PIN
	PIN                string
	MaxCaptchaAttempts int
	CacheBlockTime     time.Duration
	MaxConcurrent      int
	// DestinationCountriesBlacklist are ISO 3166 alpha-2 codes never allowed.
	DestinationCountriesBlacklist []string
	NotificationEmail             []string
	SMTPHost                      string
	SMTPPort                      int
	SMTPUser                      string
	SMTPPassword                  string
	SMTPFrom                      string
	SMTPEmail                     string // envelope sender; defaults to SMTPFrom
	DefaultConcurrentCalls        int
	DefaultConcurrentCallsOff     int
	DefaultQuota                  int
	DefaultQuotaOff               int
	DefaultSourceCountries        []string
	DefaultDestinationCountries   []string

	// New in this implementation.
	DataDir         string
	DatabaseURL     string
	RedisURL        string
	RedisCluster    bool // TFPS_REDIS_CLUSTER: RedisURL names a Redis Cluster
	RedisPrefix     string
	RedisTimeout    time.Duration
	SIPListen       string
	HTTPListen      string
	PprofListen     string
	APIToken        string
	APITokens       []APIToken // scoped tokens (TFPS_API_TOKENS)
	ARIURL          string
	ARIUser         string
	ARIPassword     string
	ARIApp          string
	DefaultLanguage string
	LogLevel        slog.Level
	LogFormat       string // text or json
}

// Source says where an effective value came from.
type Source string

const (
	FromDefault Source = "default"
	FromFile    Source = "file"
	FromEnv     Source = "env"
)

// Setting is one key of the effective configuration, as check-config prints it.
type Setting struct {
	Key    string
	Value  string // secrets masked
	Source Source
}

// FieldError is one bad value.
type FieldError struct {
	Key   string
	Value string // masked for secrets
	Msg   string // what is allowed
}

func (e FieldError) Error() string {
	return fmt.Sprintf("%s=%q: %s", e.Key, e.Value, e.Msg)
}

// Errors lists every bad value found by Load.
type Errors []FieldError

func (es Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d invalid setting(s):", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// ErrInvalid is wrapped by Load's error when any value is bad.
var ErrInvalid = errors.New("invalid configuration")

// Unwrap lets errors.Is(err, ErrInvalid) hold.
func (es Errors) Unwrap() error { return ErrInvalid }

// Settings returns the effective configuration with secrets masked, in key order.
func (c *Config) Settings() []Setting { return slices.Clone(c.settings) }

// Options tell Load where to read.
type Options struct {
	File   string                          // optional env-style config file
	Lookup func(key string) (string, bool) // environment; os.LookupEnv when nil
}

// Load reads, validates and returns the configuration. warnings are
// non-fatal remarks (legacy keys that have no effect, unknown TFPS_* variables
// in the environment). A validation failure returns an Errors value listing
// every bad key.
func Load(opt Options) (cfg *Config, warnings []string, err error) {
	lookup := opt.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	all := Keys()
	known := make(map[string]*Key, len(all))
	for i := range all {
		known[all[i].Name] = &all[i]
	}
	values := make(map[string]string, len(all))
	sources := make(map[string]Source, len(all))
	for _, k := range all {
		values[k.Name] = k.Default
		sources[k.Name] = FromDefault
	}
	var errs Errors
	if opt.File != "" {
		fileValues, err := ReadFile(opt.File)
		if err != nil {
			return nil, nil, err
		}
		for _, kv := range fileValues {
			if _, ok := known[kv.Key]; !ok {
				errs = append(errs, FieldError{Key: kv.Key, Value: maskUnknown(kv.Key, kv.Value), Msg: fmt.Sprintf("unknown key in %s (line %d)%s", opt.File, kv.Line, suggest(kv.Key, all))})
				continue
			}
			values[kv.Key] = kv.Value
			sources[kv.Key] = FromFile
		}
	}
	for _, k := range all {
		if v, ok := lookup(k.Name); ok {
			values[k.Name] = v
			sources[k.Name] = FromEnv
		}
	}
	if opt.Lookup == nil {
		for _, e := range os.Environ() {
			name, _, _ := strings.Cut(e, "=")
			if strings.HasPrefix(name, "TFPS_") && known[name] == nil && name != EnvFile && !strings.HasPrefix(name, "TFPS_TEST_") {
				warnings = append(warnings, fmt.Sprintf("environment variable %s is not a known setting%s", name, suggest(name, all)))
			}
		}
	}

	cfg = &Config{}
	for _, k := range all {
		v := strings.TrimSpace(values[k.Name])
		if err := k.set(cfg, v); err != nil {
			shown := MaskPasswords(v)
			if k.Secret {
				shown = mask(v)
			}
			errs = append(errs, FieldError{Key: k.Name, Value: shown, Msg: err.Error()})
		}
	}
	cfg.sipListenSet = sources["TFPS_SIP_LISTEN"] != FromDefault && strings.TrimSpace(values["TFPS_SIP_LISTEN"]) != ""
	cfg.smtpFromSet = sources["TFPS_SMTP_FROM"] != FromDefault && strings.TrimSpace(values["TFPS_SMTP_FROM"]) != ""
	errs = append(errs, cfg.crossCheck()...)
	// Warn about every setting the operator gave that changes nothing.
	for _, k := range all {
		if sources[k.Name] == FromDefault || strings.TrimSpace(values[k.Name]) == "" {
			continue
		}
		if why := k.noEffect(cfg); why != "" {
			warnings = append(warnings, fmt.Sprintf("%s: %s", k.Name, why))
		}
	}
	for _, k := range all {
		shown := MaskPasswords(values[k.Name])
		if k.Secret {
			shown = mask(shown)
		}
		cfg.settings = append(cfg.settings, Setting{Key: k.Name, Value: shown, Source: sources[k.Name]})
	}
	if len(errs) > 0 {
		return cfg, warnings, errs
	}
	return cfg, warnings, nil
}

// crossCheck validates rules that involve more than one key and fills
// defaults derived from other keys.
func (c *Config) crossCheck() Errors {
	var errs Errors
	if c.VerificationMethod == "PIN" && c.PIN == "" {
		errs = append(errs, FieldError{Key: "TFPS_PIN", Value: "", Msg: "required when TFPS_VERIFICATION_METHOD=PIN: exactly 4 digits"})
	}
	if c.SIPListen == "" && c.Port > 0 {
		c.SIPListen = fmt.Sprintf("0.0.0.0:%d", c.Port)
	}
	if c.SIP.MonitorListen != "" && c.SIP.MonitorListen == c.SIPListen && !strings.HasSuffix(c.SIPListen, ":0") {
		errs = append(errs, FieldError{Key: "TFPS_SIP_MONITOR_LISTEN", Value: c.SIP.MonitorListen, Msg: "must differ from TFPS_SIP_LISTEN: the monitor listener is a second port"})
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite://" + filepath.Join(c.DataDir, "tfps.db")
	}
	if c.SMTPEmail == "" {
		c.SMTPEmail = c.SMTPFrom
	}
	if c.MaxConcurrent > 0 {
		for _, k := range []struct {
			name string
			v    int
		}{{"TFPS_DEFAULT_CONCURRENT_CALLS", c.DefaultConcurrentCalls}, {"TFPS_DEFAULT_CONCURRENT_CALLS_OFF", c.DefaultConcurrentCallsOff}} {
			if k.v > c.MaxConcurrent {
				errs = append(errs, FieldError{Key: k.name, Value: fmt.Sprint(k.v), Msg: fmt.Sprintf("must not exceed TFPS_MAX_CONCURRENT (%d)", c.MaxConcurrent)})
			}
		}
	}
	return errs
}

func mask(v string) string {
	if v == "" {
		return ""
	}
	return "****"
}

// MaskPasswords hides the password of a URL's userinfo
// (postgres://tfps:secret@db/tfps, redis://:secret@host:6379/0): values
// that are not secrets as a whole may hold one. Anything else is returned
// unchanged. Use it on every URL that goes to output or a log.
func MaskPasswords(v string) string {
	if !strings.Contains(v, "@") || !strings.Contains(v, "://") {
		return v
	}
	u, err := url.Parse(v)
	if err != nil {
		// Unparseable but URL-looking: hide everything between the scheme
		// and the last @, where a password would be.
		scheme, rest, _ := strings.Cut(v, "://")
		if i := strings.LastIndexByte(rest, '@'); i >= 0 {
			return scheme + "://****" + rest[i:]
		}
		return v
	}
	if _, has := u.User.Password(); !has {
		return v
	}
	u.User = url.UserPassword(u.User.Username(), "****")
	return strings.Replace(u.String(), "%2A%2A%2A%2A", "****", 1)
}

// maskUnknown shows the value of an unknown key, unless its name suggests
// a secret (a mistyped TFPS_SMTP_PASWORD must not print the password).
func maskUnknown(key, v string) string {
	up := strings.ToUpper(key)
	for _, s := range []string{"PASS", "PASW", "PWD", "KEY", "TOKEN", "SECRET", "CREDENTIAL"} {
		if strings.Contains(up, s) {
			return mask(v)
		}
	}
	return MaskPasswords(v)
}

// suggest proposes the closest known key for a typo.
func suggest(name string, all []Key) string {
	best, bestD := "", 4
	for _, k := range all {
		if d := distance(name, k.Name); d < bestD {
			best, bestD = k.Name, d
		}
	}
	if best == "" {
		return ""
	}
	return "; did you mean " + best + "?"
}

// distance is the Levenshtein edit distance, for typo suggestions.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
