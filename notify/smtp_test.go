package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func testMail(to ...string) *Mail {
	if len(to) == 0 {
		to = []string{"admin@example.com"}
	}
	return &Mail{
		ID:      "n-42",
		From:    "TFPS <tfps@example.net>",
		To:      to,
		Subject: "Account 1001@pbx.example.com over its quota: São Paulo",
		Body:    "Line one\nA long line " + strings.Repeat("x", 120) + "\nCountry: São Paulo\n.\nlast",
		Date:    time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC),
	}
}

func mustMailer(t *testing.T, cfg SMTPConfig) *Mailer {
	t.Helper()
	if cfg.CommandTimeout == 0 {
		cfg.CommandTimeout = 5 * time.Second
	}
	m, err := NewMailer(cfg)
	if err != nil {
		t.Fatalf("NewMailer: %v", err)
	}
	return m
}

func relayConfig(s *testServer) SMTPConfig {
	return SMTPConfig{Host: s.Host(), Port: s.Port(), Security: SecurityNone}
}

func TestSendMessageAsReceived(t *testing.T) {
	s := newTestServer(t)
	s.Start()
	m := mustMailer(t, relayConfig(s))
	if err := m.Send(context.Background(), testMail("admin@example.com", "Owner <owner@example.org>")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.WaitFor(1, 5*time.Second)[0]
	if got.From != "tfps@example.net" {
		t.Errorf("envelope sender %q, want tfps@example.net", got.From)
	}
	if strings.Join(got.To, ",") != "admin@example.com,owner@example.org" {
		t.Errorf("envelope recipients %q", got.To)
	}
	if got.AuthUser != "" || got.TLS {
		t.Errorf("loopback relay: auth %q tls %v, want neither", got.AuthUser, got.TLS)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(got.Data))
	if err != nil {
		t.Fatalf("parse received message: %v\n%s", err, got.Data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "Account 1001@pbx.example.com over its quota: São Paulo" {
		t.Errorf("Subject %q (%v)", subject, err)
	}
	for k, want := range map[string]string{
		"From":                      `"TFPS" <tfps@example.net>`,
		"To":                        `<admin@example.com>, "Owner" <owner@example.org>`,
		"Message-Id":                "<n-42@example.net>",
		"Date":                      "Mon, 23 Nov 2026 14:00:00 +0000",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"Auto-Submitted":            "auto-generated",
	} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(testMail().Body, "\n", "\r\n") + "\r\n"
	if string(body) != want {
		t.Errorf("body\n%q\nwant\n%q", body, want)
	}
	for _, line := range strings.Split(string(got.Data), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line longer than 78 characters on the wire: %q", line)
		}
	}
}

func TestSubjectCannotInjectHeaders(t *testing.T) {
	s := newTestServer(t)
	s.Start()
	m := mustMailer(t, relayConfig(s))
	ml := testMail()
	ml.Subject = "hello\r\nBcc: victim@example.com"
	if err := m.Send(context.Background(), ml); err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(s.WaitFor(1, 5*time.Second)[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" || msg.Header.Get("Subject") != "hello Bcc: victim@example.com" {
		t.Errorf("subject %q bcc %q", msg.Header.Get("Subject"), msg.Header.Get("Bcc"))
	}
}

func TestAuthMechanisms(t *testing.T) {
	for _, tc := range []struct {
		name     string
		offered  []string
		method   AuthMethod
		wantMech string
	}{
		{"plain", nil, AuthPlain, "PLAIN"},
		{"login", nil, AuthLogin, "LOGIN"},
		{"auto prefers plain", []string{"LOGIN", "PLAIN"}, AuthAuto, "PLAIN"},
		{"auto falls back to login", []string{"LOGIN"}, AuthAuto, "LOGIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			s.Users = map[string]string{"relayuser": "s3cret pass"}
			s.Mechs = tc.offered
			s.Start()
			cfg := relayConfig(s)
			cfg.Auth, cfg.Username, cfg.Password = tc.method, "relayuser", "s3cret pass"
			if err := mustMailer(t, cfg).Send(context.Background(), testMail()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := s.WaitFor(1, 5*time.Second)[0]
			if got.AuthUser != "relayuser" || got.AuthMech != tc.wantMech {
				t.Errorf("authenticated as %q with %q, want relayuser with %s", got.AuthUser, got.AuthMech, tc.wantMech)
			}
		})
	}
}

func TestWrongPasswordIsFinalAuthError(t *testing.T) {
	for _, method := range []AuthMethod{AuthPlain, AuthLogin} {
		t.Run(string(method), func(t *testing.T) {
			s := newTestServer(t)
			s.Users = map[string]string{"relayuser": "right"}
			s.Start()
			cfg := relayConfig(s)
			cfg.Auth, cfg.Username, cfg.Password = method, "relayuser", "wrong"
			err := mustMailer(t, cfg).Send(context.Background(), testMail())
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SendError", err)
			}
			if se.Step != StepAuth || se.Retryable || se.Code != 535 || Retryable(err) {
				t.Errorf("step %s retryable %v code %d, want auth, final, 535", se.Step, se.Retryable, se.Code)
			}
			for _, want := range []string{"smtp auth failed", "TFPS_SMTP_PASSWORD", "relayuser", "final"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "wrong") {
				t.Errorf("error %q shows the password", err)
			}
			if n := len(s.Messages()); n != 0 {
				t.Errorf("%d messages delivered", n)
			}
		})
	}
}

func TestStartTLS(t *testing.T) {
	serverTLS, pool := testCert(t)
	s := newTestServer(t)
	s.TLS = serverTLS // the server refuses AUTH before TLS
	s.Users = map[string]string{"relayuser": "pw"}
	s.Start()
	cfg := SMTPConfig{Host: s.Host(), Port: s.Port(), Security: SecurityStartTLS, Username: "relayuser", Password: "pw",
		TLSConfig: &tls.Config{RootCAs: pool}}
	if err := mustMailer(t, cfg).Send(context.Background(), testMail()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.WaitFor(1, 5*time.Second)[0]
	if !got.TLS || got.AuthUser != "relayuser" {
		t.Errorf("tls %v auth %q, want TLS and relayuser", got.TLS, got.AuthUser)
	}

	t.Run("untrusted certificate is a final TLS error", func(t *testing.T) {
		cfg := cfg
		cfg.TLSConfig = nil // system roots do not know the test CA
		err := mustMailer(t, cfg).Send(context.Background(), testMail())
		var se *SendError
		if !errors.As(err, &se) || se.Step != StepTLS || se.Retryable {
			t.Fatalf("got %v, want a final tls error", err)
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("error %q does not say the certificate is the problem", err)
		}
	})
}

func TestStartTLSNotOffered(t *testing.T) {
	s := newTestServer(t)
	s.Start()
	cfg := SMTPConfig{Host: s.Host(), Port: s.Port(), Security: SecurityStartTLS}
	err := mustMailer(t, cfg).Send(context.Background(), testMail())
	var se *SendError
	if !errors.As(err, &se) || se.Step != StepTLS || se.Retryable || !errors.Is(err, errNoStartTLS) {
		t.Fatalf("got %v, want a final tls error saying STARTTLS is missing", err)
	}
	if len(s.Messages()) != 0 {
		t.Error("mail sent in clear text although STARTTLS was required")
	}
}

func TestImplicitTLS(t *testing.T) {
	serverTLS, pool := testCert(t)
	s := newTestServer(t)
	s.TLS, s.Implicit = serverTLS, true
	s.Users = map[string]string{"relayuser": "pw"}
	s.Start()
	cfg := SMTPConfig{Host: s.Host(), Port: s.Port(), Security: SecurityTLS, Auth: AuthLogin, Username: "relayuser", Password: "pw",
		TLSConfig: &tls.Config{RootCAs: pool}}
	if err := mustMailer(t, cfg).Send(context.Background(), testMail()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := s.WaitFor(1, 5*time.Second)[0]; !got.TLS || got.AuthMech != "LOGIN" {
		t.Errorf("tls %v mech %q", got.TLS, got.AuthMech)
	}
}

func TestRefusesPasswordInClearToRemoteHost(t *testing.T) {
	_, err := NewMailer(SMTPConfig{Host: "smtp.example.com", Port: 25, Security: SecurityNone, Username: "u", Password: "p"})
	if err == nil || !strings.Contains(err.Error(), "clear text") {
		t.Fatalf("got %v, want a refusal to send the password in clear text", err)
	}
}

func TestErrorClassification(t *testing.T) {
	temp := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	perm := &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected"}
	noUser := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	for _, tc := range []struct {
		name      string
		setup     func(s *testServer)
		to        []string
		step      Step
		retryable bool
		code      int
	}{
		{"MAIL 451", func(s *testServer) { s.RejectMail = temp }, nil, StepMail, true, 451},
		{"MAIL 554", func(s *testServer) { s.RejectMail = perm }, nil, StepMail, false, 554},
		{"RCPT 451", func(s *testServer) { s.RejectRcpt = map[string]*smtp.SMTPError{"admin@example.com": temp} }, nil, StepRcpt, true, 451},
		{"RCPT 550 for every recipient", func(s *testServer) { s.RejectRcpt = map[string]*smtp.SMTPError{"admin@example.com": noUser} }, nil, StepRcpt, false, 550},
		{"DATA 451", func(s *testServer) { s.RejectData = temp }, nil, StepData, true, 451},
		{"DATA 554", func(s *testServer) { s.RejectData = perm }, nil, StepData, false, 554},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			tc.setup(s)
			s.Start()
			err := mustMailer(t, relayConfig(s)).Send(context.Background(), testMail(tc.to...))
			var se *SendError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want *SendError", err)
			}
			if se.Step != tc.step || se.Retryable != tc.retryable || se.Code != tc.code {
				t.Errorf("got step %s retryable %v code %d (%v), want %s %v %d", se.Step, se.Retryable, se.Code, err, tc.step, tc.retryable, tc.code)
			}
			if !strings.HasPrefix(err.Error(), "smtp "+string(tc.step)+" failed") {
				t.Errorf("error %q does not start with the step", err)
			}
		})
	}

	t.Run("one recipient refused, the other gets the mail", func(t *testing.T) {
		s := newTestServer(t)
		s.RejectRcpt = map[string]*smtp.SMTPError{"gone@example.org": noUser}
		s.Start()
		err := mustMailer(t, relayConfig(s)).Send(context.Background(), testMail("admin@example.com", "gone@example.org"))
		var re *RejectedError
		if !errors.As(err, &re) || len(re.Rejected) != 1 || re.Rejected["gone@example.org"] == nil {
			t.Fatalf("got %v, want a RejectedError for gone@example.org", err)
		}
		if got := s.WaitFor(1, 5*time.Second)[0]; strings.Join(got.To, ",") != "admin@example.com" {
			t.Errorf("delivered to %v", got.To)
		}
	})

	t.Run("bad address is final", func(t *testing.T) {
		err := mustMailer(t, SMTPConfig{Host: "127.0.0.1", Port: 1, Security: SecurityNone}).Send(context.Background(), testMail("not an address"))
		var se *SendError
		if !errors.As(err, &se) || se.Step != StepAddress || se.Retryable {
			t.Fatalf("got %v, want a final address error", err)
		}
	})
}

func TestServerDownIsRetryableConnectError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close() // nothing listens there now
	err = mustMailer(t, SMTPConfig{Host: "127.0.0.1", Port: addr.Port, Security: SecurityNone}).Send(context.Background(), testMail())
	var se *SendError
	if !errors.As(err, &se) || se.Step != StepConnect || !se.Retryable {
		t.Fatalf("got %v, want a retryable connect error", err)
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	s := newTestServer(t)
	s.Greet = false // accepts TCP, never says 220
	s.Start()
	cfg := relayConfig(s)
	cfg.CommandTimeout = 300 * time.Millisecond
	start := time.Now()
	err := mustMailer(t, cfg).Send(context.Background(), testMail())
	var se *SendError
	if !errors.As(err, &se) || se.Step != StepHello || !se.Retryable {
		t.Fatalf("got %v, want a retryable hello (greeting) error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Send returned after %s with a 300ms command timeout", d)
	}

	t.Run("cancelled context stops the exchange", func(t *testing.T) {
		cfg := relayConfig(s)
		cfg.CommandTimeout = time.Minute
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := mustMailer(t, cfg).Send(ctx, testMail())
		if !errors.Is(err, context.DeadlineExceeded) || !Retryable(err) {
			t.Fatalf("got %v, want a retryable error wrapping the deadline", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Send returned after %s with a 300ms context", d)
		}
	})
}
