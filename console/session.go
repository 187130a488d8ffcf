package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Cookie names. The session cookie holds only a random id; the session
// (who, expiry, CSRF token) stays in the gateway's memory, so logging out
// or a restart ends it for sure.
const (
	sessionCookie = "tfps_session"
	loginCookie   = "tfps_login" // CSRF token of the login form (double submit)
	csrfField     = "csrf"
	maxSessions   = 10000
)

type session struct {
	id      string
	csrf    string
	who     Principal
	expires time.Time
	flash   string // one message for the next page
}

type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	ttl time.Duration
}

func newSessions(ttl time.Duration) *sessions {
	return &sessions{m: make(map[string]*session), ttl: ttl}
}

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session for who at now, dropping expired ones (and, at
// the cap, the one closest to expiry) so memory stays bounded.
func (s *sessions) create(who Principal, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ss := range s.m {
		if !now.Before(ss.expires) {
			delete(s.m, id)
		}
	}
	if len(s.m) >= maxSessions {
		var oldest *session
		for _, ss := range s.m {
			if oldest == nil || ss.expires.Before(oldest.expires) {
				oldest = ss
			}
		}
		delete(s.m, oldest.id)
	}
	ss := &session{id: randomID(), csrf: randomID(), who: who, expires: now.Add(s.ttl)}
	s.m[ss.id] = ss
	return ss
}

// get returns the live session of r, or nil.
func (s *sessions) get(r *http.Request, now time.Time) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.m[c.Value]
	if ss == nil {
		return nil
	}
	if !now.Before(ss.expires) {
		delete(s.m, ss.id)
		return nil
	}
	return ss
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// setFlash and takeFlash carry one message to the next page.
func (s *sessions) setFlash(ss *session, msg string) {
	s.mu.Lock()
	ss.flash = msg
	s.mu.Unlock()
}

func (s *sessions) takeFlash(ss *session) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := ss.flash
	ss.flash = ""
	return f
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
