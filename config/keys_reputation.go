package config

import (
	"fmt"
	"path/filepath"
	"time"
)

// ReputationConfig holds the settings of the source reputation services
// (AbuseIPDB, APIBAN; their keys are TFPS_ABUSE_DB_KEY and TFPS_APIBAN_KEY
// among the core settings) and of the high-risk number ranges. Its keys are
// declared in reputationKeys.
type ReputationConfig struct {
	AbuseIPDBURL   string        // base address of AbuseIPDB API v2
	APIBanURL      string        // base address of the APIBAN API
	TTL            time.Duration // life of a cached AbuseIPDB answer
	Timeout        time.Duration // longest wait of a decision for AbuseIPDB
	APIBanInterval time.Duration // between APIBAN list rounds

	RangeDistinctLimit int           // distinct numbers per range prefix and account allowed within RangeWindow
	RangePrefixDigits  int           // digits of the E.164 number that make a range for the hopping check
	RangeWindow        time.Duration // window of the range-hopping check
}

func reputationKeys() []Key {
	return []Key{
		urlKey("TFPS_ABUSEIPDB_URL", "https://api.abuseipdb.com/api/v2", "Base address of AbuseIPDB API v2 (GET <url>/check), for a proxy or a test server. Used when TFPS_ABUSE_DB_KEY is set.", []string{"http", "https"}, func(c *Config) *string { return &c.Reputation.AbuseIPDBURL }),
		urlKey("TFPS_APIBAN_URL", "https://apiban.org/api", "Base address of the APIBAN API (GET <url>/<key>/banned/<id>), for a proxy or a test server. Used when TFPS_APIBAN_KEY is set.", []string{"http", "https"}, func(c *Config) *string { return &c.Reputation.APIBanURL }),
		durationKey("TFPS_REPUTATION_TTL", "24h", "How long an AbuseIPDB answer about an address is reused (kept in Redis for every gateway, negative answers too); an answer near the end of this time is refreshed in the background.", time.Minute, 30*24*time.Hour, func(c *Config) *time.Duration { return &c.Reputation.TTL }),
		durationKey("TFPS_REPUTATION_TIMEOUT", "300ms", "Longest time a call waits for AbuseIPDB about an address not yet cached. Past it the call is decided without the score (country from the offline table) and the lookup finishes in the background for the next call.", 10*time.Millisecond, 10*time.Second, func(c *Config) *time.Duration { return &c.Reputation.Timeout }),
		durationKey("TFPS_APIBAN_INTERVAL", "5m", "How often the APIBAN list is fetched (incrementally; in full once a day). The last list is kept in TFPS_DATA_DIR/apiban.json and used while APIBAN is unreachable.", 30*time.Second, 24*time.Hour, func(c *Config) *time.Duration { return &c.Reputation.APIBanInterval }),
		intKey("TFPS_RANGE_DISTINCT_LIMIT", "10", "Range hopping: distinct numbers one account may call under the same range prefix (the first TFPS_RANGE_PREFIX_DIGITS digits of the E.164 number) within TFPS_RANGE_WINDOW; the next new number verifies (V07). 0: off.", 0, 100000, func(c *Config) *int { return &c.Reputation.RangeDistinctLimit }),
		intKey("TFPS_RANGE_PREFIX_DIGITS", "8", "Digits of the E.164 number (country code included) that make one range for the range-hopping check.", 4, 15, func(c *Config) *int { return &c.Reputation.RangePrefixDigits }),
		durationKey("TFPS_RANGE_WINDOW", "1h", "Window of the range-hopping check.", time.Minute, 7*24*time.Hour, func(c *Config) *time.Duration { return &c.Reputation.RangeWindow }),
	}
}

// ReputationServices says, one line each, which reputation services are on
// and why (check-config prints it).
func (c *Config) ReputationServices() []string {
	var out []string
	if c.AbuseDBKey != "" {
		out = append(out, fmt.Sprintf("AbuseIPDB: on (%s, answers kept %s, calls wait at most %s)", c.Reputation.AbuseIPDBURL, c.Reputation.TTL, c.Reputation.Timeout))
	} else {
		out = append(out, "AbuseIPDB: off (TFPS_ABUSE_DB_KEY is empty; source country from the offline table, no score, R02 never fires)")
	}
	if c.APIBanKey != "" {
		out = append(out, fmt.Sprintf("APIBAN: on (%s, polled every %s, list kept in %s)", c.Reputation.APIBanURL, c.Reputation.APIBanInterval, c.APIBanFile()))
	} else {
		out = append(out, "APIBAN: off (TFPS_APIBAN_KEY is empty; R15 never fires)")
	}
	return out
}

// APIBanFile is where the gateway keeps the last APIBAN list.
func (c *Config) APIBanFile() string {
	return filepath.Join(c.DataDir, "apiban.json")
}
