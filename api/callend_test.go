package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// endOnly records the call end the handler decoded.
type endOnly struct {
	Service
	got *CallEndRequest
}

func (e endOnly) EndCall(_ context.Context, req *CallEndRequest) (*CallEndResponse, error) {
	*e.got = *req
	return &CallEndResponse{CallID: req.CallID, Ended: "now"}, nil
}

// POST /v1/calls/end takes the form-encoded body Asterisk's CURL() posts
// as well as JSON, with the same fields, and refuses an unknown field or a
// duration that is not whole seconds with the field's name.
func TestCallEndForm(t *testing.T) {
	var got CallEndRequest
	h, err := Handler(endOnly{got: &got}, Options{Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	post := func(ct, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/calls/end", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer tok")
		h.ServeHTTP(rec, req)
		return rec
	}
	const form = "application/x-www-form-urlencoded"
	if rec := post(form, "call_id=abc%40pbx&user=1001&domain=pbx.example&duration=95"); rec.Code != http.StatusOK {
		t.Fatalf("form end: %d %s", rec.Code, rec.Body)
	}
	if want := (CallEndRequest{CallID: "abc@pbx", User: "1001", Domain: "pbx.example", Duration: 95}); got != want {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
	for body, want := range map[string]string{
		"call_id=x&user=u&secs=3":       `unknown field \"secs\"`,
		"call_id=x&user=u&duration=3.5": `duration: \"3.5\" is not whole seconds`,
		"call_id=x&call_id=y&user=u":    "call_id: given 2 times",
	} {
		rec := post(form, body)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("form %q: %d %s, want 400 with %s", body, rec.Code, rec.Body, want)
		}
	}
	if rec := post("application/json", `{"call_id":"j","user":"u","domain":"d","duration":4}`); rec.Code != http.StatusOK || got.CallID != "j" || got.Duration != 4 {
		t.Errorf("JSON end: %d %s, decoded %+v", rec.Code, rec.Body, got)
	}
}
