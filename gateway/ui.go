package gateway

import (
	"crypto/sha256"
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
	var tokens []console.HashedToken
	if m.Config.APIToken != "" {
		tokens = append(tokens, console.HashedToken{Name: "TFPS_API_TOKEN", Scope: console.ScopeAdmin, SHA256: sha256.Sum256([]byte(m.Config.APIToken))})
	}
	for _, t := range m.Config.APITokens {
		tokens = append(tokens, console.HashedToken{Name: t.Name, Scope: console.Scope(t.Scope), SHA256: t.SHA256})
	}
	if len(tokens) == 0 {
		m.Logger.Warn("operator console not served: it needs TFPS_API_TOKEN or TFPS_API_TOKENS to log in with (or set TFPS_UI=off)")
		return nil
	}
	svc := &api.Local{Engine: m.Engine, Store: m.Store, State: m.State, Config: m.Config, Now: m.clock}
	h, err := console.Handler(console.Options{
		Backend: &console.Local{Service: svc, Store: m.Store, State: m.State, Window: m.Config.CacheBlockTime, MaxFailures: m.Config.MaxCaptchaAttempts, Now: m.clock},
		Feed:    m.feed,
		// TFPS_API_TOKEN logs in as admin, a TFPS_API_TOKENS entry with its
		// scope (read looks only); check-only tokens are refused.
		Auth:       console.Tokens(tokens),
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
