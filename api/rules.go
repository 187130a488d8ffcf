package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
)

// Fraud rules (docs/api.md "Fraud rules"): the rules of every profile,
// the end of a call, and an account's statistics.

// CallEndRequest is the body of POST /v1/calls/end.
type CallEndRequest struct {
	CallID   string `json:"call_id"`
	User     string `json:"user"`
	Domain   string `json:"domain"`
	Duration int    `json:"duration"` // seconds; 0: from the check that counted the call until now
	Number   string `json:"number,omitempty"`
}

// CallEndResponse says what the end did.
type CallEndResponse struct {
	CallID string `json:"call_id"`
	// Ended is "now" (counted: concurrent calls dropped by one) or
	// "already" (the end was reported before; nothing changed).
	Ended   string           `json:"ended"`
	Counted bool             `json:"counted"` // the call was in progress (it had been approved)
	RuleID  int64            `json:"rule_id"`
	Rule    *engine.RuleTrip `json:"rule,omitempty"` // a duration threshold reached
}

// RuleStats is an account's fraud-rule statistics with the thresholds of
// the rule they count under.
type RuleStats struct {
	User    string         `json:"user"`
	Domain  string         `json:"domain"`
	Profile string         `json:"profile"`
	Stats   tfps.RuleStats `json:"stats"`
	Rule    *tfps.Rule     `json:"rule,omitempty"` // nil: no call matched a rule yet, or the rule was removed
}

// ListRules returns the rules of profile ("" every profile).
func (s *Local) ListRules(ctx context.Context, profile string) ([]tfps.Rule, error) {
	l, err := s.Store.ListRules(ctx, profile)
	if l == nil && err == nil {
		l = []tfps.Rule{}
	}
	return l, err
}

// PutRules adds or replaces rules, all or none; rules without an id get
// one. Every gateway applies them within TFPS_ENGINE_CACHE_REFRESH, this one
// at once.
func (s *Local) PutRules(ctx context.Context, rules []tfps.Rule) ([]tfps.Rule, error) {
	if len(rules) == 0 {
		return nil, invalid("rules", "none given")
	}
	if err := s.Store.PutRules(ctx, rules); err != nil {
		return nil, err
	}
	s.refresh(ctx)
	return rules, nil
}

// RemoveRule deletes a rule.
func (s *Local) RemoveRule(ctx context.Context, id int64) error {
	if err := s.Store.RemoveRule(ctx, id); err != nil {
		return err
	}
	s.refresh(ctx)
	return nil
}

// EndCall reports the end of a call the fraud rules counted.
func (s *Local) EndCall(ctx context.Context, req *CallEndRequest) (*CallEndResponse, error) {
	if err := text("call_id", req.CallID, maxField, true); err != nil {
		return nil, err
	}
	if err := account(req.User, req.Domain); err != nil {
		return nil, err
	}
	if req.Duration < 0 {
		return nil, invalid("duration", "must not be negative")
	}
	res, err := s.Engine.EndCall(ctx, engine.CallEnd{
		CallID: req.CallID, User: req.User, Domain: req.Domain, Number: req.Number,
		Duration: time.Duration(req.Duration) * time.Second, Time: s.now(),
	})
	if err != nil {
		return nil, err
	}
	out := &CallEndResponse{CallID: req.CallID, Ended: "now", Counted: res.Counted, RuleID: res.RuleID, Rule: res.Rule}
	if res.Already {
		out.Ended = "already"
	}
	return out, nil
}

// AccountStats returns the account's fraud-rule statistics now.
func (s *Local) AccountStats(ctx context.Context, user, domain string) (*RuleStats, error) {
	a, err := s.Store.GetAccount(ctx, user, domain)
	if err != nil {
		return nil, err
	}
	maxDur := 4 * time.Hour
	if s.Config != nil && s.Config.Engine.MaxCallDuration > 0 {
		maxDur = s.Config.Engine.MaxCallDuration
	}
	st, err := s.State.RuleStats(ctx, user, domain, s.now(), maxDur)
	if err != nil {
		return nil, err
	}
	out := &RuleStats{User: user, Domain: domain, Profile: a.Profile, Stats: st}
	if st.Rule != 0 {
		rules, err := s.Store.ListRules(ctx, "")
		if err != nil {
			return nil, err
		}
		for i := range rules {
			if rules[i].ID == st.Rule {
				out.Rule = &rules[i]
			}
		}
	}
	return out, nil
}

