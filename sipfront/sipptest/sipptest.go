// Package sipptest drives sipp (Debian package sip-tester) from Go tests:
// one call from a generated UAC scenario, the expected final status as the
// assertion, and sipp's message log to read the answer's Contact.
package sipptest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"
)

// Call is one sipp call: the request to send and the final answer expected.
type Call struct {
	Method      string // default INVITE
	Number      string // request user
	FromUser    string
	FromHost    string // default pbx.example.com
	Contact     string // Contact user, default FromUser
	MaxForwards string // default 70
	Headers     []string
	Status      int    // expected final status
	Transport   string // "u1" (UDP, default) or "t1" (TCP)
	Source      string // local IP for sipp, default 127.0.0.1
	// Hold, with Status 200: the caller stays this long in the answered
	// call (its ACK and BYE follow the Record-Route), then hangs up.
	Hold time.Duration
}

var scenario = template.Must(template.New("s").Parse(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="tfps {{.Method}} {{.Status}}">
  <send retrans="500">
    <![CDATA[
{{.Method}} sip:{{.Number}}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{{.FromUser}}@{{.FromHost}}>;tag=[pid]SIPpTag00[call_number]
To: <sip:{{.Number}}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 {{.Method}}
Contact: <sip:{{.Contact}}@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: {{.MaxForwards}}
User-Agent: Yealink SIP-T46U
{{range .Headers}}{{.}}
{{end}}Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true"/>
{{if .HoldMS}}
  <recv response="{{.Status}}" rrs="true"/>
  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-2]
From: <sip:{{.FromUser}}@{{.FromHost}}>;tag=[pid]SIPpTag00[call_number]
To: <sip:{{.Number}}@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
[routes]
Max-Forwards: 70
Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="{{.HoldMS}}"/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
From: <sip:{{.FromUser}}@{{.FromHost}}>;tag=[pid]SIPpTag00[call_number]
To: <sip:{{.Number}}@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
[routes]
Max-Forwards: 70
Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
{{else}}
  <recv response="{{.Status}}"/>
{{end}}
{{if and (eq .Method "INVITE") (not .HoldMS)}}
  <send>
    <![CDATA[
ACK sip:{{.Number}}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-2]
From: <sip:{{.FromUser}}@{{.FromHost}}>;tag=[pid]SIPpTag00[call_number]
To: <sip:{{.Number}}@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
{{end}}
</scenario>
`))

// FreeUDPPort returns a UDP port free on ip right now.
func FreeUDPPort(t testing.TB, ip string) int {
	t.Helper()
	c, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// Run sends c to target (host:port) and returns the messages sipp logged.
// A wrong or missing answer fails the test with sipp's own account of it.
func Run(t testing.TB, target string, c Call) string {
	t.Helper()
	if c.Method == "" {
		c.Method = "INVITE"
	}
	if c.FromHost == "" {
		c.FromHost = "pbx.example.com"
	}
	if c.Contact == "" {
		c.Contact = c.FromUser
	}
	if c.MaxForwards == "" {
		c.MaxForwards = "70"
	}
	if c.Transport == "" {
		c.Transport = "u1"
	}
	if c.Source == "" {
		c.Source = "127.0.0.1"
	}
	dir := t.TempDir()
	sf := filepath.Join(dir, "scenario.xml")
	var buf bytes.Buffer
	if err := scenario.Execute(&buf, struct {
		Call
		HoldMS int64
	}{c, c.Hold.Milliseconds()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sf, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	msgs := filepath.Join(dir, "messages.log")
	errs := filepath.Join(dir, "errors.log")
	var out []byte
	var err error
	// The local port is free when chosen but may be taken (another test,
	// or TCP) by the time sipp binds it: then try another.
	for try := 0; try < 5; try++ {
		os.Remove(msgs)
		out, err = Sipp(t, target, "-sf", sf, "-m", "1", "-t", c.Transport, "-i", c.Source,
			"-p", fmt.Sprint(FreeUDPPort(t, c.Source)), "-timeout", "15s", "-timeout_error",
			"-trace_msg", "-message_file", msgs, "-trace_err", "-error_file", errs)
		if err == nil || !bytes.Contains(out, []byte("Address already in use")) {
			break
		}
	}
	logged, _ := os.ReadFile(msgs)
	if err != nil {
		e, _ := os.ReadFile(errs)
		t.Fatalf("sipp %s %s, expecting %d: %v\n%s\nerrors:\n%s\nmessages:\n%s", c.Method, c.Number, c.Status, err, out, e, logged)
	}
	return string(logged)
}

// Sipp runs sipp against target with args (and no terminal); it fails the
// test when sipp is not installed.
func Sipp(t testing.TB, target string, args ...string) ([]byte, error) {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatalf("sipp not installed (Debian package sip-tester): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sipp", append([]string{target, "-nostdin", "-trace_screen", "-screen_file", filepath.Join(t.TempDir(), "screen.log")}, args...)...)
	return cmd.CombinedOutput()
}

var contactRE = regexp.MustCompile(`(?m)^Contact:\s*<?sip:([^@>]*)@([^>;\r\n]*)`)

// Contact returns user and host of the Contact of the last 302 in a sipp
// message log.
func Contact(t testing.TB, logged string) (user, host string) {
	t.Helper()
	i := strings.LastIndex(logged, "SIP/2.0 302")
	if i < 0 {
		t.Fatalf("no 302 in sipp's log:\n%s", logged)
	}
	m := contactRE.FindStringSubmatch(logged[i:])
	if m == nil {
		t.Fatalf("302 without Contact:\n%s", logged[i:])
	}
	return m[1], m[2]
}

var uasScenario = template.Must(template.New("uas").Parse(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas {{.Status}}">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
SIP/2.0 {{.Status}} {{.Reason}}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>
`))

var answerScenario = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas answers">
  <recv request="INVITE"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:carrier@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=- 1 1 IN IP4 [local_ip]
s=-
c=IN IP4 [local_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
</scenario>
`

// StartAnsweringUAS starts a sipp UAS that answers one INVITE (200 with an
// SDP) and stays in the call until the caller's BYE: a carrier whose
// callee picks up.
func StartAnsweringUAS(t testing.TB) *UAS {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatalf("sipp not installed (Debian package sip-tester): %v", err)
	}
	dir := t.TempDir()
	sf := filepath.Join(dir, "uas.xml")
	if err := os.WriteFile(sf, []byte(answerScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	for try := 0; try < 5; try++ {
		if u := startUAS(t, sf, dir); u != nil {
			return u
		}
	}
	t.Fatalf("sipp uas did not start")
	return nil
}

// UAS is a sipp answering one INVITE with a fixed final status: a stand-in
// carrier or IVR box that records what reached it.
type UAS struct {
	Addr string // 127.0.0.1:port
	t    testing.TB
	cmd  *exec.Cmd
	done chan error
	log  string
}

// StartUAS starts a sipp UAS on a free loopback port answering status.
func StartUAS(t testing.TB, status int, reason string) *UAS {
	t.Helper()
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatalf("sipp not installed (Debian package sip-tester): %v", err)
	}
	dir := t.TempDir()
	sf := filepath.Join(dir, "uas.xml")
	var buf bytes.Buffer
	uasScenario.Execute(&buf, struct {
		Status int
		Reason string
	}{status, reason})
	if err := os.WriteFile(sf, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for try := 0; try < 5; try++ {
		if u := startUAS(t, sf, dir); u != nil {
			return u
		}
	}
	t.Fatalf("sipp uas did not start")
	return nil
}

// startUAS runs one sipp UAS on a free port; nil when sipp could not bind it.
func startUAS(t testing.TB, sf, dir string) *UAS {
	t.Helper()
	port := FreeUDPPort(t, "127.0.0.1")
	u := &UAS{Addr: fmt.Sprintf("127.0.0.1:%d", port), t: t, done: make(chan error, 1), log: filepath.Join(dir, "messages.log")}
	u.cmd = exec.Command("sipp", "-sf", sf, "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-m", "1", "-nostdin",
		"-trace_msg", "-message_file", u.log, "-trace_screen", "-screen_file", filepath.Join(dir, "screen.log"))
	if err := u.cmd.Start(); err != nil {
		t.Fatalf("start sipp uas: %v", err)
	}
	go func() { u.done <- u.cmd.Wait() }()
	// sipp binds its port at start; wait until it does (or gives up).
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if UDPBound(port) {
			t.Cleanup(func() {
				u.cmd.Process.Kill()
				<-u.done
			})
			return u
		}
		select {
		case <-u.done:
			return nil // port taken between choosing and binding
		case <-time.After(20 * time.Millisecond):
		}
	}
	u.cmd.Process.Kill()
	<-u.done
	return nil
}

// Received waits for the UAS's one call to end and returns the messages it
// logged.
func (u *UAS) Received(wait time.Duration) string {
	u.t.Helper()
	select {
	case <-u.done:
		u.done <- nil
	case <-time.After(wait):
		u.t.Errorf("sipp uas %s: call not complete after %s", u.Addr, wait)
	}
	b, _ := os.ReadFile(u.log)
	return string(b)
}

// UDPBound reports whether some process has bound UDP port on loopback
// (read from /proc/net/udp, without touching the port).
func UDPBound(port int) bool {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false
	}
	return strings.Contains(string(b), fmt.Sprintf("0100007F:%04X ", port))
}

// Header returns the value of header name in the last final response (not
// 100 Trying) of a sipp message log, "" when it has none.
func Header(t testing.TB, logged, name string) string {
	t.Helper()
	lines := strings.Split(strings.ReplaceAll(logged, "\r\n", "\n"), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "SIP/2.0 ") && !strings.HasPrefix(l, "SIP/2.0 1") {
			start = i
		}
	}
	if start < 0 {
		t.Fatalf("no final response in sipp's log:\n%s", logged)
	}
	for _, l := range lines[start+1:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
