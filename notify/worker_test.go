package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
	"github.com/voipshield/tfps/store/storetest"
)

// clock is a settable time source shared by the worker and the mail channel.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock(t time.Time) *clock    { return &clock{t: t} }

// forEachStore runs fn once on SQLite and once on PostgreSQL, in parallel.
func forEachStore(t *testing.T, fn func(t *testing.T, dialect string)) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

var (
	nyc   = mustLoc("America/New_York")
	start = time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)
)

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

type rig struct {
	srv     *testServer
	store   *store.Store
	mailer  *Mailer
	email   *Email
	reg     *prometheus.Registry
	tmpl    *Templates
	dialect string
}

func newRig(t *testing.T, dialect string, now func() time.Time) *rig {
	t.Helper()
	srv := newTestServer(t)
	srv.Start()
	st := storetest.MustOpen(t, dialect)
	// The outbox stamps rows with the same clock the worker claims by, or
	// rows made "now" would not be due at a test's fixed instant.
	st.Now = now
	tmpl, err := LoadTemplates("", nyc)
	if err != nil {
		t.Fatal(err)
	}
	m := mustMailer(t, relayConfig(srv))
	return &rig{srv: srv, store: st, mailer: m, tmpl: tmpl, dialect: dialect, reg: prometheus.NewRegistry(),
		email: NewEmail(m, tmpl, "TFPS <tfps@example.net>", []string{"admin@example.com"}, now)}
}

