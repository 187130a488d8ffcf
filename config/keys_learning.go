package config

import "time"

// LearningConfig holds the settings of the daily history and of the
// limits trained from it. Its keys are declared in learningKeys.
type LearningConfig struct {
	HistoryDays     int    // local days of daily statistics kept per account
	Mode            string // off, suggest or apply (LearningOff ...)
	MinDays         int    // days of history before anything is trained
	UsualDays       int    // distinct days a country is seen on approved calls before it is shown as usual
	FloorConcurrent int    // apply: trained concurrent-call limits never go below this
	FloorQuota      int    // apply: trained daily quotas never go below this
	DiffPercent     int    // suggest: a digest names an account whose limits differ from the trained values by more than this
	DigestEvery     time.Duration
}

// Learning modes (TFPS_LEARNING).
const (
	LearningOff     = "off"     // no trained values
	LearningSuggest = "suggest" // trained values shown and mailed in a digest, limits unchanged
	LearningApply   = "apply"   // limits follow the trained values from each local midnight
)

func learningKeys() []Key {
	return []Key{
		intKey("TFPS_HISTORY_DAYS", "90", "Local days of daily statistics kept per account (approved, rejected and verified calls in and off hours, peak concurrent calls, countries seen); older days are deleted hourly. Learning trains on them.", 1, 3660, func(c *Config) *int { return &c.Learning.HistoryDays }),
		choiceKey("TFPS_LEARNING", LearningSuggest, "What the limits trained from each account's history do: off (nothing trained), suggest (shown by the API, tfpsctl show/history and a weekly digest mail for accounts whose limits differ by more than TFPS_LEARNING_DIFF_PERCENT; limits unchanged) or apply (the account's limits follow them, set at its local midnight, recorded and mailed).", []string{LearningOff, LearningSuggest, LearningApply}, func(c *Config) *string { return &c.Learning.Mode }),
		intKey("TFPS_LEARNING_MIN_DAYS", "14", "Days of history an account needs (from its first day with calls) before any limit is trained.", 1, 3660, func(c *Config) *int { return &c.Learning.MinDays }),
		intKey("TFPS_LEARNING_USUAL_DAYS", "5", "A country seen on approved calls on at least this many distinct days of the history is shown as usual for the account; it is never allowed automatically.", 1, 3660, func(c *Config) *int { return &c.Learning.UsualDays }),
		intKey("TFPS_LEARNING_FLOOR_CONCURRENT", "2", "Lowest concurrent-call limit (in or off hours) learning suggests or applies.", 0, 10000, func(c *Config) *int { return &c.Learning.FloorConcurrent }),
		intKey("TFPS_LEARNING_FLOOR_QUOTA", "10", "Lowest daily quota (in or off hours) learning suggests or applies.", 0, 1000000, func(c *Config) *int { return &c.Learning.FloorQuota }),
		intKey("TFPS_LEARNING_DIFF_PERCENT", "30", "suggest: the digest names an account when one of its limits differs from the trained value by more than this percent of the trained value.", 0, 1000, func(c *Config) *int { return &c.Learning.DiffPercent }),
		durationKey("TFPS_LEARNING_DIGEST_EVERY", "168h", "suggest: how often the digest of trained values is mailed to TFPS_NOTIFICATION_EMAIL (one mail per account that differs).", time.Hour, 365*24*time.Hour, func(c *Config) *time.Duration { return &c.Learning.DigestEvery }),
	}
}
