package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// hook is a real HTTP server answering with the queued status codes (200
// once they run out) and recording each request.
type hook struct {
	mu       sync.Mutex
	statuses []int
	got      []WebhookPayload
	keys     []string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var p WebhookPayload
	json.Unmarshal(b, &p)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, p)
	h.keys = append(h.keys, r.Header.Get("Idempotency-Key"))
	status := http.StatusOK
	if len(h.statuses) > 0 {
		status, h.statuses = h.statuses[0], h.statuses[1:]
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, "status %d", status)
}

func (h *hook) requests() []WebhookPayload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]WebhookPayload(nil), h.got...)
}

func TestWebhookRetriesWithoutResendingMail(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		clk := newClock(start)
		r := newRig(t, dialect, clk.Now)
		h := &hook{statuses: []int{http.StatusServiceUnavailable}}
		hs := httptest.NewServer(h)
		defer hs.Close()
		w, err := NewWorker(r.store, []Channel{r.email, &Webhook{URL: hs.URL, Templates: r.tmpl, Client: hs.Client()}},
			WorkerConfig{Now: clk.Now, RetryMin: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		r.enqueue(t, quotaAlert("hooked", "1001", start, 11))
		w.RunOnce(ctx)
		rows := r.rows(t, tfps.OutboxPending)
		if len(rows) != 1 || strings.Join(rows[0].Delivered, ",") != "email" || !strings.Contains(rows[0].LastError, "webhook answered 503") {
			t.Fatalf("after a 503: %+v", rows)
		}
		clk.Add(time.Minute)
		w.RunOnce(ctx)
		if got := len(r.srv.Messages()); got != 1 {
			t.Errorf("%d mails, want 1: the retry is for the webhook only", got)
		}
		reqs := h.requests()
		if len(reqs) != 2 {
			t.Fatalf("%d webhook requests, want 2", len(reqs))
		}
		p := reqs[1]
		if p.ID != "hooked" || p.Kind != "quota_exceeded" || p.Account != "1001@pbx.example.com" || p.Notification.Count != 11 ||
			!strings.Contains(p.Subject, "over its daily quota") || !strings.Contains(p.Text, "Source IP:    203.0.113.7") {
			t.Errorf("payload %+v", p)
		}
		if h.keys[1] != "hooked" {
			t.Errorf("Idempotency-Key %q", h.keys[1])
		}
		if sent := r.rows(t, tfps.OutboxSent); len(sent) != 1 || strings.Join(sent[0].Delivered, ",") != "email,webhook" {
			t.Errorf("sent rows %+v", sent)
		}

		// A 400 is final for the webhook; the mail still counts as delivered.
		h.mu.Lock()
		h.statuses = []int{http.StatusBadRequest}
		h.mu.Unlock()
		r.enqueue(t, &tfps.Notification{ID: "bad-hook", Kind: tfps.NotifyNewAccount, At: clk.Now(), User: "1002", Domain: "d"})
		w.RunOnce(ctx)
		for _, row := range r.rows(t, tfps.OutboxSent) {
			if row.Notification.ID == "bad-hook" && (!strings.Contains(row.LastError, "webhook answered 400") || strings.Join(row.Delivered, ",") != "email,webhook:failed") {
				t.Errorf("bad-hook row %+v", row)
			}
		}
	})
}

func TestFromConfigSendsWithTheOperatorsSettings(t *testing.T) {
	srv := newTestServer(t)
	srv.Users = map[string]string{"relay": "pw"}
	srv.Start()
	env := map[string]string{
		"TFPS_SMTP_HOST":          srv.Host(),
		"TFPS_SMTP_PORT":          fmt.Sprint(srv.Port()),
		"TFPS_SMTP_TLS":           "none",
		"TFPS_SMTP_AUTH":          "login",
		"TFPS_SMTP_USER":          "relay",
		"TFPS_SMTP_PASSWORD":      "pw",
		"TFPS_SMTP_FROM":          "Fraud Desk <fraud@example.net>",
		"TFPS_SMTP_EMAIL":         "bounces@example.net",
		"TFPS_NOTIFICATION_EMAIL": "noc@example.com, oncall@example.com",
		"TFPS_NOTIFY_TIMEZONE":    "Europe/Madrid",
	}
	cfg, _, err := config.Load(config.Options{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	st := storetest.MustOpen(t, store.SQLite)
	w, err := FromConfig(cfg, st, prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	ctx := context.Background()
	st.Enqueue(ctx, &tfps.Notification{ID: "cfg", Kind: tfps.NotifyAccountBlocked, At: start, User: "1001", Domain: "d", Email: "owner@example.org", Count: 3})
	if n, err := w.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("RunOnce: %d %v", n, err)
	}
	m := srv.WaitFor(1, 5*time.Second)[0]
	msg, subject := parse(t, m)
	if m.From != "bounces@example.net" || msg.Header.Get("From") != `"Fraud Desk" <fraud@example.net>` {
		t.Errorf("envelope %q, From header %q", m.From, msg.Header.Get("From"))
	}
	if strings.Join(m.To, ",") != "noc@example.com,oncall@example.com,owner@example.org" || m.AuthMech != "LOGIN" {
		t.Errorf("to %v auth %q", m.To, m.AuthMech)
	}
	if subject != "[TFPS] Account 1001@d blocked after 3 failed verifications" || !strings.Contains(bodyText(t, m), "2026-11-23 15:00:00 CET") {
		t.Errorf("subject %q body:\n%s", subject, bodyText(t, m))
	}

	t.Run("no relay configured: mail stays queued", func(t *testing.T) {
		env := map[string]string{}
		cfg, _, err := config.Load(config.Options{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		if err != nil {
			t.Fatal(err)
		}
		st := storetest.MustOpen(t, store.SQLite)
		w, err := FromConfig(cfg, st, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		st.Enqueue(ctx, &tfps.Notification{Kind: tfps.NotifyNewAccount, At: start, User: "u", Domain: "d"})
		if n, err := w.RunOnce(ctx); n != 0 || err != nil {
			t.Errorf("RunOnce without a relay: %d %v", n, err)
		}
		if n, _, _ := st.OutboxBacklog(ctx); n != 1 {
			t.Errorf("backlog %d, want the mail kept", n)
		}
	})

	t.Run("clear-text password to a remote relay is refused at start", func(t *testing.T) {
		env := map[string]string{"TFPS_SMTP_HOST": "smtp.example.com", "TFPS_SMTP_TLS": "none", "TFPS_SMTP_USER": "u", "TFPS_SMTP_PASSWORD": "p"}
		cfg, _, err := config.Load(config.Options{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := FromConfig(cfg, storetest.MustOpen(t, store.SQLite), nil, nil, nil); err == nil || !strings.Contains(err.Error(), "clear text") {
			t.Errorf("got %v", err)
		}
	})
}
