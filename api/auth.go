package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/voipshield/tfps"
)

// Scope is what a token may do. Each route needs one; admin may do all.
type Scope string

const (
	// ScopeCheck may ask for decisions (POST /v1/check) and read the codes:
	// the token every PBX or proxy holds.
	ScopeCheck Scope = "check"
	// ScopeRead may read accounts, lists, decisions and codes, and change
	// nothing (dashboards, monitoring).
	ScopeRead Scope = "read"
	// ScopeAdmin may do everything (tfpsctl).
	ScopeAdmin Scope = "admin"
	// scopeAny: every token (GET /v1/codes).
	scopeAny Scope = ""
)

// Token is one accepted bearer token, known by the SHA-256 of its text.
type Token struct {
	Name   string // shown in logs, never the token
	Scope  Scope
	SHA256 [sha256.Size]byte
}

// allows reports whether a token of scope s may use a route needing need.
func (s Scope) allows(need Scope) bool {
	return need == scopeAny || s == ScopeAdmin || s == need
}

type tokenKey struct{}

// caller returns the name of the token that authenticated r ("loopback"
// for the token-less API).
func caller(ctx context.Context) *Token {
	t, _ := ctx.Value(tokenKey{}).(*Token)
	return t
}

// loopbackToken stands for whoever reaches the token-less loopback API.
var loopbackToken = &Token{Name: "loopback", Scope: ScopeAdmin}

func (s *server) authenticate(next http.Handler) http.Handler {
	if !s.auth {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := s.localOnly(r); err != nil {
				s.writeErrorStatus(w, r, http.StatusForbidden, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, loopbackToken)))
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		if h == "" {
			s.writeError(w, r, tfps.Errorf(tfps.EFORBIDDEN, "missing Authorization: Bearer <token> (TFPS_API_TOKEN or TFPS_API_TOKENS)"))
			return
		}
		// Compare hashes so neither the content nor the length of the token
		// leaks through timing; every token is compared.
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		var found *Token
		for i := range s.tokens {
			if subtle.ConstantTimeCompare(sum[:], s.tokens[i].SHA256[:]) == 1 {
				found = &s.tokens[i]
			}
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || found == nil {
			s.writeError(w, r, tfps.Errorf(tfps.EFORBIDDEN, "wrong API token"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, found)))
	})
}

// need guards one route: the token's scope must allow it. Changes made
// with the admin scope are logged with the token's name.
func (s *server) need(scope Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := caller(r.Context())
			if t == nil || !t.Scope.allows(scope) {
				name := ""
				if t != nil {
					name = t.Name
				}
				s.log.Warn("http api: token scope refused", "token", name, "method", r.Method, "path", r.URL.Path)
				s.writeErrorStatus(w, r, http.StatusForbidden, tfps.Errorf(tfps.EFORBIDDEN, "token %q may not %s %s (needs scope %s)", name, r.Method, r.URL.Path, scope))
				return
			}
			if scope != ScopeAdmin || r.Method == http.MethodGet || r.Method == http.MethodHead {
				next.ServeHTTP(w, r)
				return
			}
			sw, ok := w.(*statusWriter)
			if !ok {
				sw = &statusWriter{ResponseWriter: w}
			}
			next.ServeHTTP(sw, r)
			if sw.status < 300 {
				s.log.Info("admin change", "token", t.Name, "method", r.Method, "path", r.URL.Path, "status", sw.status)
			}
		})
	}
}

// localOnly guards the token-less API, which only listens on loopback: a
// browser on this machine can still be made to send requests there (a
// form POST from any web page, or a page whose DNS name is rebound to
// 127.0.0.1). Browsers can not send a JSON Content-Type across origins
// without a preflight we never answer, and they send the page's own name
// as Host: so writes must be JSON and Host must name this listener.
func (s *server) localOnly(r *http.Request) error {
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		host, port = r.Host, "80"
	}
	a, aerr := netip.ParseAddr(strings.Trim(host, "[]"))
	if !strings.EqualFold(host, "localhost") && (aerr != nil || !a.Unmap().IsLoopback()) {
		return tfps.Errorf(tfps.EFORBIDDEN, "Host %q is not this loopback listener: the API without a token answers only requests addressed to it (set TFPS_API_TOKEN to serve other names)", r.Host)
	}
	if s.listenAddr != nil {
		if _, want, err := net.SplitHostPort(s.listenAddr()); err == nil && want != port {
			return tfps.Errorf(tfps.EFORBIDDEN, "Host %q is not this loopback listener (port %s)", r.Host, want)
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	// text/csv (a range import) is no more sendable by a form than JSON:
	// only form encodings and text/plain cross origins without a preflight.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "text/csv") {
		return tfps.Errorf(tfps.EFORBIDDEN, "%s needs Content-Type: application/json (or text/csv for a range import) on the API without a token (a browser form can not send it)", r.Method)
	}
	return nil
}
