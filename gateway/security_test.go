package gateway_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voipshield/tfps/command/commandtest"
	"github.com/voipshield/tfps/gateway"
	"github.com/voipshield/tfps/sipfront/sipptest"
	"github.com/voipshield/tfps/state/statetest"
	"github.com/voipshield/tfps/store"
)

func rawInvite(local, callID string) []byte {
	return []byte("INVITE sip:+12125550100@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + local + ";branch=z9hG4bK-" + callID + ";rport\r\n" +
		"From: <sip:100@pbx.example.com>;tag=ft-" + callID + "\r\n" +
		"To: <sip:+12125550100@127.0.0.1>\r\n" +
		"Call-ID: " + callID + "\r\n" +
		"CSeq: 1 INVITE\r\n" +
		"Max-Forwards: 70\r\n" +
		"Content-Length: 0\r\n\r\n")
}

// metricValue reads one sample of the gateway's /metrics (0 when absent).
func metricValue(t *testing.T, httpAddr, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// Reflection and spoofing over UDP: with the default settings a source
// outside TFPS_SIP_ALLOW gets no answer at all (a 403 would be sent to
// whatever address a forger wrote), and a flood from a denied source is
// counted by the flood limit like any other.
func TestUDPReflectionAndSpoofing(t *testing.T) {
	m := newTestEnv(t, store.SQLite, map[string]string{"TFPS_SIP_ALLOW": "127.0.0.1/32", "TFPS_SIP_FLOOD_LIMIT": "5"}).start(t)
	ra, _ := net.ResolveUDPAddr("udp", m.SIPAddr())
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 20 {
		if _, err := c.WriteTo(rawInvite(c.LocalAddr().String(), "spoof-"+strconv.Itoa(i)), ra); err != nil {
			t.Fatal(err)
		}
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	if n, _, err := c.ReadFrom(buf); err == nil {
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		t.Errorf("denied source answered %q, want silence (TFPS_SIP_DENY_ACTION defaults to drop)", line)
	}
	// The front reads datagrams in order: once the allowed caller's answer
	// is back, every spoofed datagram has been looked at.
	sipptest.Run(t, m.SIPAddr(), sipptest.Call{Number: "+12125550100", FromUser: "100", Status: 302})
	if got := metricValue(t, m.HTTPAddr(), "tfps_sip_flood_dropped_total"); got < 14 {
		t.Errorf("flood drops %v after 20 datagrams in a second from a denied source at a limit of 5/s, want at least 14", got)
	}
}

// TFPS_SIP_TRANSPORTS=tcp serves SIP over TCP only: no UDP socket, where a
// source address could be forged.
func TestSIPOverTCPOnly(t *testing.T) {
	m := newTestEnv(t, store.SQLite, map[string]string{"TFPS_SIP_TRANSPORTS": "tcp"}).start(t)
	if m.SIPAddr() != "" {
		t.Errorf("UDP address %q with TFPS_SIP_TRANSPORTS=tcp, want none", m.SIPAddr())
	}
	_, port, _ := net.SplitHostPort(m.SIPTCPAddr())
	if p, _ := strconv.Atoi(port); sipptest.UDPBound(p) {
		t.Errorf("UDP port %d bound with TFPS_SIP_TRANSPORTS=tcp", p)
	}
	sipptest.Run(t, m.SIPTCPAddr(), sipptest.Call{Number: "+12125550100", FromUser: "100", Status: 302, Transport: "t1"})
}

// redisRelay forwards TCP to the test Redis until cut, so a test can take
// Redis away from a running gateway.
type redisRelay struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startRedisRelay(t *testing.T) *redisRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(statetest.RedisURL())
	r := &redisRelay{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", u.Host)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, up)
			r.mu.Unlock()
			go io.Copy(up, c)
			go io.Copy(c, up)
		}
	}()
	t.Cleanup(r.cut)
	return r
}

func (r *redisRelay) url() string { return "redis://" + r.ln.Addr().String() + "/0" }

func (r *redisRelay) cut() {
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
}

