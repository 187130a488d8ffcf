package notify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"strings"
	"time"

	"github.com/voipshield/tfps"
)

// Sender sends one mail; *Mailer implements it.
type Sender interface {
	Send(ctx context.Context, m *Mail) error
}

// Email is the mail channel: it renders a notification with the templates
// and sends it to the admins and to the account's own address.
type Email struct {
	Sender    Sender
	Templates *Templates
	From      string   // From header
	Envelope  string   // envelope sender (MAIL FROM); default From
	Admins    []string // TFPS_NOTIFICATION_EMAIL
	// ToAccount also sends to the account's own address when the
	// notification carries one (default true through NewEmail).
	ToAccount bool
	Now       func() time.Time
}

// NewEmail returns the mail channel with the account's own address included.
func NewEmail(sender Sender, t *Templates, from string, admins []string, now func() time.Time) *Email {
	if now == nil {
		now = time.Now
	}
	return &Email{Sender: sender, Templates: t, From: from, Admins: admins, ToAccount: true, Now: now}
}

// Name implements Channel.
func (e *Email) Name() string { return "email" }

// Recipients returns the admins (To) and the account's own address (Bcc, so
// the customer never sees the operator's addresses, nor the reverse), without
// duplicates (compared case-insensitively). A malformed account address is
// left out and returned as refused.
func (e *Email) Recipients(n *tfps.Notification) (to, bcc []string, refused map[string]error) {
	seen := map[string]bool{}
	for _, a := range e.Admins {
		a = strings.TrimSpace(a)
		if a != "" && !seen[strings.ToLower(a)] {
			seen[strings.ToLower(a)] = true
			to = append(to, a)
		}
	}
	if a := strings.TrimSpace(n.Email); e.ToAccount && a != "" {
		addr, err := mail.ParseAddress(a)
		switch {
		case err != nil:
			refused = map[string]error{a: fmt.Errorf("account address is malformed: %w", err)}
		case !seen[strings.ToLower(addr.Address)]:
			bcc = append(bcc, addr.Address)
		}
	}
	return to, bcc, refused
}

// Deliver implements Channel.
func (e *Email) Deliver(ctx context.Context, n *tfps.Notification, summary []tfps.Notification) error {
	to, bcc, refused := e.Recipients(n)
	if len(to)+len(bcc) == 0 {
		return &SendError{Step: StepAddress, Err: errors.New("no recipients: set TFPS_NOTIFICATION_EMAIL")}
	}
	subject, body, err := e.Templates.Render(n, summary)
	if err != nil {
		return err
	}
	headers := [][2]string{{"X-TFPS-Kind", string(n.Kind)}}
	if a := n.Account(); a != "" {
		headers = append(headers, [2]string{"X-TFPS-Account", a})
	}
	err = e.Sender.Send(ctx, &Mail{
		ID:       n.ID,
		From:     e.From,
		Envelope: e.Envelope,
		To:       to,
		Bcc:      bcc,
		Subject:  subject,
		Body:     body,
		Date:     e.Now(),
		Headers:  headers,
	})
	if err == nil && refused != nil {
		return &RejectedError{Rejected: refused}
	}
	var re *RejectedError
	if errors.As(err, &re) {
		maps.Copy(re.Rejected, refused)
	}
	return err
}

var _ Channel = (*Email)(nil)
