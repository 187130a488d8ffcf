package config

import "time"

// UIConfig holds the settings of the operator console (/ui/). Its keys are
// declared in uiKeys.
type UIConfig struct {
	Enabled    bool          // serve the console on the HTTP listener
	SessionTTL time.Duration // how long a console login lasts
}

func uiKeys() []Key {
	return []Key{
		boolKey("TFPS_UI", "on", "Operator console in the browser under /ui/ on the HTTP listener (on or off). Login takes TFPS_API_TOKEN; without a token the console is not served.", func(c *Config) *bool { return &c.UI.Enabled }),
		durationKey("TFPS_UI_SESSION", "12h", "How long a console login lasts before the operator must log in again.", time.Minute, 30*24*time.Hour, func(c *Config) *time.Duration { return &c.UI.SessionTTL }),
	}
}
