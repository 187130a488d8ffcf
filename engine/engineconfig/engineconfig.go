// Package engineconfig maps the configuration (TFPS_* keys) to the
// engine's options. It is the wiring's part, used by the gateway and the
// what-if replay, so the engine itself knows nothing of configuration.
package engineconfig

import (
	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/engine"
)

// Options returns the engine options the configuration sets.
func Options(c *config.Config) engine.Options {
	return engine.Options{
		BusinessHours:        c.BusinessHours,
		ABRepeatLimit:        c.Engine.ABRepeatLimit,
		ABRepeatWindow:       c.Engine.ABRepeatWindow,
		ABBlockTime:          c.Engine.ABBlockTime,
		MaxFailures:          c.MaxCaptchaAttempts,
		FailureWindow:        c.CacheBlockTime,
		AbuseScoreLimit:      c.Engine.AbuseScoreLimit,
		DestinationBlacklist: c.DestinationCountriesBlacklist,
		DestinationAllow:     c.Engine.DestinationAllow,
		DefaultHome:          c.Engine.DefaultHome,
		LimitAction:          engine.LimitAction(c.Engine.LimitAction),
		PremiumNumbers:       engine.PremiumAction(c.Engine.PremiumNumbers),
		BuiltinUserAgents:    c.Engine.BuiltinUAPatterns,
		TicketTTL:            c.Engine.TicketTTL,
		MaxOpenTickets:       offWhenZero(c.Engine.MaxOpenTickets),
		ErrorPolicy:          engine.ErrorPolicy(c.Engine.ErrorPolicy),
		Mode:                 tfps.Mode(c.Engine.Mode),
		CacheRefresh:         c.Engine.CacheRefresh,
		PreloadAccounts:      offWhenZero(c.Engine.CacheAllAccounts),
		RetryCacheTime:       offWhenZero(c.Engine.RetryCacheTime),
		LogBatch:             c.Engine.LogBatch,
		LogFlush:             c.Engine.LogFlush,
		RangeDistinctLimit:   offWhenZero(c.Reputation.RangeDistinctLimit),
		RangePrefixDigits:    c.Reputation.RangePrefixDigits,
		RangeWindow:          c.Reputation.RangeWindow,
		MaxCallDuration:      c.Engine.MaxCallDuration,
	}
}

// offWhenZero maps a setting's 0 ("off") to the engine options' negative
// "off": a zero option takes the engine's default.
func offWhenZero[T ~int | ~int64](v T) T {
	if v == 0 {
		return -1
	}
	return v
}