func (r *rig) worker(t *testing.T, cfg WorkerConfig) *Worker {
	t.Helper()
	if cfg.Registerer == nil {
		cfg.Registerer = r.reg
	}
	w, err := NewWorker(r.store, []Channel{r.email}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (r *rig) enqueue(t *testing.T, n *tfps.Notification) {
	t.Helper()
	if err := r.store.Enqueue(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) rows(t *testing.T, state string) []tfps.OutboxRow {
	t.Helper()
	rows, err := r.store.OutboxRows(context.Background(), state, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func parse(t *testing.T, m received) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return msg, subject
}

func bodyText(t *testing.T, m received) string {
	t.Helper()
	msg, _ := parse(t, m)
	b, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func messageIDs(t *testing.T, msgs []received) map[string]int {
	ids := map[string]int{}
	for _, m := range msgs {
		msg, _ := parse(t, m)
		ids[msg.Header.Get("Message-Id")]++
	}
	return ids
}

func quotaAlert(id, user string, at time.Time, count int) *tfps.Notification {
	return &tfps.Notification{ID: id, Kind: tfps.NotifyQuotaExceeded, At: at, User: user, Domain: "pbx.example.com",
		SourceIP: "203.0.113.7", Number: "+442071234567", DestinationCountry: "GB", Count: count, Limit: 10}
}

func TestWorkerDeliversEachMailOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		clk := newClock(start)
		r := newRig(t, dialect, clk.Now)
		w := r.worker(t, WorkerConfig{Now: clk.Now})
		ctx := context.Background()
		r.enqueue(t, &tfps.Notification{ID: "acct-1", Kind: tfps.NotifyNewAccount, At: start, User: "1001", Domain: "pbx.example.com",
			Email: "Owner@Example.org", SourceIP: "203.0.113.7", SourceCountry: "US", Countries: []string{"US"}, ConcurrentCalls: 2, DailyQuota: 10})
		r.enqueue(t, &tfps.Notification{ID: "dest-1", Kind: tfps.NotifyDestinationCountryAdded, At: start, User: "1001", Domain: "pbx.example.com",
			DestinationCountry: "GB", Number: "+442071234567", Countries: []string{"US", "GB"}})
		if n, err := w.RunOnce(ctx); err != nil || n != 2 {
			t.Fatalf("RunOnce: %d rows, %v", n, err)
		}
		msgs := r.srv.WaitFor(2, 5*time.Second)
		byID := map[string]received{}
		for _, m := range msgs {
			msg, _ := parse(t, m)
			byID[msg.Header.Get("Message-Id")] = m
		}
		m, ok := byID["<acct-1@example.net>"]
		if !ok {
			t.Fatalf("no mail with Message-ID <acct-1@example.net>: %v", messageIDs(t, msgs))
		}
		if strings.Join(m.To, ",") != "admin@example.com,Owner@Example.org" {
			t.Errorf("recipients %v, want the admin and the account's address", m.To)
		}
		msg, subject := parse(t, m)
		if subject != "[TFPS] New account 1001@pbx.example.com" {
			t.Errorf("subject %q", subject)
		}
		if to := msg.Header.Get("To"); to != "<admin@example.com>" {
			t.Errorf("To header %q: the account's address must be a blind copy", to)
		}
		if msg.Header.Get("X-Tfps-Kind") != "new_account" || msg.Header.Get("X-Tfps-Account") != "1001@pbx.example.com" {
			t.Errorf("X-TFPS headers: %v", msg.Header)
		}
		body := string(m.Data)
		for _, want := range []string{"Source IP:    203.0.113.7", "Time:         2026-11-23 09:00:00 EST", "Concurrent calls: 2 in business hours"} {
			if !strings.Contains(body, want) {
				t.Errorf("body lacks %q:\n%s", want, body)
			}
		}
		if _, ok := byID["<dest-1@example.net>"]; !ok {
			t.Errorf("destination mail missing")
		}
		if strings.Join(byID["<dest-1@example.net>"].To, ",") != "admin@example.com" {
			t.Errorf("without an account address only the admins get it: %v", byID["<dest-1@example.net>"].To)
		}

		// Nothing is sent twice, even when the same event is queued again.
		r.enqueue(t, &tfps.Notification{ID: "acct-1", Kind: tfps.NotifyNewAccount, At: start, User: "1001", Domain: "pbx.example.com"})
		clk.Add(time.Hour)
		if n, err := w.RunOnce(ctx); err != nil || n != 0 {
			t.Fatalf("second RunOnce: %d rows, %v", n, err)
		}
		if got := len(r.srv.Messages()); got != 2 {
			t.Errorf("%d messages, want 2", got)
		}
		if rows := r.rows(t, tfps.OutboxSent); len(rows) != 2 || !rows[0].SentAt.Equal(start) {
			t.Errorf("sent rows %+v", rows)
		}
		if v := counterValue(w.metrics.deliveries.WithLabelValues("email", "sent")); v != 2 {
			t.Errorf("tfps_notify_deliveries_total{email,sent} = %v, want 2", v)
		}
	})
}

func TestServerDownThenUpDeliversEveryMailExactlyOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		r := newRig(t, dialect, time.Now)
		r.srv.Stop() // the relay is down
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		for i := range 2 { // two workers share the outbox
			w := r.worker(t, WorkerConfig{Owner: fmt.Sprintf("w%d", i), PollInterval: 20 * time.Millisecond,
				RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, Lease: 10 * time.Second,
				Registerer: prometheus.NewRegistry()})
			wg.Add(1)
			go func() { defer wg.Done(); w.Run(ctx) }()
		}
		const n = 12
		for i := range n {
			r.enqueue(t, quotaAlert(fmt.Sprintf("down-%02d", i), fmt.Sprint(1000+i), time.Now(), 11))
		}
		// While the relay is down, mail waits in the outbox with its error.
		deadline := time.Now().Add(10 * time.Second)
		for {
			rows := r.rows(t, tfps.OutboxPending)
			retried := 0
			for _, row := range rows {
				if row.Attempts >= 2 && strings.Contains(row.LastError, "smtp connect failed") {
					retried++
				}
			}
			if retried == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 10s only %d of %d rows retried twice: %+v", retried, n, rows)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got := len(r.srv.Messages()); got != 0 {
			t.Fatalf("%d messages while the server was down", got)
		}

		r.srv.Start() // back on the same port
		r.srv.WaitFor(n, 15*time.Second)
		for len(r.rows(t, tfps.OutboxPending)) > 0 && time.Now().Before(deadline.Add(15*time.Second)) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
		cancel()
		wg.Wait()
		msgs := r.srv.Messages()
		ids := messageIDs(t, msgs)
		if len(msgs) != n || len(ids) != n {
			t.Fatalf("%d messages with %d distinct ids, want %d each: %v", len(msgs), len(ids), n, ids)
		}
		if sent := r.rows(t, tfps.OutboxSent); len(sent) != n {
			t.Errorf("%d rows sent, want %d", len(sent), n)
		}
	})
}

