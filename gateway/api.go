package gateway

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/voipshield/tfps/api"
)

// checkAPIAccess refuses an unauthenticated API on a non-loopback address:
// without TFPS_API_TOKEN the API has no authentication. Start checks it
// before opening anything.
func (m *Main) checkAPIAccess() error {
	if m.Config.APIToken == "" && len(m.Config.APITokens) == 0 && !loopback(m.Config.HTTPListen) {
		return fmt.Errorf("start HTTP API: TFPS_API_TOKEN is required (or scoped TFPS_API_TOKENS) when TFPS_HTTP_LISTEN (%s) is not a loopback address", m.Config.HTTPListen)
	}
	return nil
}

// startAPI mounts the JSON API (/v1/...) on the HTTP listener.
func (m *Main) startAPI() error {
	now := m.Now
	if now == nil {
		now = time.Now
	}
	var tokens []api.Token
	for _, t := range m.Config.APITokens {
		tokens = append(tokens, api.Token{Name: t.Name, Scope: api.Scope(t.Scope), SHA256: t.SHA256})
	}
	h, err := api.Handler(&api.Local{Engine: m.Engine, Store: m.Store, State: m.State, Config: m.Config, Now: now}, api.Options{
		Token: m.Config.APIToken, Tokens: tokens, Logger: m.Logger, Registerer: m.Registry,
		ListenAddr: m.HTTPAddr, // the listener opens after the routes are mounted
	})
	if err != nil {
		return fmt.Errorf("start HTTP API: %w", err)
	}
	m.mux.Handle("/v1/", h)
	return nil
}

// loopback reports whether the listen address host:port only accepts
// connections from this machine.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
