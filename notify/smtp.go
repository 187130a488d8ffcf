package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Security is how the connection to the SMTP server is protected.
type Security string

const (
	SecurityNone     Security = "none"     // plain text: only for a relay on loopback or a trusted LAN
	SecurityStartTLS Security = "starttls" // plain connect, then STARTTLS (port 587, 25)
	SecurityTLS      Security = "tls"      // implicit TLS from the first byte (port 465)
)

// AuthMethod is the SASL mechanism used to log in to the SMTP server.
type AuthMethod string

const (
	AuthAuto  AuthMethod = ""      // PLAIN if the server offers it, else LOGIN; none without a user
	AuthNone  AuthMethod = "none"  // no AUTH command (local relay)
	AuthPlain AuthMethod = "plain" // RFC 4616
	AuthLogin AuthMethod = "login" // the older LOGIN mechanism some providers still require
)

// Default timeouts of the SMTP client.
const (
	DefaultDialTimeout       = 10 * time.Second
	DefaultCommandTimeout    = 30 * time.Second
	DefaultSubmissionTimeout = 60 * time.Second
)

// SMTPConfig says how to reach the mail relay.
type SMTPConfig struct {
	Host     string
	Port     int
	Security Security   // default: tls on port 465, starttls otherwise
	Auth     AuthMethod // default: AuthAuto
	Username string
	Password string
	// AllowInsecureAuth permits sending the password over a connection that
	// is not encrypted to a host that is not loopback. Off by default.
	AllowInsecureAuth bool
	HelloName         string      // EHLO name; default "localhost"
	TLSConfig         *tls.Config // optional: RootCAs, client certificates; ServerName defaults to Host

	DialTimeout       time.Duration // TCP connect and TLS handshake
	CommandTimeout    time.Duration // each command's reply (greeting, EHLO, AUTH, MAIL, RCPT, DATA)
	SubmissionTimeout time.Duration // the reply after the final dot of DATA
}

// Address returns host:port.
func (c *SMTPConfig) Address() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

func (c *SMTPConfig) security() Security {
	if c.Security != "" {
		return c.Security
	}
	if c.Port == 465 {
		return SecurityTLS
	}
	return SecurityStartTLS
}

// Validate checks the settings before the first mail is due, so a wrong one
// is reported at start-up rather than on the first fraud alert.
func (c *SMTPConfig) Validate() error {
	if c.Host == "" {
		return errors.New("smtp host is empty")
	}
	if c.Port <= 0 || c.Port > 65535 {
		return fmt.Errorf("smtp port %d is out of range", c.Port)
	}
	switch c.security() {
	case SecurityNone, SecurityStartTLS, SecurityTLS:
	default:
		return fmt.Errorf("smtp security %q is unknown (none, starttls, tls)", c.Security)
	}
	switch c.Auth {
	case AuthAuto, AuthNone:
	case AuthPlain, AuthLogin:
		if c.Username == "" {
			return fmt.Errorf("smtp auth %s needs a user name", c.Auth)
		}
	default:
		return fmt.Errorf("smtp auth %q is unknown (none, plain, login)", c.Auth)
	}
	if c.usesAuth() && c.security() == SecurityNone && !c.AllowInsecureAuth && !isLoopback(c.Host) {
		return fmt.Errorf("smtp: refusing to send the password in clear text to %s: use starttls or tls", c.Host)
	}
	return nil
}