func TestRestartedWorkerDeliversPendingMail(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		url := "sqlite://" + filepath.Join(t.TempDir(), "tfps.db")
		if dialect == store.Postgres {
			url = storetest.SchemaURL(t)
		}
		open := func() *store.Store {
			s, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return s
		}
		r := newRig(t, dialect, time.Now)
		r.store = open()
		r.srv.Stop()
		first := r.worker(t, WorkerConfig{RetryMin: 50 * time.Millisecond})
		r.enqueue(t, quotaAlert("before-restart", "1001", time.Now(), 11))
		if _, err := first.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if rows := r.rows(t, tfps.OutboxPending); len(rows) != 1 || rows[0].Attempts != 1 {
			t.Fatalf("after a failed try: %+v", rows)
		}
		// A worker that crashed in the middle of a send leaves a lease behind.
		r.enqueue(t, &tfps.Notification{ID: "crashed-lease", Kind: tfps.NotifyNewAccount, At: time.Now(), User: "1002", Domain: "pbx.example.com"})
		if got, err := r.store.ClaimOutbox(ctx, "crashed", time.Now(), 300*time.Millisecond, 10); err != nil || len(got) != 1 {
			t.Fatalf("crashed claim: %v %v", got, err)
		}
		r.store.Close() // the process goes away

		r.srv.Start()
		r.store = open()
		defer r.store.Close()
		second := r.worker(t, WorkerConfig{PollInterval: 20 * time.Millisecond, Registerer: prometheus.NewRegistry()})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { second.Run(runCtx); close(done) }()
		msgs := r.srv.WaitFor(2, 10*time.Second)
		time.Sleep(100 * time.Millisecond)
		cancel()
		<-done
		ids := messageIDs(t, r.srv.Messages())
		if len(msgs) != 2 || ids["<before-restart@example.net>"] != 1 || ids["<crashed-lease@example.net>"] != 1 {
			t.Errorf("after restart got %v, want each of the two mails once", ids)
		}
	})
}

func TestRateLimitHoldsBackAndSummarises(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		clk := newClock(start)
		r := newRig(t, dialect, clk.Now)
		r.store.Now = clk.Now
		w := r.worker(t, WorkerConfig{Now: clk.Now}) // default interval: 25 minutes
		ctx := context.Background()
		run := func(wantMails int) {
			t.Helper()
			if _, err := w.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if wantMails > 0 {
				r.srv.WaitFor(wantMails, 5*time.Second)
			}
			time.Sleep(50 * time.Millisecond)
			if got := len(r.srv.Messages()); got != wantMails {
				t.Fatalf("at %s: %d mails, want %d", clk.Now().Sub(start), got, wantMails)
			}
		}
		r.enqueue(t, quotaAlert("q1", "1001", clk.Now(), 11))
		run(1)

		clk.Add(time.Minute)
		r.enqueue(t, quotaAlert("q2", "1001", clk.Now(), 12))
		clk.Add(time.Minute)
		r.enqueue(t, quotaAlert("q3", "1001", clk.Now(), 13))
		r.enqueue(t, quotaAlert("other-account", "2002", clk.Now(), 11))
		r.enqueue(t, &tfps.Notification{ID: "change", Kind: tfps.NotifyQuotaRaised, At: clk.Now(), User: "1001", Domain: "pbx.example.com", Limit: 11})
		run(3) // the other account's alert and the account change go; q2, q3 wait

		clk.Add(20 * time.Minute) // 22 minutes after q1: still quiet
		run(3)
		clk.Add(3 * time.Minute) // 25 minutes after q1
		run(4)

		last := r.srv.Messages()[3]
		msg, subject := parse(t, last)
		if msg.Header.Get("Message-Id") != "<q2@example.net>" {
			t.Errorf("the mail after the window is %s, want q2", msg.Header.Get("Message-Id"))
		}
		if subject != "[TFPS] 1001@pbx.example.com over its daily quota: 12 of 10 (business hours) (+1 more)" {
			t.Errorf("subject %q", subject)
		}
		if body := bodyText(t, last); !strings.Contains(body, "1 more alert(s) of this kind were held back") ||
			!strings.Contains(body, "2026-11-23 09:02:00 EST  [TFPS] 1001@pbx.example.com over its daily quota: 13 of 10") {
			t.Errorf("summary missing from the body:\n%s", body)
		}
		if merged := r.rows(t, tfps.OutboxMerged); len(merged) != 1 || merged[0].Notification.ID != "q3" || merged[0].MergedInto != "q2" {
			t.Errorf("merged rows %+v", merged)
		}

		// The window restarts from the summary mail.
		clk.Add(10 * time.Minute)
		r.enqueue(t, quotaAlert("q4", "1001", clk.Now(), 14))
		run(4)
		clk.Add(15 * time.Minute)
		run(5)
		if v := counterValue(w.metrics.deliveries.WithLabelValues("all", "deferred")); v < 3 {
			t.Errorf("deferred counter %v, want at least 3", v)
		}
	})
}

