package asterisktest

import (
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Proxy stands between an ARI client and Asterisk (REST and the event
// websocket), so a test can break the path without touching Asterisk:
// drop the websockets (the client reconnects) or refuse some requests.
type Proxy struct {
	// URL is the ARI base URL through the proxy (for TFPS_ARI_URL).
	URL string

	srv *http.Server

	mu      sync.Mutex
	sockets map[net.Conn]bool // connections upgraded to the websocket
	refuse  func(r *http.Request) bool
	refused int
}

// Proxy starts a proxy to this instance's ARI on a free loopback port; it
// is closed in t.Cleanup.
func (a *Asterisk) Proxy(t testing.TB) *Proxy {
	t.Helper()
	target, err := url.Parse(a.URL)
	if err != nil {
		t.Fatalf("asterisktest: proxy: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("asterisktest: proxy: %v", err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String() + target.Path, sockets: map[net.Conn]bool{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(&url.URL{Scheme: target.Scheme, Host: target.Host})
		r.Out.Host = target.Host
	}}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			refuse := p.refuse != nil && p.refuse(r)
			if refuse {
				p.refused++
			}
			p.mu.Unlock()
			if refuse {
				http.Error(w, "refused by the test proxy", http.StatusServiceUnavailable)
				return
			}
			rp.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, s http.ConnState) {
			p.mu.Lock()
			defer p.mu.Unlock()
			switch s {
			case http.StateHijacked:
				p.sockets[c] = true
			case http.StateClosed:
				delete(p.sockets, c)
			}
		},
	}
	go func() {
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("asterisktest: proxy: %v", err)
		}
	}()
	t.Cleanup(func() {
		p.srv.Close()
		p.DropWebsockets()
	})
	return p
}

// DropWebsockets closes every event websocket open through the proxy, as a
// network failure would, and returns how many it closed. Asterisk and the
// REST path stay up.
func (p *Proxy) DropWebsockets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.sockets {
		_ = c.Close()
		delete(p.sockets, c)
		n++
	}
	return n
}

// Websockets counts the event websockets opened through the proxy since
// the last drop.
func (p *Proxy) Websockets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sockets)
}

// Refuse answers 503 to every request for which match is true (nil:
// none) until called again; it returns how many requests were refused
// under the previous rule.
func (p *Proxy) Refuse(match func(r *http.Request) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.refused
	p.refuse, p.refused = match, 0
	return n
}
