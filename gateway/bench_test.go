package gateway_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/store"
)

// BenchmarkCheckHTTP measures POST /v1/check of an in-process gateway
// (SQLite, real Redis) with parallel keep-alive clients: approvable calls
// from a public US address over 100 accounts. cmd/loadcheck and
// scripts/load-http.sh measure the built binary the same way.
func BenchmarkCheckHTTP(b *testing.B) {
	env := newTestEnv(b, store.SQLite, nil)
	m := env.start(b)
	c := env.client(b, m)
	big, five := 1_000_000, 5
	for i := range 100 {
		newAccount(b, c, fmt.Sprintf("b%03d", i), func(in *api.AccountInput) {
			in.DailyQuota, in.DailyQuotaOff, in.ConcurrentCalls, in.ConcurrentCallsOff = &big, &big, &five, &five
		})
	}
	url := "http://" + m.HTTPAddr() + "/v1/check"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body := fmt.Sprintf(`{"user":"b%03d","domain":"pbx.example","source_ip":"8.8.8.8","concurrent_calls":1,"number":"+1201555%04d","caller":"+1212%07d","call_id":"bench-%d"}`,
				i%100, i%10000, i, i)
			resp, err := hc.Post(url, "application/json", bytes.NewBufferString(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
			}
		}
	})
}
