// Package console is the operator console in the browser: server-rendered
// pages under /ui/ on the gateway's HTTP listener. Live shows decisions as
// they are made (server-sent events from the decision log), Accounts finds
// an account and acts on it (blocks, limits, countries, A->B pair blocks,
// trained limits, its mails), Lists edits the blacklists, Ranges and Rules
// list the high-risk number ranges and fraud rules, Outbox shows and
// retries notifications.
//
// Login takes an API token (Authenticator decides who holds it and with
// which scope); the session lives in the gateway's memory behind an
// HttpOnly, SameSite=Strict cookie with an expiry. Every form carries the
// session's CSRF token; every change is confirmed on a page of its own and
// logged with the name of the token that made it. Pages work without
// JavaScript except the live updates, and load nothing from the internet.
package console

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure Handler.
type Options struct {
	Backend Backend
	Feed    *Feed // nil: Live shows the log but no new rows
	Auth    Authenticator
	// Prefix is where the console is mounted; default "/ui".
	Prefix string
	// SessionTTL is how long a login lasts; default 12h.
	SessionTTL time.Duration
	// Location shows times in this zone; nil: UTC.
	Location *time.Location
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: slog.Default()
}

type server struct {
	opt      Options
	sessions *sessions
	pages    map[string]*template.Template
	log      *slog.Logger
}

// Handler returns the console. Mount it at opt.Prefix + "/".
func Handler(opt Options) (http.Handler, error) {
	if opt.Backend == nil || opt.Auth == nil {
		return nil, errors.New("console: Backend and Auth are required")
	}
	if opt.Prefix == "" {
		opt.Prefix = "/ui"
	}
	opt.Prefix = strings.TrimSuffix(opt.Prefix, "/")
	if opt.SessionTTL <= 0 {
		opt.SessionTTL = 12 * time.Hour
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &server{opt: opt, sessions: newSessions(opt.SessionTTL), log: opt.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}

	r := chi.NewRouter()
	r.Use(securityHeaders)
	p := opt.Prefix
	r.Handle(p+"/static/*", http.StripPrefix(p+"/static/", http.FileServerFS(static)))
	r.Get(p+"/login", s.loginPage)
	r.Post(p+"/login", s.login)
	r.Group(func(r chi.Router) {
		r.Use(s.requireSession)
		r.Get(p, s.redirect("/live"))
		r.Get(p+"/", s.redirect("/live"))
		r.Post(p+"/logout", s.logout)
		r.Get(p+"/live", s.livePage)
		r.Get(p+"/live/events", s.liveEvents)
		r.Get(p+"/accounts", s.accountsPage)
		r.Get(p+"/account", s.accountPage)
		r.Post(p+"/account", s.accountAction)
		r.Get(p+"/lists", s.listsPage)
		r.Post(p+"/lists", s.listsAction)
		r.Get(p+"/ranges", s.rangesPage)
		r.Post(p+"/ranges", s.rangesAction)
		r.Get(p+"/rules", s.rulesPage)
		r.Post(p+"/rules", s.rulesAction)
		r.Get(p+"/outbox", s.outboxPage)
		r.Post(p+"/outbox", s.outboxAction)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, "No such page.")
	})
	return r, nil
}

// securityHeaders keeps pages out of frames and caches and lets them load
// only the console's own files.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.Contains(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

type ctxKey struct{}

func sessionOf(r *http.Request) *session { s, _ := r.Context().Value(ctxKey{}).(*session); return s }

// requireSession sends visitors without a live session to the login page
// and refuses a POST whose CSRF token is not the session's.
func (s *server) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss := s.sessions.get(r, s.opt.Now())
		if ss == nil {
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/events") {
				http.Redirect(w, r, s.opt.Prefix+"/login", http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, http.StatusUnauthorized, "Your session has ended: log in again.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				s.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !sameToken(r.PostForm.Get(csrfField), ss.csrf) {
				s.log.Warn("console: form without a valid CSRF token refused", "by", ss.who.Name, "path", r.URL.Path, "remote", r.RemoteAddr)
				s.errorPage(w, r, http.StatusForbidden, "This form is not from this console session (missing or wrong CSRF token). Reload the page and try again.")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(contextWith(r, ss)))
	})
}

func (s *server) redirect(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.opt.Prefix+to, http.StatusSeeOther)
	}
}

func (s *server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, expires time.Time) {
	c := &http.Cookie{
		Name: name, Value: value, Path: s.opt.Prefix + "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"),
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
		c.MaxAge = int(time.Until(expires).Seconds())
		if c.MaxAge <= 0 {
			c.MaxAge = 1
		}
	}
	http.SetCookie(w, c)
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, "")
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := randomID()
	s.setCookie(w, r, loginCookie, tok, s.opt.Now().Add(time.Hour))
	s.render(w, r, status, "login", map[string]any{"CSRF": tok, "Error": msg})
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderLogin(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostForm.Get(csrfField), c.Value) {
		s.log.Warn("console: login form without a valid CSRF token refused", "remote", r.RemoteAddr)
		s.renderLogin(w, r, http.StatusForbidden, "This login form is not from this console (missing or wrong CSRF token). Try again.")
		return
	}
	who, ok := s.opt.Auth(strings.TrimSpace(r.PostForm.Get("token")))
	if !ok || (who.Scope != ScopeRead && who.Scope != ScopeAdmin) {
		s.log.Warn("console: login refused", "remote", r.RemoteAddr)
		s.renderLogin(w, r, http.StatusUnauthorized, "Wrong token, or a token without read or admin scope.")
		return
	}
	ss := s.sessions.create(who, s.opt.Now())
	s.setCookie(w, r, loginCookie, "", time.Time{})
	s.setCookie(w, r, sessionCookie, ss.id, ss.expires)
	s.log.Info("console: login", "by", who.Name, "scope", who.Scope, "remote", r.RemoteAddr, "expires", ss.expires)
	http.Redirect(w, r, s.opt.Prefix+"/live", http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	ss := sessionOf(r)
	s.sessions.remove(ss.id)
	s.setCookie(w, r, sessionCookie, "", time.Time{})
	s.log.Info("console: logout", "by", ss.who.Name)
	http.Redirect(w, r, s.opt.Prefix+"/login", http.StatusSeeOther)
}

// errorStatus maps a service error to an HTTP status, as the API does,
// except that a refusal is 403: the browser has a session, not a missing
// token to send.
func errorStatus(err error) int {
	code := tfps.ErrorCode(err)
	if code == tfps.EFORBIDDEN {
		return http.StatusForbidden
	}
	return api.Status(code)
}

// serviceError shows err: the message of a tfps.Error, or a generic text
// for internal failures (whose detail goes to the log only).
func (s *server) serviceError(w http.ResponseWriter, r *http.Request, err error) {
	st := errorStatus(err)
	msg := tfps.ErrorMessage(err)
	var te *tfps.Error
	if !errors.As(err, &te) || st >= 500 {
		s.log.Error("console", "path", r.URL.Path, "err", err)
		msg = "The service could not do this now (a dependency may be down): try again. Details are in the gateway log."
	}
	s.errorPage(w, r, st, msg)
}

func (s *server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", map[string]any{"Message": msg, "Status": status})
}