func (c *SMTPConfig) usesAuth() bool {
	return c.Auth != AuthNone && c.Username != ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Mail is one message ready to send: envelope and rendered content.
type Mail struct {
	ID   string // idempotent id; becomes the Message-ID
	From string // From header, and envelope sender unless Envelope is set
	// Envelope is the MAIL FROM address (bounces go there); default From.
	Envelope string
	To       []string  // recipients, in the To header and the envelope
	Bcc      []string  // recipients in the envelope only
	Subject  string    // one line
	Body     string    // plain text, UTF-8
	Date     time.Time // the Date header
	Headers  [][2]string
}

// Step names the part of an SMTP exchange that failed.
type Step string

const (
	StepAddress Step = "address" // a sender or recipient address is malformed
	StepConnect Step = "connect" // TCP connect, or implicit TLS dial
	StepTLS     Step = "tls"     // STARTTLS or the TLS handshake
	StepHello   Step = "hello"   // greeting and EHLO
	StepAuth    Step = "auth"
	StepMail    Step = "mail"
	StepRcpt    Step = "rcpt"
	StepData    Step = "data"
)

// SendError is a failed delivery: the step that failed, whether trying again
// later may help, and the SMTP reply code when the server gave one.
type SendError struct {
	Step      Step
	Retryable bool
	Code      int // SMTP reply code, 0 when the failure was not a reply
	Err       error
}

func (e *SendError) Error() string {
	kind := "final"
	if e.Retryable {
		kind = "retryable"
	}
	hint := ""
	if e.Step == StepAuth && !e.Retryable {
		hint = " (check TFPS_SMTP_USER and TFPS_SMTP_PASSWORD)"
	}
	return fmt.Sprintf("smtp %s failed%s, %s: %v", e.Step, hint, kind, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Retryable reports whether err is worth trying again later. Errors that are
// not a *SendError (rendering, bad data) are final.
func Retryable(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Retryable
	}
	var re interface{ Retryable() bool }
	if errors.As(err, &re) {
		return re.Retryable()
	}
	return false
}

// classify wraps err as a failure of step, deciding whether a retry helps:
// SMTP 4xx replies and network failures are retryable; 5xx replies,
// certificate problems and refused credentials are final.
func classify(step Step, err error) *SendError {
	se := &SendError{Step: step, Err: err}
	var smtpErr *smtp.SMTPError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	switch {
	case errors.As(err, &smtpErr):
		se.Code = smtpErr.Code
		se.Retryable = smtpErr.Code/100 == 4
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalidCert):
		se.Retryable = false
	case errors.Is(err, errNoStartTLS), errors.Is(err, errNoAuth):
		se.Retryable = false
	default:
		// connection refused, reset, timeout, EOF, a cancelled context:
		// the server or the network may be back later.
		se.Retryable = true
	}
	return se
}

var (
	errNoStartTLS = errors.New("server does not offer STARTTLS")
	errNoAuth     = errors.New("server offers neither PLAIN nor LOGIN authentication")
)

// Mailer sends mail through one SMTP relay, one connection per message.
type Mailer struct {
	cfg SMTPConfig
}

// NewMailer checks cfg and returns a Mailer.
func NewMailer(cfg SMTPConfig) (*Mailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("check smtp config: %w", err)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.SubmissionTimeout <= 0 {
		cfg.SubmissionTimeout = DefaultSubmissionTimeout
	}
	if cfg.HelloName == "" {
		cfg.HelloName = "localhost"
	}
	return &Mailer{cfg: cfg}, nil
}

// RejectedError lists recipients the server refused with a permanent reply
// while others accepted the message. The mail was delivered.
type RejectedError struct {
	Rejected map[string]error
}

func (e *RejectedError) Error() string {
	parts := make([]string, 0, len(e.Rejected))
	for addr, err := range e.Rejected {
		parts = append(parts, addr+": "+err.Error())
	}
	return "smtp rcpt refused for " + strings.Join(parts, "; ")
}

// Send delivers m. It returns nil, a *RejectedError when some (not all)
// recipients were refused for good and the rest received the mail, or a
// *SendError naming the failing step and whether a retry may help. ctx
// bounds the whole exchange; each step also has its own timeout.
func (ml *Mailer) Send(ctx context.Context, m *Mail) error {
	from, to, err := checkAddresses(m)
	if err != nil {
		return err
	}
	msg, err := m.bytes()
	if err != nil {
		return &SendError{Step: StepAddress, Err: err}
	}

	conn, err := ml.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The client resets its own deadlines per command; closing the
	// connection is what makes a cancelled ctx stop a blocked read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	step := func(s Step, err error) *SendError {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return classify(s, err)
	}

	var c *smtp.Client
	if ml.cfg.security() == SecurityStartTLS {
		if c, err = ml.startTLS(ctx, conn); err != nil {
			return step(StepTLS, err)
		}
		if err := c.Hello(ml.cfg.HelloName); err != nil {
			// The handshake runs on the first command after STARTTLS.
			if st, _ := c.TLSConnectionState(); !st.HandshakeComplete {
				return step(StepTLS, fmt.Errorf("tls handshake with %s: %w", ml.cfg.Address(), err))
			}
			return step(StepHello, err)
		}
	} else {
		c = ml.newClient(conn)
		if err := c.Hello(ml.cfg.HelloName); err != nil {
			return step(StepHello, err)
		}
	}
	defer c.Close()
	if err := ml.auth(c); err != nil {
		return step(StepAuth, err)
	}
	if err := c.Mail(from, nil); err != nil {
		return step(StepMail, err)
	}
	rejected := map[string]error{}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			se := step(StepRcpt, err)
			if se.Retryable || se.Code == 0 {
				return se
			}
			rejected[rcpt] = se
		}
	}
	if len(rejected) == len(to) {
		for _, err := range rejected {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return step(StepData, err)
	}
	if _, err := w.Write(msg); err != nil {
		return step(StepData, err)
	}
	if err := w.Close(); err != nil {
		return step(StepData, err)
	}
	// The message is accepted; a failing QUIT changes nothing.
	_ = c.Quit()
	if len(rejected) > 0 {
		return &RejectedError{Rejected: rejected}
	}
	return nil
}

func (ml *Mailer) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ml.cfg.TLSConfig != nil {
		cfg = ml.cfg.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = ml.cfg.Host
	}
	return cfg
}

