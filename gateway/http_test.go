package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/voipshield/tfps/config"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/gateway/gatewaytest"
	"github.com/voipshield/tfps/store"
)

type rawAnswer struct {
	status int
	code   string
	msg    string
	body   string
}

func send(t *testing.T, method, url, token, body string) rawAnswer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(b, &e)
	return rawAnswer{resp.StatusCode, e.Error.Code, e.Error.Message, string(b)}
}

const goodCheck = `{"user":"1001","domain":"pbx.example","source_ip":"10.0.0.1","number":"+12015550123","caller":"100","call_id":"c1"}`

// Broken requests get a 4xx whose JSON names the problem, and the gateway
// keeps answering: every case is followed by a good request.
func TestHTTPBadRequests(t *testing.T) {
	env := newTestEnv(t, store.SQLite, map[string]string{"TFPS_API_TOKEN": "s3cret-token"})
	m := env.start(t)
	base := "http://" + m.HTTPAddr()
	auth := "Bearer s3cret-token"
	big := `{"user":"` + strings.Repeat("a", 70<<10) + `"}`
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		code, msg                       string
	}{
		{"no token", "POST", "/v1/check", "", goodCheck, 401, "forbidden", "missing Authorization"},
		{"wrong token", "POST", "/v1/check", "Bearer s3cret-tokeN", goodCheck, 401, "forbidden", "wrong API token"},
		{"wrong scheme", "GET", "/v1/accounts", "Basic s3cret-token", "", 401, "forbidden", "wrong API token"},
		{"token prefix only", "GET", "/v1/accounts", "Bearer s3cret", "", 401, "forbidden", "wrong API token"},
		{"broken JSON", "POST", "/v1/check", auth, `{"user":"1001",`, 400, "invalid", "body: JSON ends early"},
		{"syntax error", "POST", "/v1/check", auth, `{"user" "1001"}`, 400, "invalid", "body: invalid JSON at byte"},
		{"empty body", "POST", "/v1/check", auth, ``, 400, "invalid", "body: empty"},
		{"array body", "POST", "/v1/check", auth, `[1,2]`, 400, "invalid", "body: expected a JSON object"},
		{"two values", "POST", "/v1/check", auth, goodCheck + goodCheck, 400, "invalid", "body: more than one JSON value"},
		{"unknown field", "POST", "/v1/check", auth, `{"user":"1001","colour":"red"}`, 400, "invalid", `unknown field "colour"`},
		{"wrong type", "POST", "/v1/check", auth, `{"user":"1001","concurrent_calls":"two"}`, 400, "invalid", "concurrent_calls: expected a number"},
		{"oversized body", "POST", "/v1/check", auth, big, 413, "invalid", "body: larger than 65536 bytes"},
		{"bad source ip", "POST", "/v1/check", auth, strings.Replace(goodCheck, "10.0.0.1", "1.2.3", 1), 400, "invalid", `source_ip: "1.2.3" is not an IP address`},
		{"missing number", "POST", "/v1/check", auth, strings.Replace(goodCheck, `"+12015550123"`, `""`, 1), 400, "invalid", "number: required"},
		{"letters in number", "POST", "/v1/check", auth, strings.Replace(goodCheck, `"+12015550123"`, `"+1201call"`, 1), 400, "invalid", `number: "+1201call" is not a number`},
		{"negative concurrency", "POST", "/v1/check", auth, strings.Replace(goodCheck, `"caller"`, `"concurrent_calls":-1,"caller"`, 1), 400, "invalid", "concurrent_calls: -1 is outside"},
		{"control character", "POST", "/v1/check", auth, strings.Replace(goodCheck, `"100"`, `"1\u00000"`, 1), 400, "invalid", "caller:"},
		{"long user agent", "POST", "/v1/check", auth, strings.Replace(goodCheck, `"caller"`, `"user_agent":"`+strings.Repeat("x", 300)+`","caller"`, 1), 400, "invalid", "user_agent: longer than 256 bytes"},
		{"bad limit", "GET", "/v1/accounts?limit=ten", auth, "", 400, "invalid", `limit: "ten" is not an integer`},
		{"bad country", "PUT", "/v1/accounts/pbx.example/1001/countries/source/XX", auth, "", 400, "invalid", `country: "XX" is not an ISO 3166`},
		{"unknown route", "GET", "/v1/nothing", auth, "", 404, "not_found", "no route GET /v1/nothing"},
		{"wrong method", "DELETE", "/v1/check", auth, "", 405, "invalid", "method DELETE not allowed"},
		{"bad create", "POST", "/v1/accounts", auth, `{"user":"x","domain":"d","daily_quota":-4}`, 400, "invalid", "daily_quota: -4 is outside"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := send(t, tc.method, base+tc.path, tc.token, tc.body)
			if got.status != tc.status || got.code != tc.code || !strings.Contains(got.msg, tc.msg) {
				t.Errorf("answer %d %s %q, want %d %s containing %q (body %.200s)", got.status, got.code, got.msg, tc.status, tc.code, tc.msg, got.body)
			}
			if ok := send(t, "POST", base+"/v1/check", auth, goodCheck); ok.status != 200 || !strings.Contains(ok.body, `"result":"verify"`) {
				t.Fatalf("next good request: %d %s", ok.status, ok.body)
			}
		})
	}
	// The internal errors counter saw none of this; /healthz is still fine.
	if h := send(t, "GET", base+"/healthz", "", ""); h.status != 200 || !strings.Contains(h.body, `"status":"ok"`) {
		t.Fatalf("healthz: %d %s", h.status, h.body)
	}
}

