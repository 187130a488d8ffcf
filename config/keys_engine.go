package config

import (
	"fmt"
	"strings"
	"time"
)

// EngineConfig holds the settings of the decision engine. Its keys are
// declared in engineKeys.
type EngineConfig struct {
	TicketTTL         time.Duration // life of a verify ticket
	MaxOpenTickets    int           // unclaimed tickets per account or source address within TicketTTL; 0: no cap
	ABRepeatLimit     int           // attempts of one caller to one number allowed within ABRepeatWindow
	ABRepeatWindow    time.Duration
	ABBlockTime       time.Duration // how long a tripped A->B pair stays blocked
	DefaultHome       string        // ISO country reading national numbers of accounts without a home country
	ErrorPolicy       string        // reject, approve or error: the answer when Redis or SQL fails
	AbuseScoreLimit   int           // reputation score from which a source is rejected (R02)
	DestinationAllow  []string      // destinations every account may call without verification
	BuiltinUAPatterns bool          // add the TFPS scanner User-Agent patterns to the operator's list
	CacheRefresh      time.Duration // how often cached accounts and lists look for changes
	RetryCacheTime    time.Duration // how long a decision is replayed for the same Call-ID + From-tag, account, source and transport
	LogBatch          int           // decision-log rows per SQL insert
	LogFlush          time.Duration // longest wait before queued decision-log rows are written
	JournalMB         int           // size limit of the decision log's local journal; 0: no journal
	LogRetention      time.Duration // decision-log rows older than this are deleted; 0 keeps them
	CacheAllAccounts  int           // cache every account when there are at most this many; 0: as used
	Mode              string        // enforce or monitor (ModeEnforce, ModeMonitor): whether decisions are applied
	LimitAction       string        // verify or reject: over a concurrent-call limit
	PremiumNumbers    string        // verify, reject or allow: premium-rate and personal numbers
	QuotaStepPercent  int           // a passed limit verification raises the limit by at least this percent
	MaxQuota          int           // highest daily quota a passed verification sets
	VerifiedGrace     time.Duration // a passed limit verification is not asked again within this time
	MaxCallDuration   time.Duration // a call the fraud rules count with no end reported stops counting after this
}

// Limit actions (TFPS_LIMIT_ACTION).
const (
	LimitActionVerify = "verify" // over a concurrent-call limit: voice verification (V08/V09)
	LimitActionReject = "reject" // over a concurrent-call limit: R10/R08, as TFPS did
)

// Premium-number actions (TFPS_PREMIUM_NUMBERS).
const (
	PremiumVerify = "verify" // a premium range the account has not verified: V06
	PremiumReject = "reject" // R21
	PremiumAllow  = "allow"  // no check
)

// Gateway modes (TFPS_MODE); an account may override it.
const (
	ModeEnforce = "enforce" // decisions are applied
	ModeMonitor = "monitor" // every check runs and is logged with its would-be code; calls are approved
)

// Engine error policies (TFPS_ENGINE_ERROR_POLICY).
const (
	ErrorPolicyReject  = "reject"  // answer R19: no call passes unchecked
	ErrorPolicyApprove = "approve" // answer A01: calls pass unchecked while a dependency is down
	ErrorPolicyError   = "error"   // return the error; the transport answers (SIP 500, HTTP 503)
)

