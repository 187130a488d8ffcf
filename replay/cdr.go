package replay

import (
	"container/heap"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/voipshield/tfps/api"
)

// Asterisk's cdr_csv writes Master.csv in this column order (the default,
// without the optional uniqueid/userfield columns after amaflags).
const (
	cdrAccountCode = 0
	cdrSrc         = 1
	cdrDst         = 2
	cdrChannel     = 5
	cdrStart       = 9
	cdrEnd         = 11
	cdrUniqueID    = 16 // present with loguniqueid=yes
	cdrMinColumns  = 16
)

// cdrHold is how long a CDR row waits for earlier-starting calls: Asterisk
// writes a row when its call ends, so a long call's row comes after shorter
// calls that started later. Rows are released in start order once the
// newest end time is this far past their start.
const cdrHold = 4 * time.Hour

// CDRReader turns an Asterisk CDR Master.csv into lines. A CDR has no
// source address or user agent: lines get 127.0.0.1 (a private address,
// so reputation and source-country checks do not apply) and no user agent.
// Times are read in the business-hours zone (Asterisk writes local time).
type CDRReader struct {
	name        string
	r           *csv.Reader
	accountFrom string
	domain      string
	loc         *time.Location
	n           int64
	pending     cdrHeap
	newestEnd   time.Time
	last        time.Time
	eof         bool
}

// NewCDRReader reads Master.csv rows from r. accountFrom is "accountcode"
// (user@domain, or user with domain) or "channel" (the peer of the
// channel, e.g. PJSIP/alice-00000001 is alice, with domain).
func NewCDRReader(name string, r io.Reader, accountFrom, domain string) (*CDRReader, error) {
	if accountFrom != "accountcode" && accountFrom != "channel" {
		return nil, fmt.Errorf("--account-from %q is not accountcode or channel", accountFrom)
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return &CDRReader{name: name, r: cr, accountFrom: accountFrom, domain: domain, loc: time.UTC}, nil
}

// In sets the zone of the CDR times.
func (c *CDRReader) In(loc *time.Location) *CDRReader {
	if loc != nil {
		c.loc = loc
	}
	return c
}

// Next implements Reader.
func (c *CDRReader) Next() (*Line, error) {
	for {
		if len(c.pending) > 0 && (c.eof || !c.pending[0].Time.After(c.newestEnd.Add(-cdrHold))) {
			l := heap.Pop(&c.pending).(*Line)
			if l.Time.Before(c.last) {
				l.Time = c.last // started before a call already replayed: decided in order
			}
			c.last = l.Time
			return l, nil
		}
		if c.eof {
			return nil, io.EOF
		}
		rec, err := c.r.Read()
		if err == io.EOF {
			c.eof = true
			continue
		}
		c.n++
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, &LineError{Source: c.name, N: c.n, Err: fmt.Errorf("%w: not CSV: %v", ErrBadLine, pe.Err)}
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", c.name, err)
		}
		l, end, err := c.parse(rec)
		if err != nil {
			return nil, err
		}
		if end.After(c.newestEnd) {
			c.newestEnd = end
		}
		heap.Push(&c.pending, l)
	}
}

func (c *CDRReader) bad(field, format string, args ...any) *LineError {
	return &LineError{Source: c.name, N: c.n, Field: field, Err: fmt.Errorf("%w: "+format, append([]any{ErrBadLine}, args...)...)}
}

func (c *CDRReader) parse(rec []string) (*Line, time.Time, error) {
	if len(rec) < cdrMinColumns {
		return nil, time.Time{}, c.bad("", "%d columns, a Master.csv row has at least %d", len(rec), cdrMinColumns)
	}
	start, err := time.ParseInLocation(time.DateTime, rec[cdrStart], c.loc)
	if err != nil {
		return nil, time.Time{}, c.bad("start", "%q is not YYYY-MM-DD HH:MM:SS", rec[cdrStart])
	}
	end, err := time.ParseInLocation(time.DateTime, rec[cdrEnd], c.loc)
	if err != nil {
		end = start
	}
	var user, domain string
	switch c.accountFrom {
	case "accountcode":
		user, domain, _ = strings.Cut(rec[cdrAccountCode], "@")
		if user == "" {
			return nil, time.Time{}, c.bad("accountcode", "empty: set accountcode on the endpoints or use --account-from channel")
		}
	case "channel":
		ch := rec[cdrChannel]
		_, peer, ok := strings.Cut(ch, "/")
		if i := strings.LastIndexByte(peer, '-'); i > 0 {
			peer = peer[:i]
		}
		if !ok || peer == "" {
			return nil, time.Time{}, c.bad("channel", "%q names no peer (want TECH/peer-id)", ch)
		}
		user = peer
	}
	if domain == "" {
		domain = c.domain
	}
	callID := ""
	if len(rec) > cdrUniqueID {
		callID = rec[cdrUniqueID]
	}
	if callID == "" {
		callID = rec[cdrChannel]
	}
	one := 1
	return &Line{Source: c.name, N: c.n, Time: start, Check: api.CheckRequest{
		User: user, Domain: domain, SourceIP: "127.0.0.1", ConcurrentCalls: &one,
		Number: rec[cdrDst], Caller: rec[cdrSrc], CallID: callID,
	}}, end, nil
}

// cdrHeap orders held rows by start time, then by row number.
type cdrHeap []*Line

func (h cdrHeap) Len() int { return len(h) }
func (h cdrHeap) Less(i, j int) bool {
	if !h[i].Time.Equal(h[j].Time) {
		return h[i].Time.Before(h[j].Time)
	}
	return h[i].N < h[j].N
}
func (h cdrHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cdrHeap) Push(x any)   { *h = append(*h, x.(*Line)) }
func (h *cdrHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	*h = old[:len(old)-1]
	return l
}