func (s *server) listRules(w http.ResponseWriter, r *http.Request) {
	l, err := s.svc.ListRules(r.Context(), r.URL.Query().Get("profile"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// addRules takes one rule (answered with the rule) or an array of rules
// (all or none, answered with the array).
func (s *server) addRules(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := decode(w, r, &raw); err != nil {
		s.bodyError(w, r, err)
		return
	}
	many := len(bytes.TrimSpace(raw)) > 0 && bytes.TrimSpace(raw)[0] == '['
	var rules []tfps.Rule
	if many {
		if err := strictJSON(raw, &rules); err != nil {
			s.writeError(w, r, invalid("body", "%v", err))
			return
		}
	} else {
		var one tfps.Rule
		if err := strictJSON(raw, &one); err != nil {
			s.writeError(w, r, invalid("body", "%v", err))
			return
		}
		rules = []tfps.Rule{one}
	}
	out, err := s.svc.PutRules(r.Context(), rules)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if many {
		writeJSON(w, http.StatusCreated, out)
		return
	}
	writeJSON(w, http.StatusCreated, out[0])
}

func strictJSON(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func (s *server) removeRule(w http.ResponseWriter, r *http.Request) {
	v, err := param(r, "id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		s.writeError(w, r, invalid("id", "%q is not a rule id", v))
		return
	}
	if err := s.svc.RemoveRule(r.Context(), id); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) endCall(w http.ResponseWriter, r *http.Request) {
	var in CallEndRequest
	decodeBody := decode
	if isForm(r) {
		decodeBody = decodeCallEndForm
	}
	if err := decodeBody(w, r, &in); err != nil {
		s.bodyError(w, r, err)
		return
	}
	out, err := s.svc.EndCall(r.Context(), &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// isForm reports whether r's body is form-encoded.
func isForm(r *http.Request) bool {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded")
}

// decodeCallEndForm reads a form-encoded call end (call_id=...&user=...&
// domain=...&duration=95): what a PBX's HTTP function sends most simply
// (Asterisk's CURL() posts form data and can not write a JSON body, whose
// commas and quotes its argument parser takes). Unknown fields and a
// duration that is not whole seconds are refused, as in the JSON form.
func decodeCallEndForm(w http.ResponseWriter, r *http.Request, v any) error {
	in := v.(*CallEndRequest)
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := r.ParseForm(); err != nil {
		return tfps.Errorf(tfps.EINVALID, "body: %v", err)
	}
	for k, vals := range r.PostForm {
		if len(vals) != 1 {
			return tfps.Errorf(tfps.EINVALID, "%s: given %d times", k, len(vals))
		}
		switch val := vals[0]; k {
		case "call_id":
			in.CallID = val
		case "user":
			in.User = val
		case "domain":
			in.Domain = val
		case "number":
			in.Number = val
		case "duration":
			n, err := strconv.Atoi(val)
			if err != nil {
				return tfps.Errorf(tfps.EINVALID, "duration: %q is not whole seconds", val)
			}
			in.Duration = n
		default:
			return tfps.Errorf(tfps.EINVALID, "body: unknown field %q", k)
		}
	}
	return nil
}

func (s *server) accountStats(w http.ResponseWriter, r *http.Request) {
	user, domain, err := accountParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := s.svc.AccountStats(r.Context(), user, domain)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// ListRules returns the rules of profile ("" all).
func (c *Client) ListRules(ctx context.Context, profile string) ([]tfps.Rule, error) {
	var q url.Values
	if profile != "" {
		q = url.Values{"profile": {profile}}
	}
	var out []tfps.Rule
	return out, c.do(ctx, http.MethodGet, "/v1/rules", q, nil, &out)
}

// PutRules adds or replaces rules, all or none.
func (c *Client) PutRules(ctx context.Context, rules []tfps.Rule) ([]tfps.Rule, error) {
	var out []tfps.Rule
	return out, c.do(ctx, http.MethodPost, "/v1/rules", nil, rules, &out)
}

// RemoveRule deletes a rule.
func (c *Client) RemoveRule(ctx context.Context, id int64) error {
	return c.do(ctx, http.MethodDelete, "/v1/rules/"+strconv.FormatInt(id, 10), nil, nil, nil)
}

// EndCall reports a call's end.
func (c *Client) EndCall(ctx context.Context, req *CallEndRequest) (*CallEndResponse, error) {
	var out CallEndResponse
	if err := c.do(ctx, http.MethodPost, "/v1/calls/end", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AccountStats reads an account's fraud-rule statistics.
func (c *Client) AccountStats(ctx context.Context, user, domain string) (*RuleStats, error) {
	var out RuleStats
	if err := c.do(ctx, http.MethodGet, accountPath(user, domain)+"/stats", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
