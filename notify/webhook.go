package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/voipshield/tfps"
)

// Webhook is the JSON channel: every notification is POSTed to one URL (a
// chat or incident tool), with the same retries as mail. The request carries
// an Idempotency-Key header (the notification id) so a receiver can drop a
// repeat after a crash between its 2xx and our bookkeeping.
type Webhook struct {
	URL       string
	Client    *http.Client // default: 10 s timeout
	Templates *Templates   // optional: adds the mail's subject and text
}

// WebhookPayload is the JSON body of a webhook POST.
type WebhookPayload struct {
	ID           string              `json:"id"`
	Kind         string              `json:"kind"`
	Account      string              `json:"account,omitempty"`
	Time         time.Time           `json:"time"`
	Subject      string              `json:"subject,omitempty"`
	Text         string              `json:"text,omitempty"`
	Notification tfps.Notification   `json:"notification"`
	Summary      []tfps.Notification `json:"summary,omitempty"` // throttled alerts folded into this one
}

// Name implements Channel.
func (w *Webhook) Name() string { return "webhook" }

// webhookError classifies an HTTP answer: 5xx, 408 and 429 are worth a retry,
// other 4xx are not.
type webhookError struct {
	status    int
	retryable bool
	body      string
}

func (e *webhookError) Error() string {
	return fmt.Sprintf("webhook answered %d: %s", e.status, e.body)
}
func (e *webhookError) Retryable() bool { return e.retryable }

// Deliver implements Channel.
func (w *Webhook) Deliver(ctx context.Context, n *tfps.Notification, summary []tfps.Notification) error {
	p := WebhookPayload{ID: n.ID, Kind: string(n.Kind), Account: n.Account(), Time: n.At, Notification: *n, Summary: summary}
	if w.Templates != nil {
		subject, text, err := w.Templates.Render(n, summary)
		if err != nil {
			return err
		}
		p.Subject, p.Text = subject, text
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode webhook payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", n.ID)
	req.Header.Set("User-Agent", "tfps-notify")
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return &retryableError{fmt.Errorf("post webhook: %w", err)}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return &webhookError{status: resp.StatusCode, body: string(msg),
		retryable: resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests}
}

type retryableError struct{ err error }

func (e *retryableError) Error() string   { return e.err.Error() }
func (e *retryableError) Unwrap() error   { return e.err }
func (e *retryableError) Retryable() bool { return true }

var _ Channel = (*Webhook)(nil)
