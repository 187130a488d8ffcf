package api

import (
	"bufio"
	"context"
	"fmt"
	"github.com/voipshield/tfps"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// HTTP side of operator.go: handlers and their Client methods.

func (s *server) getDomain(w http.ResponseWriter, r *http.Request) {
	d, err := param(r, "domain")
	if err == nil {
		var out *Domain
		if out, err = s.svc.GetDomain(r.Context(), d); err == nil {
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	s.writeError(w, r, err)
}

func (s *server) updateDomain(w http.ResponseWriter, r *http.Request) {
	var in DomainInput
	if err := decode(w, r, &in); err != nil {
		s.bodyError(w, r, err)
		return
	}
	d, err := param(r, "domain")
	if err == nil {
		var out *Domain
		if out, err = s.svc.UpdateDomain(r.Context(), d, &in); err == nil {
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	s.writeError(w, r, err)
}

// blocksOp runs fn on the identity of the path and answers its blocks.
func (s *server) blocksOp(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, user, domain string) (*Blocks, error)) {
	user, domain, err := accountParams(r)
	if err == nil {
		var b *Blocks
		if b, err = fn(r.Context(), user, domain); err == nil {
			writeJSON(w, http.StatusOK, b)
			return
		}
	}
	s.writeError(w, r, err)
}

func (s *server) blocks(w http.ResponseWriter, r *http.Request) { s.blocksOp(w, r, s.svc.Blocks) }

func (s *server) clearVerification(w http.ResponseWriter, r *http.Request) {
	s.blocksOp(w, r, s.svc.ClearVerification)
}

func (s *server) clearPairs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.blocksOp(w, r, func(ctx context.Context, user, domain string) (*Blocks, error) {
		return s.svc.ClearPairs(ctx, user, domain, q.Get("caller"), q.Get("number"))
	})
}

func (s *server) outbox(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := queryInt(q, "limit")
	if err == nil {
		var rows []OutboxRow
		if rows, err = s.svc.ListOutbox(r.Context(), q.Get("state"), int(limit)); err == nil {
			writeJSON(w, http.StatusOK, rows)
			return
		}
	}
	s.writeError(w, r, err)
}

func (s *server) outboxOp(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, id string) error) {
	id, err := param(r, "id")
	if err == nil {
		if err = fn(r.Context(), id); err == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.writeError(w, r, err)
}

func (s *server) retryOutbox(w http.ResponseWriter, r *http.Request) {
	s.outboxOp(w, r, s.svc.RetryOutbox)
}

func (s *server) dropOutbox(w http.ResponseWriter, r *http.Request) {
	s.outboxOp(w, r, s.svc.DropOutbox)
}

// ParseDate reads an export bound: RFC 3339, or a date YYYY-MM-DD (its
// midnight in UTC).
func ParseDate(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, invalid(field, "%q is not RFC 3339 (2025-03-30T00:00:00Z) or a date (2025-03-30)", v)
}

// commitWriter sends the status and content type with the first bytes of
// an export: until then, an error can still be answered as JSON.
type commitWriter struct {
	w         http.ResponseWriter
	ctype     string
	committed bool
}

func (c *commitWriter) Write(p []byte) (int, error) {
	if !c.committed {
		c.committed = true
		c.w.Header().Set("Content-Type", c.ctype)
		c.w.WriteHeader(http.StatusOK)
	}
	return c.w.Write(p)
}

func (s *server) exportDecisions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var eq ExportQuery
	var err error
	if eq.Since, err = ParseDate("since", q.Get("since")); err != nil {
		s.writeError(w, r, err)
		return
	}
	if eq.Until, err = ParseDate("until", q.Get("until")); err != nil {
		s.writeError(w, r, err)
		return
	}
	eq.Format = q.Get("format")
	ctype := "application/x-ndjson"
	if eq.Format == ExportCSV {
		ctype = "text/csv; charset=utf-8"
	}
	cw := &commitWriter{w: w, ctype: ctype}
	err = s.svc.ExportDecisions(r.Context(), eq, cw)
	switch {
	case err == nil && !cw.committed:
		cw.Write(nil) // no rows: an empty 200
	case err != nil && !cw.committed:
		s.writeError(w, r, err)
	case err != nil:
		// Rows already went out with 200: cut the connection, so the
		// client sees a broken transfer instead of a short export.
		s.log.Error("export decisions: stopped midway", "err", err)
		panic(http.ErrAbortHandler)
	}
}

// ExportDecisions streams the export into w.
func (c *Client) ExportDecisions(ctx context.Context, q ExportQuery, w io.Writer) error {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.Format(time.RFC3339Nano))
	}
	if q.Format != "" {
		v.Set("format", q.Format)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/decisions/export?"+v.Encode(), nil)
	if err != nil {
		return fmt.Errorf("new export request: %w", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// An export may take minutes: no whole-request timeout, only the
	// caller's context.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return &tfps.Error{Code: tfps.EUNAVAILABLE, Message: fmt.Sprintf("GET %s/v1/decisions/export: %v", c.base, err), Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return responseError(resp)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := io.Copy(bw, resp.Body); err != nil {
		return fmt.Errorf("export broke off (the gateway logged why): %w", err)
	}
	return bw.Flush()
}

// GetDomain returns a domain's settings.
func (c *Client) GetDomain(ctx context.Context, domain string) (*Domain, error) {
	var out Domain
	if err := c.do(ctx, http.MethodGet, "/v1/domains/"+segment(domain), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateDomain changes a domain's settings.
func (c *Client) UpdateDomain(ctx context.Context, domain string, in *DomainInput) (*Domain, error) {
	var out Domain
	if err := c.do(ctx, http.MethodPatch, "/v1/domains/"+segment(domain), nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) blocks(ctx context.Context, method, user, domain, suffix string, q url.Values) (*Blocks, error) {
	if err := account(user, domain); err != nil {
		return nil, err
	}
	var out Blocks
	if err := c.do(ctx, method, accountPath(user, domain)+"/blocks"+suffix, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Blocks lists an identity's active blocks.
func (c *Client) Blocks(ctx context.Context, user, domain string) (*Blocks, error) {
	return c.blocks(ctx, http.MethodGet, user, domain, "", nil)
}

// ClearVerification lifts the verification-failure block.
func (c *Client) ClearVerification(ctx context.Context, user, domain string) (*Blocks, error) {
	return c.blocks(ctx, http.MethodDelete, user, domain, "/verification", nil)
}

// ClearPairs lifts one pair block, or all of them when caller and number are empty.
func (c *Client) ClearPairs(ctx context.Context, user, domain, caller, number string) (*Blocks, error) {
	q := url.Values{}
	if caller != "" || number != "" {
		q.Set("caller", caller)
		q.Set("number", number)
	}
	return c.blocks(ctx, http.MethodDelete, user, domain, "/pairs", q)
}

// ListOutbox lists notification rows.
func (c *Client) ListOutbox(ctx context.Context, state string, limit int) ([]OutboxRow, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []OutboxRow
	return out, c.do(ctx, http.MethodGet, "/v1/outbox", q, nil, &out)
}

// RetryOutbox sends a failed row again.
func (c *Client) RetryOutbox(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/v1/outbox/"+segment(id)+"/retry", nil, nil, nil)
}

// DropOutbox deletes a failed or pending row.
func (c *Client) DropOutbox(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/outbox/"+segment(id), nil, nil, nil)
}
