package ivr

import (
	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/pin"
)

// OptionsFrom returns the flow options the configuration sets. The IVR and
// the replay's simulated caller take them from here, so both apply the same
// limits and defaults.
func OptionsFrom(cfg *config.Config) Options {
	return Options{
		Method:         cfg.VerificationMethod,
		PIN:            pin.Checker{Global: cfg.PIN},
		MaxFailures:    cfg.MaxCaptchaAttempts,
		FailureWindow:  cfg.CacheBlockTime,
		CaptchaTries:   cfg.IVR.CaptchaTries,
		InputTries:     cfg.IVR.InputTries,
		FullOnboarding: cfg.IVR.FullOnboarding,
		MaxConcurrent:  cfg.MaxConcurrent,
		MaxQuota:       cfg.Engine.MaxQuota,
		StepPercent:    cfg.Engine.QuotaStepPercent,
		Grace:          cfg.Engine.VerifiedGrace,
		RangeWindow:    cfg.Reputation.RangeWindow,
		DefaultHome:    cfg.Engine.DefaultHome,
		Defaults: tfps.Account{
			ConcurrentCalls:      cfg.DefaultConcurrentCalls,
			ConcurrentCallsOff:   cfg.DefaultConcurrentCallsOff,
			DailyQuota:           cfg.DefaultQuota,
			DailyQuotaOff:        cfg.DefaultQuotaOff,
			SourceCountries:      cfg.DefaultSourceCountries,
			DestinationCountries: cfg.DefaultDestinationCountries,
		},
		DefaultLanguage: cfg.DefaultLanguage,
		FirstDigit:      cfg.IVR.FirstDigitTimeout,
		InterDigit:      cfg.IVR.InterDigitTimeout,
		InputTotal:      cfg.IVR.InputTimeout,
	}
}