// Secrets in output: the unauthenticated /healthz says ok or failing per
// dependency, never the error text (which names hosts and addresses).
func TestHealthzSaysOnlyOkOrFailing(t *testing.T) {
	relay := startRedisRelay(t)
	// The relay leads to one node: a single-node client (a cluster client
	// would find the other nodes and go round the relay).
	m := newTestEnv(t, store.SQLite, map[string]string{"TFPS_REDIS_URL": relay.url(), "TFPS_REDIS_CLUSTER": "off"}).start(t)
	relay.cut()
	resp, err := http.Get("http://" + m.HTTPAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var h struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatalf("healthz body %s: %v", body, err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || h.Checks["redis"] != "failing" || h.Checks["sql"] != "ok" {
		t.Errorf("healthz with Redis gone: %d %s, want 503 with redis failing and sql ok, nothing else", resp.StatusCode, body)
	}
}

// request sends one HTTP request with the given headers and returns the
// status.
func request(t *testing.T, method, url string, headers map[string]string, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// API tokens: a PBX's check token decides calls and nothing else, a read
// token reads and changes nothing, admin tokens (TFPS_API_TOKEN among them)
// change things, and the log names the token of every admin change.
func TestScopedAPITokens(t *testing.T) {
	logs := &commandtest.Buffer{}
	env := newTestEnv(t, store.SQLite, map[string]string{
		"TFPS_API_TOKEN":  "plain-admin-token",
		"TFPS_API_TOKENS": "pbx1:check:" + sha256hex("pbx-token") + ", dash:read:" + sha256hex("dash-token") + ",ops:admin:" + sha256hex("ops-token"),
	})
	m := env.start(t, func(m *gateway.Main) { m.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	base := "http://" + m.HTTPAddr()
	check := `{"user":"1001","domain":"pbx.example","source_ip":"10.0.0.1","number":"+12125550100"}`
	auth := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	}
	tests := []struct {
		token, method, path, body string
		want                      int
	}{
		{"pbx-token", "POST", "/v1/check", check, 200},
		{"pbx-token", "GET", "/v1/codes", "", 200},
		{"pbx-token", "GET", "/v1/accounts", "", 403},
		{"pbx-token", "POST", "/v1/accounts", `{"user":"x1","domain":"pbx.example"}`, 403},
		{"pbx-token", "POST", "/v1/accounts/pbx.example/1001/block", "", 403},
		{"dash-token", "GET", "/v1/accounts", "", 200},
		{"dash-token", "GET", "/v1/decisions", "", 200},
		{"dash-token", "POST", "/v1/check", check, 403},
		{"dash-token", "POST", "/v1/accounts", `{"user":"x2","domain":"pbx.example"}`, 403},
		{"ops-token", "POST", "/v1/accounts", `{"user":"x3","domain":"pbx.example"}`, 201},
		{"ops-token", "POST", "/v1/check", check, 200},
		{"plain-admin-token", "POST", "/v1/accounts", `{"user":"x4","domain":"pbx.example"}`, 201},
		{"pbx-token", "GET", "/v1/ranges", "", 403},
		{"dash-token", "GET", "/v1/ranges", "", 200},
		{"dash-token", "POST", "/v1/ranges", `[{"prefix":"+1201666","level":"reject"}]`, 403},
		{"ops-token", "POST", "/v1/ranges", `[{"prefix":"+1201666","level":"reject"}]`, 200},
		{"dash-token", "DELETE", "/v1/ranges/1201666", "", 403},
		{"ops-token", "DELETE", "/v1/ranges/1201666", "", 204},
		{"wrong-token", "POST", "/v1/check", check, 401},
	}
	for _, tt := range tests {
		if got := request(t, tt.method, base+tt.path, auth(tt.token), tt.body); got != tt.want {
			t.Errorf("%s %s with %s: %d, want %d", tt.method, tt.path, tt.token, got, tt.want)
		}
	}
	out := logs.String()
	for _, want := range []string{`msg="admin change" token=ops method=POST path=/v1/accounts`, `msg="admin change" token=TFPS_API_TOKEN method=POST path=/v1/accounts`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pbx-token") || strings.Contains(out, "ops-token") {
		t.Errorf("log shows a token:\n%s", out)
	}
}

// The token-less API listens on loopback only, but a browser on the same
// machine can still be made to call it: a form POST from any page, or a
// page whose DNS name is rebound to 127.0.0.1. Writes without a JSON
// Content-Type and requests whose Host is not the listener are refused.
func TestLoopbackAPIRefusesBrowsers(t *testing.T) {
	m := newTestEnv(t, store.SQLite, nil).start(t)
	base := "http://" + m.HTTPAddr()
	_, port, _ := net.SplitHostPort(m.HTTPAddr())
	body := `{"user":"x1","domain":"pbx.example"}`
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		want    int
	}{
		{"form post", "POST", "/v1/accounts", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 403},
		{"text/plain post", "POST", "/v1/check", map[string]string{"Content-Type": "text/plain"}, 403},
		{"no content type", "POST", "/v1/accounts/pbx.example/1001/block", nil, 403},
		{"rebound DNS name", "GET", "/v1/accounts", map[string]string{"Host": "attacker.example:" + port}, 403},
		{"rebound name, json", "POST", "/v1/accounts", map[string]string{"Host": "attacker.example:" + port, "Content-Type": "application/json"}, 403},
		{"other port", "GET", "/v1/accounts", map[string]string{"Host": "127.0.0.1:1"}, 403},
		{"read", "GET", "/v1/accounts", nil, 200},
		{"localhost", "GET", "/v1/accounts", map[string]string{"Host": "localhost:" + port}, 200},
		{"json write", "POST", "/v1/accounts", map[string]string{"Content-Type": "application/json; charset=utf-8"}, 201},
	}
	for _, tt := range tests {
		if got := request(t, tt.method, base+tt.path, tt.headers, body); got != tt.want {
			t.Errorf("%s: %s %s: %d, want %d", tt.name, tt.method, tt.path, got, tt.want)
		}
	}
	// A range import may be CSV: a form can no more send text/csv than JSON.
	if got := request(t, "POST", base+"/v1/ranges", map[string]string{"Content-Type": "text/csv"}, "+1201666,reject\n"); got != 200 {
		t.Errorf("csv range import: %d, want 200", got)
	}
}
