package notify

import (
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// FuzzMailBytes feeds arbitrary ids, subjects and bodies (they come from
// templates filled with caller-controlled fields: SIP user, user agent...)
// and checks the message always parses to the same headers, the subject
// decodes to the folded input and the body survives.
func FuzzMailBytes(f *testing.F) {
	f.Add("n-1", "Quota exceeded", "line\nline")
	f.Add("ivr:ticket:kind", "São Paulo\r\nBcc: x@example.com", ".\r\n.\nQUIT\r\n")
	f.Add("<>@\"", strings.Repeat("ü", 200), strings.Repeat("x", 2000))
	f.Fuzz(func(t *testing.T, id, subject, body string) {
		m := &Mail{ID: id, From: "tfps@example.net", To: []string{"admin@example.com"}, Subject: subject, Body: body,
			Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		b, err := m.bytes()
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("unparseable message: %v\n%q", err, b)
		}
		want := map[string]bool{"From": true, "To": true, "Subject": true, "Date": true, "Message-Id": true,
			"Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true, "Auto-Submitted": true}
		for k := range msg.Header {
			if !want[k] {
				t.Fatalf("unexpected header %q in\n%q", k, b)
			}
		}
		got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err == nil && strings.ToValidUTF8(oneLine(subject), "\uFFFD") == oneLine(subject) && got != oneLine(subject) {
			t.Errorf("subject %q, want %q", got, oneLine(subject))
		}
		mid := msg.Header.Get("Message-Id")
		if !strings.HasPrefix(mid, "<") || !strings.HasSuffix(mid, "@example.net>") || strings.ContainsAny(mid[1:len(mid)-1], " \t\r\n\"<>()[]\\,;:") {
			t.Errorf("Message-ID %q is not <safe-id@example.net>", mid)
		}
		decoded, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
		if err != nil {
			t.Fatal(err)
		}
		norm := strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")
		if norm != "" && !strings.HasSuffix(norm, "\r\n") {
			norm += "\r\n"
		}
		if string(decoded) != norm && !strings.Contains(body, "\r") {
			t.Errorf("body changed:\n%q\nwant\n%q", decoded, norm)
		}
	})
}
