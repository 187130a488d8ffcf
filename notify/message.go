package notify

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// bytes renders m as an RFC 5322 message: plain text, UTF-8, quoted-printable,
// CRLF line ends. The Message-ID is derived from the outbox id, so a mail sent
// twice after a crash can be recognised as the same mail.
func (m *Mail) bytes() ([]byte, error) {
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return nil, fmt.Errorf("parse sender %q: %w", m.From, err)
	}
	var b bytes.Buffer
	header := func(k, v string) {
		b.WriteString(fold(k+": "+v, 76))
		b.WriteString("\r\n")
	}
	header("From", from.String())
	to := make([]string, 0, len(m.To))
	for _, r := range m.To {
		a, err := mail.ParseAddress(r)
		if err != nil {
			return nil, fmt.Errorf("parse recipient %q: %w", r, err)
		}
		to = append(to, a.String())
	}
	if len(to) > 0 {
		header("To", strings.Join(to, ", "))
	} else {
		header("To", "undisclosed-recipients:;")
	}
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	date := m.Date
	if date.IsZero() {
		return nil, errors.New("mail has no date")
	}
	header("Date", date.Format(time.RFC1123Z))
	if m.ID != "" {
		header("Message-ID", messageID(m.ID, from.Address))
	}
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	for _, h := range m.Headers {
		if strings.ContainsAny(h[0], "\r\n: ") || h[0] == "" {
			return nil, fmt.Errorf("header name %q is invalid", h[0])
		}
		header(h[0], mime.QEncoding.Encode("utf-8", oneLine(h[1])))
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(m.Body, "\r\n", "\n")
	if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// messageID builds <id@domain-of-sender>, keeping only characters allowed in
// a dot-atom so any id is safe.
func messageID(id, from string) string {
	domain := "tfps.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		case strings.ContainsRune("!#$%&'*+-/=?^_`{|}~.", r):
			return r
		}
		return '_'
	}, id)
	clean = strings.Trim(clean, ".")
	return "<" + clean + "@" + domain + ">"
}

// oneLine folds any line breaks and runs of white space into one space, so a
// field value can never inject a header.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// fold breaks a header line at spaces so no line exceeds width where it can
// (RFC 5322 2.2.3); encoded words hold no spaces, so they stay whole.
func fold(line string, width int) string {
	if len(line) <= width {
		return line
	}
	var b strings.Builder
	n := 0
	for i, word := range strings.Split(line, " ") {
		if i > 0 {
			if n+1+len(word) > width && n > 1 {
				b.WriteString("\r\n")
				n = 0
			}
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}
