// Package smtptest runs a real go-smtp server on 127.0.0.1 for tests: it
// records every message as received, offers PLAIN/LOGIN, STARTTLS or
// implicit TLS with a certificate made on the spot, and can refuse at any
// step or go down and come back on the same port.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one message as the test SMTP server got it.
type Received struct {
	From     string
	To       []string
	Data     []byte
	AuthUser string // "" without AUTH
	AuthMech string
	TLS      bool
}

// Server is a real go-smtp server on 127.0.0.1 recording what it gets.
type Server struct {
	t    testing.TB
	addr string // host:port, kept across Stop/Start

	// Settings, read when a session starts.
	Users      map[string]string // user -> password; nil: no AUTH offered
	Mechs      []string          // offered mechanisms; default PLAIN, LOGIN
	TLS        *tls.Config       // offered with STARTTLS (or implicit when Implicit)
	Implicit   bool
	RejectMail *smtp.SMTPError
	RejectRcpt map[string]*smtp.SMTPError
	RejectData *smtp.SMTPError
	Greet      bool // default true; false: accept TCP and never answer
	// DataDelay holds each message this long after its DATA before taking
	// it (a slow relay).
	DataDelay time.Duration

	mu       sync.Mutex
	msgs     []Received
	arrived  chan struct{}
	srv      *smtp.Server
	silentLn net.Listener
}

func NewServer(t testing.TB) *Server {
	t.Helper()
	return &Server{t: t, Greet: true, arrived: make(chan struct{}, 1000)}
}

// Start listens (on a fresh port the first time, on the same port after
// Stop) and serves until Stop or the end of the test.
func (s *Server) Start() {
	s.t.Helper()
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("listen %s: %v", addr, err)
	}
	s.addr = ln.Addr().String()
	if !s.Greet {
		s.silentLn = ln
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(io.Discard, c); c.Close() }()
			}
		}()
		s.t.Cleanup(func() { ln.Close() })
		return
	}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = s.TLS == nil
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = testLogger{s.t}
	if s.TLS != nil {
		srv.TLSConfig = s.TLS
		if s.Implicit {
			ln = tls.NewListener(ln, s.TLS)
		}
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(ln)
	s.t.Cleanup(func() { srv.Close() })
}

// Stop closes the listener and every connection: the relay is down.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	if s.silentLn != nil {
		s.silentLn.Close()
	}
}

func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.addr); return h }
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Messages returns a copy of everything received so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// WaitFor waits until n messages have arrived in total, failing after d.
func (s *Server) WaitFor(n int, d time.Duration) []Received {
	s.t.Helper()
	deadline := time.After(d)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.arrived:
		case <-deadline:
			s.t.Fatalf("waited %s for %d messages, got %d", d, n, len(s.Messages()))
		}
	}
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	return &testSession{srv: s, tls: isTLS}, nil
}

type testSession struct {
	srv      *Server
	tls      bool
	authUser string
	authMech string
	from     string
	to       []string
}

var _ smtp.AuthSession = (*testSession)(nil)

func (ss *testSession) AuthMechanisms() []string {
	if ss.srv.Users == nil {
		return nil
	}
	if ss.srv.Mechs != nil {
		return ss.srv.Mechs
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *testSession) check(mech, user, pass string) error {
	if want, ok := ss.srv.Users[user]; !ok || want != pass {
		return smtp.ErrAuthFailed
	}
	ss.authUser, ss.authMech = user, mech
	return nil
}

func (ss *testSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return ss.check(sasl.Plain, user, pass) }), nil
	case sasl.Login:
		return &loginServer{auth: func(user, pass string) error { return ss.check(sasl.Login, user, pass) }}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.Users != nil && ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	if ss.srv.RejectMail != nil {
		return ss.srv.RejectMail
	}
	ss.from = from
	return nil
}

func (ss *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err, ok := ss.srv.RejectRcpt[to]; ok {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *testSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.srv.RejectData != nil {
		return ss.srv.RejectData
	}
	time.Sleep(ss.srv.DataDelay)
	ss.srv.mu.Lock()
	ss.srv.msgs = append(ss.srv.msgs, Received{From: ss.from, To: ss.to, Data: b, AuthUser: ss.authUser, AuthMech: ss.authMech, TLS: ss.tls})
	ss.srv.mu.Unlock()
	ss.srv.arrived <- struct{}{}
	return nil
}

func (ss *testSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *testSession) Logout() error { return nil }

// loginServer is the server side of SASL LOGIN (go-sasl has only the
// client): challenges "Username:" then "Password:".
type loginServer struct {
	step int
	user string
	auth func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		l.user = string(resp)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.user = string(resp)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.auth(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected response")
}

type testLogger struct{ t testing.TB }

func (l testLogger) Printf(format string, v ...any) { l.t.Logf("smtp server: "+format, v...) }
func (l testLogger) Println(v ...any)               { l.t.Log(append([]any{"smtp server:"}, v...)...) }

// Cert makes a self-signed certificate for 127.0.0.1 and localhost and
// returns the server TLS config and a pool that trusts it.
func Cert(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "tfps test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, pool
}