func engineKeys() []Key {
	return []Key{
		durationKey("TFPS_TICKET_TTL", "120s", "Life of a verify ticket: the IVR must claim it within this time, once.", time.Second, time.Hour, func(c *Config) *time.Duration { return &c.Engine.TicketTTL }),
		intKey("TFPS_MAX_OPEN_TICKETS", "3", "Unclaimed verify tickets allowed per account and per public source address (private ones are shared by many users) within TFPS_TICKET_TTL; a call that would get one more is rejected (R22) instead, so verifications nobody answers cannot keep the voice box busy. 0: no cap.", 0, 1000, func(c *Config) *int { return &c.Engine.MaxOpenTickets }),
		durationKey("TFPS_MAX_CALL_DURATION", "4h", "A call the fraud rules counted as in progress stops counting (concurrent calls) after this long when no end was reported (POST /v1/calls/end), and its end is no longer accepted.", time.Minute, 7*24*time.Hour, func(c *Config) *time.Duration { return &c.Engine.MaxCallDuration }),
		intKey("TFPS_AB_REPEAT_LIMIT", "3", "Attempts from one caller to one number allowed within TFPS_AB_REPEAT_WINDOW; the next one blocks the pair (R13), later ones are rejected while blocked (R16). TFPS allowed 5; a person redials a busy number two or three times, a dialer keeps going.", 1, 100000, func(c *Config) *int { return &c.Engine.ABRepeatLimit }),
		durationKey("TFPS_AB_REPEAT_WINDOW", "30s", "Sliding window in which attempts of one caller to one number are counted.", time.Second, 24*time.Hour, func(c *Config) *time.Duration { return &c.Engine.ABRepeatWindow }),
		durationKey("TFPS_AB_BLOCK_TIME", "1h", "How long a caller->number pair stays blocked after tripping TFPS_AB_REPEAT_LIMIT.", time.Second, 30*24*time.Hour, func(c *Config) *time.Duration { return &c.Engine.ABBlockTime }),
		{Name: "TFPS_DEFAULT_HOME_COUNTRY", Help: "ISO 3166 code that reads national numbers (no +, 00 or 011) when neither the account's home country nor the source address's country does, and the home country of a new account whose caller number and source address give none. A number no country reads but valid as international without a prefix asks the caller to confirm its country (V10).", Set: func(c *Config, v string) error {
			v = strings.ToUpper(strings.TrimSpace(v))
			if v != "" && !ValidCountry(v) {
				return fmt.Errorf("unknown country code: use an ISO 3166 alpha-2 code such as US")
			}
			c.Engine.DefaultHome = v
			return nil
		}},
		choiceKey("TFPS_ENGINE_ERROR_POLICY", ErrorPolicyReject, "Answer when Redis or SQL fails during a decision: reject (R19, nothing passes unchecked), approve (A01, calls pass unchecked) or error (the transport answers SIP 500 / HTTP 503).", []string{ErrorPolicyReject, ErrorPolicyApprove, ErrorPolicyError}, func(c *Config) *string { return &c.Engine.ErrorPolicy }),
		intKey("TFPS_ABUSE_SCORE_LIMIT", "10", "AbuseIPDB confidence score (0-100) from which a public source address is rejected (R02), as TFPS did at 10.", 1, 101, func(c *Config) *int { return &c.Engine.AbuseScoreLimit }),
		countriesKey("TFPS_DESTINATION_COUNTRIES_WHITELIST", "", "Destination countries every account may call without a verification, ISO 3166 codes separated by commas (TFPS's global whitelist).", func(c *Config) *[]string { return &c.Engine.DestinationAllow }),
		boolKey("TFPS_UA_BUILTIN_PATTERNS", "on", "on: reject the scanner User-Agents TFPS listed (sipcli, friendly-scanner, sipvicious ...) besides the operator's user_agent blacklist; off: the operator's list only.", func(c *Config) *bool { return &c.Engine.BuiltinUAPatterns }),
		choiceKey("TFPS_PREMIUM_NUMBERS", PremiumVerify, "Numbers libphonenumber classifies as premium rate or personal number (DE 0900, ES 803/806/807, US 900, GB 070/09 ...), the usual targets of International Revenue Share Fraud, even in countries the account may call: verify (V06, flow risky_range: once passed, that range of numbers is allowed for the account), reject (R21) or allow (not checked). Operator ranges (tfpsctl ranges) take precedence.", []string{PremiumVerify, PremiumReject, PremiumAllow}, func(c *Config) *string { return &c.Engine.PremiumNumbers }),
		choiceKey("TFPS_LIMIT_ACTION", LimitActionVerify, "Over an account's concurrent-call limit: verify (the caller passes a voice verification, V08 in hours / V09 off hours, and the limit is raised to cover the calls) or reject (R10 / R08, TFPS's behaviour). The daily quota always verifies (V04/V05).", []string{LimitActionVerify, LimitActionReject}, func(c *Config) *string { return &c.Engine.LimitAction }),
		intKey("TFPS_QUOTA_STEP_PERCENT", "50", "A passed limit verification raises that limit to cover what the caller does now and by at least this percent of the current limit (never above TFPS_MAX_CONCURRENT or TFPS_MAX_QUOTA). 0: by one, as TFPS raised its quota.", 0, 1000, func(c *Config) *int { return &c.Engine.QuotaStepPercent }),
		intKey("TFPS_MAX_QUOTA", "500", "Highest daily quota (in or off hours) a passed verification sets; an operator may set more through the API.", 1, 1000000, func(c *Config) *int { return &c.Engine.MaxQuota }),
		durationKey("TFPS_VERIFIED_GRACE", "12h", "After a passed limit verification, calls of the same account from the same source country are not asked again for the same kind of limit (concurrent calls or daily quota) within this time, up to what was proved plus TFPS_QUOTA_STEP_PERCENT. A passed range-hopping verification (V07) allows twice the numbers of that range for this time, at least TFPS_RANGE_WINDOW. A passed fraud-rule warning verification (V11) is not asked again for that rule and statistic up to the value proved plus TFPS_QUOTA_STEP_PERCENT. 0 disables (range hopping: TFPS_RANGE_WINDOW).", 0, 7*24*time.Hour, func(c *Config) *time.Duration { return &c.Engine.VerifiedGrace }),
		intKey("TFPS_CACHE_ALL_ACCOUNTS", "5000", "An installation with at most this many accounts has them all in each gateway's memory, re-read in one query after each change: no call waits for SQL, even while the database is down. Above it (or 0) accounts are read as calls need them.", 0, 1000000, func(c *Config) *int { return &c.Engine.CacheAllAccounts }),
		durationKey("TFPS_CACHE_REFRESH", "500ms", "How often each gateway looks for account and blacklist changes made by any process (one tiny SQL query); changes apply within this time.", 10*time.Millisecond, time.Minute, func(c *Config) *time.Duration { return &c.Engine.CacheRefresh }),
		durationKey("TFPS_RETRY_CACHE_TIME", "32s", "How long the decision for a Call-ID + From-tag (with the same number, account, source address and transport) is replayed to a retried request instead of being counted again (0s disables).", 0, 10*time.Minute, func(c *Config) *time.Duration { return &c.Engine.RetryCacheTime }),
		intKey("TFPS_DECISION_LOG_BATCH", "5000", "Most decision-log rows written in one transaction; TFPS_DECISION_LOG_FLUSH usually ends a batch first. Larger batches rewrite the same index pages less often.", 1, 100000, func(c *Config) *int { return &c.Engine.LogBatch }),
		durationKey("TFPS_DECISION_LOG_RETENTION", "2160h", "How long decision-log rows are kept, as a duration (2160h is 90 days, as TFPS kept its accounting); each gateway deletes older rows every hour, oldest first. 0: kept for ever (the table then grows by ~400 bytes a call). Daily statistics (TFPS_HISTORY_DAYS) do not depend on it.", 0, 10*365*24*time.Hour, func(c *Config) *time.Duration { return &c.Engine.LogRetention }),
		choiceKey("TFPS_MODE", ModeEnforce, "enforce: decisions are applied. monitor (detection only): every check runs, the decision log and metrics record what it would have answered (enforced=false), and every call is approved (SIP A00 or 503 with X-Tfps-Code carrying the would-be code; HTTP approve with would_be); no verify tickets, no pair blocks that enforcement would inherit. An account's own mode (tfpsctl set USER DOMAIN --mode ...) overrides it.", []string{ModeEnforce, ModeMonitor}, func(c *Config) *string { return &c.Engine.Mode }),
		intKey("TFPS_DECISION_LOG_JOURNAL_MB", "1024", "Size limit in MiB of the decision log's write-ahead journal (decision-journal.*.jsonl in TFPS_DATA_DIR): each decision's row is written there before the answer leaves (fsynced every TFPS_DECISION_LOG_FLUSH), so a killed gateway loses no answered decision, and while the database is unreachable rows wait there and are drained into it in order when it answers, so decisions go on. A log line warns at 80%; when full, decisions wait for the database. 0: no journal (rows wait in memory; decisions wait once the in-memory queue is full).", 0, 1<<20, func(c *Config) *int { return &c.Engine.JournalMB }),
		durationKey("TFPS_DECISION_LOG_FLUSH", "200ms", "Longest time a decision waits in memory before it is written to the decision log.", time.Millisecond, time.Minute, func(c *Config) *time.Duration { return &c.Engine.LogFlush }),
	}
}