func TestWrongPasswordFailsRowUntilRequeued(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		r := newRig(t, dialect, time.Now)
		r.srv.Users = map[string]string{"relay": "right"}
		r.srv.Stop()
		r.srv.Start()
		cfg := relayConfig(r.srv)
		cfg.Username, cfg.Password = "relay", "wrong"
		r.email.Sender = mustMailer(t, cfg)
		w := r.worker(t, WorkerConfig{RetryMin: time.Millisecond})
		r.enqueue(t, quotaAlert("bad-pass", "1001", time.Now(), 11))
		for range 3 {
			if _, err := w.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		failed := r.rows(t, tfps.OutboxFailed)
		if len(failed) != 1 || failed[0].Attempts != 1 || !strings.Contains(failed[0].LastError, "smtp auth failed") {
			t.Fatalf("failed rows %+v, want one tried once with the auth error", failed)
		}
		// The operator fixes the password and requeues the mail.
		cfg.Password = "right"
		r.email.Sender = mustMailer(t, cfg)
		if err := r.store.RequeueOutbox(ctx, "bad-pass"); err != nil {
			t.Fatal(err)
		}
		if n, err := w.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("after requeue: %d rows, %v: %+v", n, err, r.rows(t, ""))
		}
		if got := r.srv.WaitFor(1, 5*time.Second); got[0].AuthUser != "relay" {
			t.Errorf("delivered with auth %q", got[0].AuthUser)
		}
	})
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

func TestHousekeepingReportsBacklogAndPurgesOldMail(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		clk := newClock(start)
		r := newRig(t, dialect, clk.Now)
		r.store.Now = clk.Now
		w := r.worker(t, WorkerConfig{Now: clk.Now})
		ctx := context.Background()
		r.enqueue(t, &tfps.Notification{ID: "old", Kind: tfps.NotifyNewAccount, At: start, User: "u", Domain: "d"})
		w.RunOnce(ctx)
		r.srv.Stop()
		clk.Add(time.Hour)
		r.enqueue(t, &tfps.Notification{ID: "stuck", Kind: tfps.NotifyNewAccount, At: clk.Now(), User: "u2", Domain: "d"})
		w.RunOnce(ctx) // relay down: stays pending
		clk.Add(10 * time.Minute)
		w.housekeep(ctx, clk.Now())
		if p, o := gaugeValue(w.metrics.pending), gaugeValue(w.metrics.oldest); p != 1 || o != 600 {
			t.Errorf("pending %v oldest %vs, want 1 and 600", p, o)
		}
		clk.Add(31 * 24 * time.Hour)
		w.housekeep(ctx, clk.Now())
		rows := r.rows(t, "")
		if len(rows) != 1 || rows[0].Notification.ID != "stuck" {
			t.Errorf("after 31 days: %+v, want only the undelivered row", rows)
		}
	})
}

func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		panic(err)
	}
	return m.GetGauge().GetValue()
}

