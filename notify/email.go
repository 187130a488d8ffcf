package notify

import (
	"context"
	"errors"
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

// Recipients returns the admins plus the account's address, without
// duplicates (compared case-insensitively).
func (e *Email) Recipients(n *tfps.Notification) []string {
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		a = strings.TrimSpace(a)
		if a != "" && !seen[strings.ToLower(a)] {
			seen[strings.ToLower(a)] = true
			out = append(out, a)
		}
	}
	for _, a := range e.Admins {
		add(a)
	}
	if e.ToAccount {
		add(n.Email)
	}
	return out
}

// Deliver implements Channel.
func (e *Email) Deliver(ctx context.Context, n *tfps.Notification, summary []tfps.Notification) error {
	to := e.Recipients(n)
	if len(to) == 0 {
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
	return e.Sender.Send(ctx, &Mail{
		ID:       n.ID,
		From:     e.From,
		Envelope: e.Envelope,
		To:       to,
		Subject:  subject,
		Body:     body,
		Date:     e.Now(),
		Headers:  headers,
	})
}

var _ Channel = (*Email)(nil)
