package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// checkOnly answers Check after the request passed validation; the other
// operations are not reached by the fuzz test.
type checkOnly struct{ Service }

func (checkOnly) Check(_ context.Context, req *CheckRequest) (*CheckResponse, error) {
	if _, err := req.Call(); err != nil {
		return nil, err
	}
	return &CheckResponse{Result: "approve", Code: "A00", Reason: "approved"}, nil
}

// FuzzCheckBody: whatever the body, POST /v1/check answers 200 with a
// decision or a 4xx JSON error naming the problem; never 5xx, never a panic.
func FuzzCheckBody(f *testing.F) {
	for _, s := range []string{
		`{"user":"1001","domain":"pbx.example","source_ip":"10.0.0.1","number":"+12015550123"}`,
		`{"user":"1001","source_ip":"1.2.3","number":"+1"}`,
		`{"user":"a","source_ip":"::1","number":"1","concurrent_calls":-1}`,
		`{"user":"a","colour":"red"}`, `[1]`, `null`, `{`, ``, `{"user":"\u0000"}`,
		`{"user":"a","source_ip":"::ffff:10.0.0.1","number":"#*1","concurrent_calls":1e99}`,
	} {
		f.Add(s)
	}
	h, err := Handler(checkOnly{}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/check", strings.NewReader(body))
		req.Host = "127.0.0.1:8080"
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
			var res CheckResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || res.Code != "A00" {
				t.Fatalf("200 with body %q", rec.Body.String())
			}
		case rec.Code >= 400 && rec.Code < 500:
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != "invalid" || e.Error.Message == "" {
				t.Fatalf("%d with body %q", rec.Code, rec.Body.String())
			}
		default:
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body.String())
		}
	})
}