// /metrics shows decisions by result and code, the decision latency
// histogram and HTTP requests by route pattern and status.
func TestHTTPMetrics(t *testing.T) {
	env := newTestEnv(t, store.SQLite, nil)
	m := env.start(t)
	base := "http://" + m.HTTPAddr()
	send(t, "POST", base+"/v1/check", "", goodCheck)
	send(t, "POST", base+"/v1/check", "", `{`)
	send(t, "GET", base+"/v1/accounts/pbx.example/1001", "", "")
	send(t, "BREW", base+"/v1/check", "", "")
	send(t, "GET", base+"/v1/no/such/route", "", "")
	got := send(t, "GET", base+"/metrics", "", "")
	for _, want := range []string{
		`tfps_decisions_total{code="V01",enforced="true",result="verify"} 1`,
		`tfps_decide_seconds_count 1`,
		`tfps_http_requests_total{method="POST",route="/v1/check",status="200"} 1`,
		`tfps_http_requests_total{method="POST",route="/v1/check",status="400"} 1`,
		`tfps_http_requests_total{method="GET",route="/v1/accounts/{domain}/{user}",status="404"} 1`,
		`tfps_http_requests_total{method="other",route="unmatched",status="405"} 1`,
		`tfps_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
	} {
		if !strings.Contains(got.body, want) {
			t.Errorf("metrics lack %s in:\n%s", want, grepLines(got.body, "tfps_http_requests_total"))
		}
	}
}

// Without TFPS_API_TOKEN the gateway refuses to serve the API on a
// non-loopback address, and says which setting is missing.
func TestStartRefusesOpenAPIWithoutToken(t *testing.T) {
	for _, tc := range []struct {
		listen string
		ok     bool
	}{
		{"0.0.0.0:0", false},
		{":0", false},
		{"[::]:0", false},
		{"127.0.0.1:0", true},
		{"localhost:0", true},
		{"[::1]:0", true},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			env := newTestEnv(t, store.SQLite, map[string]string{"TFPS_HTTP_LISTEN": tc.listen})
			cfg, _, err := config.Load(config.Options{Lookup: func(k string) (string, bool) { v, ok := env.vars[k]; return v, ok }})
			if err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				gatewaytest.MustStart(t, env.vars)
				return
			}
			m := gateway.New(cfg, discardLogger())
			err = m.Start(context.Background())
			defer m.Close(context.Background())
			if err == nil || !strings.Contains(err.Error(), "TFPS_API_TOKEN is required") {
				t.Fatalf("start on %s without a token: %v, want an error naming TFPS_API_TOKEN", tc.listen, err)
			}
		})
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The profiler is off by default, serves /debug/pprof/ on its own loopback
// listener when asked, and is refused on any other address.
func TestPprofListener(t *testing.T) {
	env := newTestEnv(t, store.SQLite, nil)
	m := gatewaytest.MustStart(t, env.vars)
	if m.PprofAddr() != "" {
		t.Fatalf("profiler on %s without TFPS_PPROF_LISTEN", m.PprofAddr())
	}
	if a := send(t, "GET", "http://"+m.HTTPAddr()+"/debug/pprof/cmdline", "", ""); a.status != http.StatusNotFound {
		t.Fatalf("API listener serves the profiler: %d", a.status)
	}

	env = newTestEnv(t, store.SQLite, map[string]string{"TFPS_PPROF_LISTEN": "127.0.0.1:0"})
	m = gatewaytest.MustStart(t, env.vars)
	if a := send(t, "GET", "http://"+m.PprofAddr()+"/debug/pprof/cmdline", "", ""); a.status != http.StatusOK || a.body == "" {
		t.Fatalf("profiler cmdline: %d %q", a.status, a.body)
	}

	env = newTestEnv(t, store.SQLite, map[string]string{"TFPS_PPROF_LISTEN": "0.0.0.0:0"})
	cfg, _, err := config.Load(config.Options{Lookup: func(k string) (string, bool) { v, ok := env.vars[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	g := gateway.New(cfg, discardLogger())
	err = g.Start(context.Background())
	defer g.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "TFPS_PPROF_LISTEN (0.0.0.0:0) must be a loopback address") {
		t.Fatalf("start with the profiler on 0.0.0.0: %v", err)
	}
}
