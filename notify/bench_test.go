package notify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store/storetest"
)

// BenchmarkOutbox measures the whole path per notification: enqueue in SQL,
// claim, render, send over SMTP to a local go-smtp server, mark sent. Run:
//
//	go test ./notify -run '^$' -bench Outbox -benchtime 500x
func BenchmarkOutbox(b *testing.B) {
	for _, dialect := range storetest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			srv := newTestServer(b)
			srv.Start()
			st := storetest.MustOpen(b, dialect)
			tmpl, err := LoadTemplates("", time.UTC)
			if err != nil {
				b.Fatal(err)
			}
			m, err := NewMailer(SMTPConfig{Host: srv.Host(), Port: srv.Port(), Security: SecurityNone})
			if err != nil {
				b.Fatal(err)
			}
			w, err := NewWorker(st, []Channel{NewEmail(m, tmpl, "tfps@example.net", []string{"admin@example.com"}, nil)},
				WorkerConfig{Registerer: prometheus.NewRegistry(), Batch: 50})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			startEnq := time.Now()
			for i := range b.N {
				if err := st.Enqueue(ctx, &tfps.Notification{ID: fmt.Sprintf("b%d", i), Kind: tfps.NotifyNewAccount, User: fmt.Sprint(i), Domain: "d"}); err != nil {
					b.Fatal(err)
				}
			}
			enq := time.Since(startEnq)
			startSend := time.Now()
			for {
				n, err := w.RunOnce(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			send := time.Since(startSend)
			b.StopTimer()
			if got := len(srv.Messages()); got != b.N {
				b.Fatalf("%d mails, want %d", got, b.N)
			}
			b.ReportMetric(float64(enq.Microseconds())/float64(b.N), "us/enqueue")
			b.ReportMetric(float64(b.N)/send.Seconds(), "mails/s")
		})
	}
}