func TestRateLimitHoldsAcrossConcurrentWorkers(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		clk := newClock(start)
		r := newRig(t, dialect, clk.Now)
		r.store.Now = clk.Now
		ctx := context.Background()
		const n = 20
		for i := range n {
			r.enqueue(t, quotaAlert(fmt.Sprintf("burst-%02d", i), "1001", start.Add(time.Duration(i)*time.Millisecond), 11+i))
		}
		workers := []*Worker{
			r.worker(t, WorkerConfig{Now: clk.Now, Owner: "a", Batch: 3, Registerer: prometheus.NewRegistry()}),
			r.worker(t, WorkerConfig{Now: clk.Now, Owner: "b", Batch: 3, Registerer: prometheus.NewRegistry()}),
		}
		round := func() {
			var wg sync.WaitGroup
			for _, w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						if k, err := w.RunOnce(ctx); err != nil {
							t.Error(err)
							return
						} else if k == 0 {
							return
						}
					}
				}()
			}
			wg.Wait()
		}
		round()
		time.Sleep(50 * time.Millisecond)
		if got := len(r.srv.Messages()); got != 1 {
			t.Fatalf("%d mails in the first interval, want 1", got)
		}
		for i := 0; i < 4; i++ { // the next windows
			clk.Add(25 * time.Minute)
			round()
		}
		time.Sleep(50 * time.Millisecond)
		msgs := r.srv.Messages()
		t.Logf("%d mails", len(msgs))
		// The first mail folds in every alert no other worker held at that
		// moment; the ones another worker held go at the end of the window.
		if len(msgs) > 2 {
			t.Fatalf("%d mails in two windows, want at most 2", len(msgs))
		}
		// Every alert is in exactly one mail: as its subject or a summary line.
		covered := 0
		for _, m := range msgs {
			_, subject := parse(t, m)
			covered++
			if i := strings.LastIndex(subject, "(+"); i >= 0 {
				var more int
				fmt.Sscanf(subject[i:], "(+%d more)", &more)
				covered += more
			}
		}
		if covered != n {
			t.Errorf("mails cover %d alerts, want %d", covered, n)
		}
		if p := r.rows(t, tfps.OutboxPending); len(p) != 0 {
			t.Errorf("%d rows still pending", len(p))
		}
	})
}

func TestMalformedAccountAddressDoesNotStopTheAdminMail(t *testing.T) {
	r := newRig(t, store.SQLite, time.Now)
	w := r.worker(t, WorkerConfig{})
	r.enqueue(t, &tfps.Notification{ID: "bad-owner", Kind: tfps.NotifyNewAccount, At: start, User: "u", Domain: "d", Email: "not an address"})
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.srv.WaitFor(1, 5*time.Second)[0]; strings.Join(got.To, ",") != "admin@example.com" {
		t.Errorf("delivered to %v", got.To)
	}
	sent := r.rows(t, tfps.OutboxSent)
	if len(sent) != 1 || !strings.Contains(sent[0].LastError, "account address is malformed") {
		t.Errorf("sent rows %+v, want the bad address noted", sent)
	}
}

// stopping is a channel during whose first delivery the process is told to stop.
type stopping struct {
	Channel
	cancel context.CancelFunc
}

func (s *stopping) Deliver(ctx context.Context, n *tfps.Notification, summary []tfps.Notification) error {
	s.cancel()
	return s.Channel.Deliver(ctx, n, summary)
}

func TestStoppingWorkerHandsBackUnsentRows(t *testing.T) {
	forEachStore(t, func(t *testing.T, dialect string) {
		r := newRig(t, dialect, time.Now)
		ctx, cancel := context.WithCancel(context.Background())
		w, err := NewWorker(r.store, []Channel{&stopping{Channel: r.email, cancel: cancel}}, WorkerConfig{Lease: time.Hour, Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			r.enqueue(t, &tfps.Notification{ID: fmt.Sprintf("s%d", i), Kind: tfps.NotifyNewAccount, At: start.Add(time.Duration(i) * time.Second), User: fmt.Sprint(i), Domain: "d"})
		}
		// Rows are claimed one at a time: the one being sent when the stop
		// came is finished, the others were never taken.
		if n, _ := w.RunOnce(ctx); n != 1 {
			t.Fatalf("claimed %d, want 1", n)
		}
		// The two rows not yet tried are free for the next worker now, not in an hour.
		got, err := r.store.ClaimOutbox(context.Background(), "next", time.Now(), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Errorf("next worker got %d rows, want the 2 untried ones", len(got))
		}
	})
}
