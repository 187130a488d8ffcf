package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/voipshield/tfps"
)

// Client implements Service over HTTP. Errors the server sends come back as
// *tfps.Error with the server's code and message.
type Client struct {
	base  string
	token string
	http  *http.Client
}

var _ Service = (*Client)(nil)

// NewClient returns a client of the API at baseURL (e.g.
// http://127.0.0.1:8080) sending token as a Bearer token when not empty.
// hc nil uses a client with a 30 s timeout.
func NewClient(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, tfps.Errorf(tfps.EINVALID, "API URL %q: expected http://host:port or https://host:port", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: hc}, nil
}

// do sends method path with body in (JSON, nil for none) and decodes the
// answer into out (nil to discard).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	ctype := ""
	if in != nil || method != http.MethodGet {
		// Also on body-less writes: the token-less loopback API refuses a
		// write without it (a browser form can not send it).
		ctype = "application/json"
	}
	return c.send(ctx, method, path, query, ctype, body, out)
}

// send is do with a body already encoded as ctype ("" for none).
func (c *Client) send(ctx context.Context, method, path string, query url.Values, ctype string, body io.Reader, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("new request %s %s: %w", method, path, err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &tfps.Error{Code: tfps.EUNAVAILABLE, Message: fmt.Sprintf("%s %s: %v", method, c.base+path, err), Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return responseError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// responseError turns an error answer back into a *tfps.Error.
func responseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	var eb errorBody
	if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
		return &tfps.Error{Code: eb.Error.Code, Message: eb.Error.Message}
	}
	code := tfps.EINTERNAL
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		code = tfps.EINVALID
	case http.StatusUnauthorized, http.StatusForbidden:
		code = tfps.EFORBIDDEN
	case http.StatusNotFound:
		code = tfps.ENOTFOUND
	case http.StatusConflict:
		code = tfps.ECONFLICT
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		code = tfps.EUNAVAILABLE
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &tfps.Error{Code: code, Message: fmt.Sprintf("HTTP %s: %s", resp.Status, msg)}
}

func accountPath(user, domain string) string {
	return "/v1/accounts/" + segment(domain) + "/" + segment(user)
}

// segment escapes s as one path segment; "." and ".." are escaped too, or
// path cleaning would remove them.
func segment(s string) string {
	if strings.Trim(s, ".") == "" {
		return strings.ReplaceAll(s, ".", "%2E")
	}
	return url.PathEscape(s)
}

// Check decides one call attempt.
func (c *Client) Check(ctx context.Context, req *CheckRequest) (*CheckResponse, error) {
	var out CheckResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/check", nil, req, &out)
}

// Codes returns the published code table.
func (c *Client) Codes(ctx context.Context) ([]Code, error) {
	var out []Code
	return out, c.do(ctx, http.MethodGet, "/v1/codes", nil, nil, &out)
}

// ListAccounts returns a page of accounts.
func (c *Client) ListAccounts(ctx context.Context, q AccountQuery) (*AccountPage, error) {
	v := url.Values{}
	if q.Domain != "" {
		v.Set("domain", q.Domain)
	}
	if q.Offset != 0 {
		v.Set("offset", strconv.Itoa(q.Offset))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out AccountPage
	if err := c.do(ctx, http.MethodGet, "/v1/accounts", v, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// account runs an operation on the account user@domain; suffix follows its path.
func (c *Client) account(ctx context.Context, method, user, domain, suffix string, in any) (*Account, error) {
	if err := account(user, domain); err != nil {
		return nil, err
	}
	path := accountPath(user, domain) + suffix
	var out Account
	if err := c.do(ctx, method, path, nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetAccount returns an account with today's counters.
func (c *Client) GetAccount(ctx context.Context, user, domain string) (*Account, error) {
	return c.account(ctx, http.MethodGet, user, domain, "", nil)
}

// CreateAccount adds an account.
func (c *Client) CreateAccount(ctx context.Context, in *AccountInput) (*Account, error) {
	var out Account
	if err := c.do(ctx, http.MethodPost, "/v1/accounts", nil, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateAccount changes the fields set in in.
func (c *Client) UpdateAccount(ctx context.Context, user, domain string, in *AccountInput) (*Account, error) {
	return c.account(ctx, http.MethodPatch, user, domain, "", in)
}

// DeleteAccount removes an account.
func (c *Client) DeleteAccount(ctx context.Context, user, domain string) error {
	if err := account(user, domain); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, accountPath(user, domain), nil, nil, nil)
}

// SetBlocked blocks or unblocks an account.
func (c *Client) SetBlocked(ctx context.Context, user, domain string, blocked bool) (*Account, error) {
	op := "/unblock"
	if blocked {
		op = "/block"
	}
	return c.account(ctx, http.MethodPost, user, domain, op, nil)
}

// ResetAccount clears today's daily counters.
func (c *Client) ResetAccount(ctx context.Context, user, domain string) (*Account, error) {
	return c.account(ctx, http.MethodPost, user, domain, "/reset", nil)
}

func countryPath(dir Direction, cc string) string {
	return "/countries/" + url.PathEscape(string(dir)) + "/" + url.PathEscape(cc)
}

// AllowCountry adds a source or destination country.
func (c *Client) AllowCountry(ctx context.Context, user, domain string, dir Direction, cc string) (*Account, error) {
	return c.account(ctx, http.MethodPut, user, domain, countryPath(dir, cc), nil)
}

// DisallowCountry removes a source or destination country.
func (c *Client) DisallowCountry(ctx context.Context, user, domain string, dir Direction, cc string) (*Account, error) {
	return c.account(ctx, http.MethodDelete, user, domain, countryPath(dir, cc), nil)
}

// ListBlacklist returns entries of kind ("" for all).
func (c *Client) ListBlacklist(ctx context.Context, kind string) ([]BlacklistEntry, error) {
	path := "/v1/blacklists"
	if kind != "" {
		path += "/" + url.PathEscape(kind)
	}
	var out []BlacklistEntry
	return out, c.do(ctx, http.MethodGet, path, nil, nil, &out)
}

// AddBlacklist adds an entry.
func (c *Client) AddBlacklist(ctx context.Context, e *BlacklistEntry) (*BlacklistEntry, error) {
	var out BlacklistEntry
	if err := c.do(ctx, http.MethodPost, "/v1/blacklists/"+url.PathEscape(e.Kind), nil, blacklistInput{Value: e.Value, Note: e.Note}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveBlacklist deletes an entry.
func (c *Client) RemoveBlacklist(ctx context.Context, kind, value string) error {
	return c.do(ctx, http.MethodDelete, "/v1/blacklists/"+url.PathEscape(kind), url.Values{"value": {value}}, nil, nil)
}

// ListRanges returns the high-risk number ranges.
func (c *Client) ListRanges(ctx context.Context) ([]Range, error) {
	var out []Range
	return out, c.do(ctx, http.MethodGet, "/v1/ranges", nil, nil, &out)
}

// PutRanges adds or replaces ranges, all or none.
func (c *Client) PutRanges(ctx context.Context, ranges []Range) ([]Range, error) {
	var out []Range
	if ranges == nil {
		ranges = []Range{} // the server says none were given
	}
	return out, c.do(ctx, http.MethodPost, "/v1/ranges", nil, ranges, &out)
}

// ImportRangesCSV sends a CSV file of rows prefix,level,source,comment as
// it is (Content-Type text/csv): the server reads it, so a bad row is named
// by its line in the file, and nothing is written unless every row is good.
func (c *Client) ImportRangesCSV(ctx context.Context, csv io.Reader) ([]Range, error) {
	var out []Range
	return out, c.send(ctx, http.MethodPost, "/v1/ranges", nil, "text/csv", csv, &out)
}

// RemoveRange deletes the range of prefix.
func (c *Client) RemoveRange(ctx context.Context, prefix string) error {
	return c.do(ctx, http.MethodDelete, "/v1/ranges/"+segment(prefix), nil, nil, nil)
}

// Decisions reads the decision log.
func (c *Client) Decisions(ctx context.Context, q DecisionQuery) ([]Decision, error) {
	v := url.Values{}
	path := "/v1/decisions"
	switch {
	case q.User != "" && q.Domain != "":
		path = accountPath(q.User, q.Domain) + "/decisions"
	case q.User != "" || q.Domain != "":
		v.Set("user", q.User) // the server says what is missing
		v.Set("domain", q.Domain)
	}
	if q.CallID != "" {
		v.Set("call_id", q.CallID)
	}
	if q.AfterID != 0 {
		v.Set("after_id", strconv.FormatInt(q.AfterID, 10))
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out []Decision
	return out, c.do(ctx, http.MethodGet, path, v, nil, &out)
}

// History returns the account's daily history and trained values.
func (c *Client) History(ctx context.Context, user, domain string, days int) (*History, error) {
	if err := account(user, domain); err != nil {
		return nil, err
	}
	v := url.Values{}
	if days != 0 {
		v.Set("days", strconv.Itoa(days))
	}
	var out History
	if err := c.do(ctx, http.MethodGet, accountPath(user, domain)+"/history", v, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetPIN gives the account its own PIN.
func (c *Client) SetPIN(ctx context.Context, user, domain, pin string) (*Account, error) {
	return c.account(ctx, http.MethodPut, user, domain, "/pin", PINInput{PIN: pin})
}

// ClearPIN removes the account's own PIN.
func (c *Client) ClearPIN(ctx context.Context, user, domain string) (*Account, error) {
	return c.account(ctx, http.MethodDelete, user, domain, "/pin", nil)
}
