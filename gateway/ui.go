package gateway

import (
	"fmt"
	"net/http"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/console"
	"github.com/voipshield/tfps/engine"
)

// uiOn reports whether the operator console is served: TFPS_UI=on and a
// token to log in with.
func (m *Main) uiOn() bool { return m.Config.UI.Enabled && m.Config.APIToken != "" }

// decisionLog is where the engine writes decision-log rows: the store, with
// the console's live feed on the way when the console is on.
func (m *Main) decisionLog() engine.DecisionLog {
	if !m.uiOn() {
		return m.Store
	}
	m.feed = console.NewFeed()
	return m.feed.Wrap(m.Store)
}

// startUI mounts the operator console on /ui/ of the HTTP listener.
func (m *Main) startUI() error {
	if !m.Config.UI.Enabled {
		return nil
	}
	if m.Config.APIToken == "" {
		m.Logger.Warn("operator console not served: it needs TFPS_API_TOKEN to log in with (or set TFPS_UI=off)")
		return nil
	}
	svc := &api.Local{Engine: m.Engine, Store: m.Store, State: m.State, Config: m.Config, Now: m.clock}
	h, err := console.Handler(console.Options{
		Backend: &console.Local{Service: svc, Store: m.Store, State: m.State, Window: m.Config.CacheBlockTime, MaxFailures: m.Config.MaxCaptchaAttempts, Now: m.clock},
		Feed:    m.feed,
		// The one API token logs in as admin; scoped tokens plug in here.
		Auth:       console.SingleToken(m.Config.APIToken, "admin"),
		SessionTTL: m.Config.UI.SessionTTL,
		Location:   m.Config.BusinessHours.Location(),
		Now:        m.clock,
		Logger:     m.Logger,
	})
	if err != nil {
		return fmt.Errorf("start console: %w", err)
	}
	m.mux.Handle("/ui/", h)
	m.mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusSeeOther))
	return nil
}