func (ml *Mailer) connect(ctx context.Context) (net.Conn, error) {
	dialCtx, cancel := context.WithTimeout(ctx, ml.cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{}
	conn, err := d.DialContext(dialCtx, "tcp", ml.cfg.Address())
	if err != nil {
		return nil, classify(StepConnect, fmt.Errorf("dial %s: %w", ml.cfg.Address(), err))
	}
	if ml.cfg.security() == SecurityTLS {
		tc := tls.Client(conn, ml.tlsConfig())
		if err := tc.HandshakeContext(dialCtx); err != nil {
			conn.Close()
			return nil, classify(StepTLS, fmt.Errorf("tls handshake with %s: %w", ml.cfg.Address(), err))
		}
		conn = tc
	}
	return conn, nil
}

func (ml *Mailer) newClient(conn net.Conn) *smtp.Client {
	c := smtp.NewClient(conn)
	c.CommandTimeout = ml.cfg.CommandTimeout
	c.SubmissionTimeout = ml.cfg.SubmissionTimeout
	return c
}

// startTLS reads the greeting, says EHLO and STARTTLS on conn, and returns a
// client on the encrypted connection (handshake pending). go-smtp runs that
// exchange with its own long timeouts, so it is bounded here.
func (ml *Mailer) startTLS(ctx context.Context, conn net.Conn) (*smtp.Client, error) {
	phase, cancel := context.WithTimeout(ctx, 2*ml.cfg.CommandTimeout)
	defer cancel()
	stop := context.AfterFunc(phase, func() { conn.Close() })
	defer stop()
	c, err := smtp.NewClientStartTLS(conn, ml.tlsConfig())
	if err != nil {
		if phase.Err() != nil {
			return nil, fmt.Errorf("starttls: %w (%w)", phase.Err(), err)
		}
		var smtpErr *smtp.SMTPError
		var netErr net.Error
		if !errors.As(err, &smtpErr) && !errors.As(err, &netErr) && !errors.Is(err, io.EOF) {
			// go-smtp's "server doesn't support STARTTLS" has no sentinel.
			return nil, fmt.Errorf("%w: %w", errNoStartTLS, err)
		}
		return nil, fmt.Errorf("starttls: %w", err)
	}
	c.CommandTimeout = ml.cfg.CommandTimeout
	c.SubmissionTimeout = ml.cfg.SubmissionTimeout
	return c, nil
}

func (ml *Mailer) auth(c *smtp.Client) error {
	if !ml.cfg.usesAuth() {
		return nil
	}
	method := ml.cfg.Auth
	if method == AuthAuto {
		switch {
		case c.SupportsAuth("PLAIN"):
			method = AuthPlain
		case c.SupportsAuth("LOGIN"):
			method = AuthLogin
		default:
			return errNoAuth
		}
	}
	var a sasl.Client
	switch method {
	case AuthPlain:
		a = sasl.NewPlainClient("", ml.cfg.Username, ml.cfg.Password)
	case AuthLogin:
		a = &loginClient{user: ml.cfg.Username, pass: ml.cfg.Password}
	}
	if err := c.Auth(a); err != nil {
		return fmt.Errorf("authenticate as %q with %s: %w", ml.cfg.Username, strings.ToUpper(string(method)), err)
	}
	return nil
}

func checkAddresses(m *Mail) (string, []string, error) {
	sender := m.From
	if m.Envelope != "" {
		sender = m.Envelope
	}
	from, err := mail.ParseAddress(sender)
	if err != nil {
		return "", nil, &SendError{Step: StepAddress, Err: fmt.Errorf("parse sender %q: %w", sender, err)}
	}
	if len(m.To)+len(m.Bcc) == 0 {
		return "", nil, &SendError{Step: StepAddress, Err: errors.New("no recipients")}
	}
	to := make([]string, 0, len(m.To)+len(m.Bcc))
	for _, r := range append(slices.Clone(m.To), m.Bcc...) {
		a, err := mail.ParseAddress(r)
		if err != nil {
			return "", nil, &SendError{Step: StepAddress, Err: fmt.Errorf("parse recipient %q: %w", r, err)}
		}
		to = append(to, a.Address)
	}
	return from.Address, to, nil
}

// loginClient is SASL LOGIN as servers expect it: no initial response, then
// the user name and the password in answer to the server's two prompts.
// (go-sasl's LOGIN client sends the user name as an initial response, which
// some relays refuse.)
type loginClient struct{ user, pass string }

func (a *loginClient) Start() (string, []byte, error) { return sasl.Login, nil, nil }

func (a *loginClient) Next(challenge []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(string(challenge))) {
	case "username:", "user name", "username":
		return []byte(a.user), nil
	case "password:", "password":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge %q", challenge)
}

var _ sasl.Client = (*loginClient)(nil)
