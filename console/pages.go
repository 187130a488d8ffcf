package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
)

func contextWith(r *http.Request, ss *session) context.Context {
	return context.WithValue(r.Context(), ctxKey{}, ss)
}

// ---- Live ----

// liveFilter selects decisions by account (user or user@domain), code and
// result.
type liveFilter struct {
	Account, Code, Result string
	user, domain          string
}

func parseFilter(q url.Values) liveFilter {
	f := liveFilter{Account: strings.TrimSpace(q.Get("account")), Code: strings.ToUpper(strings.TrimSpace(q.Get("code"))), Result: strings.TrimSpace(q.Get("result"))}
	f.user, f.domain, _ = strings.Cut(f.Account, "@")
	return f
}

func (f liveFilter) match(d *tfps.DecisionRecord) bool {
	switch {
	case f.user != "" && d.User != f.user:
		return false
	case f.domain != "" && d.Domain != f.domain:
		return false
	case f.Code != "" && d.Code != f.Code:
		return false
	case f.Result != "" && d.Result != f.Result:
		return false
	}
	return true
}

func (f liveFilter) query() string {
	v := url.Values{}
	for k, s := range map[string]string{"account": f.Account, "code": f.Code, "result": f.Result} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// liveRow is a decision as the live table and its events show it.
type liveRow struct {
	At       string `json:"at"`
	CallID   string `json:"call_id"`
	User     string `json:"user"`
	Domain   string `json:"domain"`
	Caller   string `json:"caller"`
	Number   string `json:"number"`
	SourceIP string `json:"source_ip"`
	Result   string `json:"result"`
	Code     string `json:"code"`
	Reason   string `json:"reason"`
	Link     string `json:"link"` // the account's page
}

func (s *server) accountLink(user, domain string) string {
	return s.opt.Prefix + "/account?" + url.Values{"user": {user}, "domain": {domain}}.Encode()
}

func (s *server) row(d *tfps.DecisionRecord) liveRow {
	return liveRow{
		At: d.At.In(s.opt.Location).Format("2006-01-02 15:04:05"), CallID: d.CallID, User: d.User, Domain: d.Domain,
		Caller: d.Caller, Number: d.Number, SourceIP: d.SourceIP, Result: d.Result, Code: d.Code, Reason: d.Reason,
		Link: s.accountLink(d.User, d.Domain),
	}
}

func record(d *api.Decision) *tfps.DecisionRecord {
	return &tfps.DecisionRecord{
		ID: d.ID, At: d.At, CallID: d.CallID, SourceIP: d.SourceIP, Caller: d.Caller, Number: d.Number, User: d.User,
		Domain: d.Domain, Result: d.Result, Code: d.Code, Reason: d.Reason,
	}
}

func (s *server) livePage(w http.ResponseWriter, r *http.Request) {
	f := parseFilter(r.URL.Query())
	q := api.DecisionQuery{Limit: 500}
	if f.user != "" && f.domain != "" {
		q.User, q.Domain, q.Limit = f.user, f.domain, 100
	}
	var rows []liveRow
	list, err := s.opt.Backend.Decisions(r.Context(), q)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	for i := range list {
		if d := record(&list[i]); f.match(d) && len(rows) < 50 {
			rows = append(rows, s.row(d))
		}
	}
	var perMinute []MinuteCount
	if s.opt.Feed != nil {
		perMinute = s.opt.Feed.PerMinute(s.opt.Now())
	}
	s.render(w, r, http.StatusOK, "live", map[string]any{
		"Filter": f, "Rows": rows, "Events": s.opt.Prefix + "/live/events?" + f.query(),
		"Chart": chart(perMinute, s.opt.Location), "Live": s.opt.Feed != nil,
	})
}

// liveEvents streams the decisions that match the filter as server-sent
// events ("decision", JSON of liveRow) until the browser goes away; a
// comment every 15 s keeps proxies from closing the stream.
func (s *server) liveEvents(w http.ResponseWriter, r *http.Request) {
	if s.opt.Feed == nil {
		http.Error(w, "no live feed", http.StatusNotFound)
		return
	}
	f := parseFilter(r.URL.Query())
	rc := http.NewResponseController(w)
	// The HTTP server's write timeout is for ordinary requests.
	rc.SetWriteDeadline(time.Time{})
	sub := s.opt.Feed.Subscribe(256)
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case d := <-sub.C:
			if !f.match(&d) {
				continue
			}
			b, _ := json.Marshal(s.row(&d))
			fmt.Fprintf(w, "event: decision\ndata: %s\n\n", b)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// ---- Accounts ----

const accountsPageSize = 50

func (s *server) accountsPage(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	offset = max(offset, 0)
	// user@domain is one account: go straight to it.
	if user, domain, ok := strings.Cut(q, "@"); ok && user != "" {
		if _, err := s.opt.Backend.GetAccount(r.Context(), user, domain); err == nil {
			http.Redirect(w, r, s.accountLink(user, domain), http.StatusSeeOther)
			return
		} else if tfps.ErrorCode(err) != tfps.ENOTFOUND {
			s.serviceError(w, r, err)
			return
		}
		s.render(w, r, http.StatusOK, "accounts", map[string]any{"Q": q, "NotFound": true})
		return
	}
	page, err := s.opt.Backend.ListAccounts(r.Context(), api.AccountQuery{Domain: strings.TrimPrefix(q, "@"), Offset: offset, Limit: accountsPageSize})
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	nav := func(off int) string {
		return s.opt.Prefix + "/accounts?" + url.Values{"q": {q}, "offset": {strconv.Itoa(off)}}.Encode()
	}
	data := map[string]any{"Q": q, "List": page, "From": offset + 1, "To": offset + len(page.Accounts)}
	if offset > 0 {
		data["Prev"] = nav(max(offset-accountsPageSize, 0))
	}
	if offset+len(page.Accounts) < page.Total {
		data["Next"] = nav(offset + accountsPageSize)
	}
	s.render(w, r, http.StatusOK, "accounts", data)
}

func (s *server) accountPage(w http.ResponseWriter, r *http.Request) {
	user, domain := r.URL.Query().Get("user"), r.URL.Query().Get("domain")
	ctx := r.Context()
	a, err := s.opt.Backend.GetAccount(ctx, user, domain)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	data := map[string]any{"A": a, "Countries": []struct {
		Dir  string
		List []string
	}{{"source", a.SourceCountries}, {"destination", a.DestinationCountries}}}
	// Sections fail on their own: a Redis outage still shows the account.
	if vb, err := s.opt.Backend.VerifyBlock(ctx, user, domain); err != nil {
		s.log.Warn("console: verify block", "account", user+"@"+domain, "err", err)
		data["VerifyErr"] = "unavailable: " + tfps.ErrorMessage(err)
	} else {
		data["Verify"] = vb
	}
	if ds, err := s.opt.Backend.Decisions(ctx, api.DecisionQuery{User: user, Domain: domain, Limit: 20}); err != nil {
		data["DecisionsErr"] = "unavailable"
	} else {
		rows := make([]liveRow, 0, len(ds))
		for i := range ds {
			rows = append(rows, s.row(record(&ds[i])))
		}
		data["Decisions"] = rows
	}
	if ev, err := s.opt.Backend.VerificationEvents(ctx, user, domain, 20); err != nil {
		data["EventsErr"] = "unavailable"
	} else {
		data["Events"] = ev
	}
	if bl, err := s.opt.Backend.Blocks(ctx, user, domain); err != nil {
		s.log.Warn("console: pair blocks", "account", user+"@"+domain, "err", err)
		data["PairsErr"] = "unavailable: " + tfps.ErrorMessage(err)
	} else {
		data["Pairs"] = bl.Pairs
	}
	if h, err := s.opt.Backend.History(ctx, user, domain, 0); err != nil {
		s.log.Warn("console: history", "account", user+"@"+domain, "err", err)
		data["HistoryErr"] = "unavailable: " + tfps.ErrorMessage(err)
	} else {
		data["History"] = h
	}
	if mails, err := s.accountMails(ctx, user, domain); err != nil {
		data["MailsErr"] = "unavailable"
	} else {
		data["Mails"] = mails
	}
	s.render(w, r, http.StatusOK, "account", data)
}

// accountMailsScan is how many of the newest outbox rows the account page
// looks through for the account's mails.
const accountMailsScan = 1000

// accountMails returns the newest notifications about user@domain (at most
// 20) among the outbox's latest rows.
func (s *server) accountMails(ctx context.Context, user, domain string) ([]tfps.OutboxRow, error) {
	rows, err := s.opt.Backend.Outbox(ctx, "", accountMailsScan)
	if err != nil {
		return nil, err
	}
	var mine []tfps.OutboxRow
	for _, row := range rows {
		if row.Notification.User == user && row.Notification.Domain == domain && len(mine) < 20 {
			mine = append(mine, row)
		}
	}
	return mine, nil
}

// action is one change an operator asked for.
type action struct {
	what string                          // shown on the confirmation page and logged
	back string                          // where to go afterwards
	run  func(ctx context.Context) error // does it
	log  []any                           // extra log attributes
}

// act confirms and runs a: the first POST shows a confirmation page that
// posts the same fields back with confirmed=yes; that second POST runs it
// and logs who did it.
func (s *server) act(w http.ResponseWriter, r *http.Request, op string, a action) {
	ss := sessionOf(r)
	if !ss.who.CanAct() {
		s.log.Warn("console: action refused to a read-only login", "by", ss.who.Name, "action", op)
		s.errorPage(w, r, http.StatusForbidden, "Your token may look but not change things (read scope).")
		return
	}
	if r.PostForm.Get("confirmed") != "yes" {
		type field struct{ Name, Value string }
		var fields []field
		for k, vs := range r.PostForm {
			if k == csrfField || k == "confirmed" {
				continue
			}
			for _, v := range vs {
				fields = append(fields, field{k, v})
			}
		}
		slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.Name, b.Name) })
		s.render(w, r, http.StatusOK, "confirm", map[string]any{"What": a.what, "Fields": fields, "Action": r.URL.Path, "Back": a.back})
		return
	}
	attrs := append([]any{"by", ss.who.Name, "scope", ss.who.Scope, "action", op}, a.log...)
	if err := a.run(r.Context()); err != nil {
		s.log.Warn("console action failed", append(attrs, "err", err)...)
		s.serviceError(w, r, err)
		return
	}
	s.log.Info("console action", attrs...)
	s.sessions.setFlash(ss, a.what+": done.")
	http.Redirect(w, r, a.back, http.StatusSeeOther)
}

func formInt(f url.Values, name string) (*int, error) {
	v := strings.TrimSpace(f.Get(name))
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, tfps.Errorf(tfps.EINVALID, "%s: %q is not a whole number", strings.ReplaceAll(name, "_", " "), v)
	}
	return &n, nil
}

func (s *server) accountAction(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	user, domain, op := f.Get("user"), f.Get("domain"), f.Get("op")
	acct := user + "@" + domain
	b := s.opt.Backend
	a := action{back: s.accountLink(user, domain), log: []any{"account", acct}}
	switch op {
	case "block", "unblock":
		a.what = strings.ToUpper(op[:1]) + op[1:] + " " + acct
		a.run = func(ctx context.Context) error { _, err := b.SetBlocked(ctx, user, domain, op == "block"); return err }
	case "clear_verify":
		a.what = "Clear the verification-failure block of " + acct
		a.run = func(ctx context.Context) error { return b.ClearVerifyBlock(ctx, user, domain) }
	case "clear_pair":
		caller, number := f.Get("caller"), f.Get("number")
		a.what = fmt.Sprintf("Lift the block of calls %s → %s of %s", caller, number, acct)
		a.log = append(a.log, "caller", caller, "number", number)
		a.run = func(ctx context.Context) error { _, err := b.ClearPairs(ctx, user, domain, caller, number); return err }
	case "clear_pairs":
		a.what = "Lift every caller → number block of " + acct
		a.run = func(ctx context.Context) error { _, err := b.ClearPairs(ctx, user, domain, "", ""); return err }
	case "reset":
		a.what = "Reset today's call counters of " + acct
		a.run = func(ctx context.Context) error { _, err := b.ResetAccount(ctx, user, domain); return err }
	case "allow_country", "disallow_country":
		dir, cc := api.Direction(f.Get("dir")), strings.ToUpper(strings.TrimSpace(f.Get("country")))
		verb, fn := "Allow", b.AllowCountry
		if op == "disallow_country" {
			verb, fn = "Disallow", b.DisallowCountry
		}
		a.what = fmt.Sprintf("%s %s country %s for %s", verb, dir, cc, acct)
		a.log = append(a.log, "direction", dir, "country", cc)
		a.run = func(ctx context.Context) error { _, err := fn(ctx, user, domain, dir, cc); return err }
	case "limits":
		var in api.AccountInput
		var err error
		parts := []string{}
		for _, p := range []struct {
			name string
			dst  **int
		}{{"concurrent_calls", &in.ConcurrentCalls}, {"concurrent_calls_off", &in.ConcurrentCallsOff}, {"daily_quota", &in.DailyQuota}, {"daily_quota_off", &in.DailyQuotaOff}} {
			if *p.dst, err = formInt(f, p.name); err != nil {
				s.serviceError(w, r, err)
				return
			}
			if *p.dst != nil {
				parts = append(parts, fmt.Sprintf("%s %d", strings.ReplaceAll(p.name, "_", " "), **p.dst))
				a.log = append(a.log, p.name, **p.dst)
			}
		}
		a.what = "Set limits of " + acct + ": " + strings.Join(parts, ", ")
		a.run = func(ctx context.Context) error { _, err := b.UpdateAccount(ctx, user, domain, &in); return err }
	default:
		s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("Unknown account action %q.", op))
		return
	}
	s.act(w, r, op, a)
}

// ---- Lists ----

var listKinds = []struct{ Kind, Title, Hint string }{
	{"user_agent", "User agents", "a regular expression matched against the SIP User-Agent"},
	{"ip", "Source addresses", "an IP address or a CIDR range"},
	{"number", "Dialled numbers", "a digit prefix"},
}

func (s *server) listsPage(w http.ResponseWriter, r *http.Request) {
	all, err := s.opt.Backend.ListBlacklist(r.Context(), "")
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	type group struct {
		Kind, Title, Hint string
		Entries           []api.BlacklistEntry
	}
	var groups []group
	for _, k := range listKinds {
		g := group{Kind: k.Kind, Title: k.Title, Hint: k.Hint}
		for _, e := range all {
			if e.Kind == k.Kind {
				g.Entries = append(g.Entries, e)
			}
		}
		groups = append(groups, g)
	}
	s.render(w, r, http.StatusOK, "lists", map[string]any{"Groups": groups})
}

func (s *server) listsAction(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	kind, value, note := f.Get("kind"), strings.TrimSpace(f.Get("value")), strings.TrimSpace(f.Get("note"))
	b := s.opt.Backend
	a := action{back: s.opt.Prefix + "/lists", log: []any{"kind", kind, "value", value}}
	switch op := f.Get("op"); op {
	case "add":
		a.what = fmt.Sprintf("Add %q to the %s blacklist", value, kind)
		a.run = func(ctx context.Context) error {
			_, err := b.AddBlacklist(ctx, &api.BlacklistEntry{Kind: kind, Value: value, Note: note})
			return err
		}
		s.act(w, r, "blacklist_add", a)
	case "remove":
		a.what = fmt.Sprintf("Remove %q from the %s blacklist", value, kind)
		a.run = func(ctx context.Context) error { return b.RemoveBlacklist(ctx, kind, value) }
		s.act(w, r, "blacklist_remove", a)
	default:
		s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("Unknown list action %q.", op))
	}
}

// ---- Outbox ----

func (s *server) outboxPage(w http.ResponseWriter, r *http.Request) {
	st := r.URL.Query().Get("state")
	if st == "" {
		st = "pending"
	}
	if st == "all" {
		st = ""
	}
	rows, err := s.opt.Backend.Outbox(r.Context(), st, 200)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if st == "" {
		st = "all"
	}
	s.render(w, r, http.StatusOK, "outbox", map[string]any{"State": st, "Rows": rows, "States": []string{"pending", "failed", "sent", "all"}})
}

func (s *server) outboxAction(w http.ResponseWriter, r *http.Request) {
	id := r.PostForm.Get("id")
	if op := r.PostForm.Get("op"); op != "retry" {
		s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("Unknown outbox action %q.", op))
		return
	}
	s.act(w, r, "outbox_retry", action{
		what: "Retry notification " + id, back: s.opt.Prefix + "/outbox?state=failed", log: []any{"id", id},
		run: func(ctx context.Context) error { return s.opt.Backend.RetryOutbox(ctx, id) },
	})
}

// ---- Number ranges and fraud rules ----

func (s *server) rangesPage(w http.ResponseWriter, r *http.Request) {
	list, err := s.opt.Backend.ListRanges(r.Context())
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "ranges", map[string]any{"Ranges": list})
}

func (s *server) rangesAction(w http.ResponseWriter, r *http.Request) {
	prefix := strings.TrimSpace(r.PostForm.Get("prefix"))
	if op := r.PostForm.Get("op"); op != "remove" {
		s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("Unknown number range action %q.", op))
		return
	}
	s.act(w, r, "range_remove", action{
		what: "Remove the number range +" + strings.TrimPrefix(prefix, "+"), back: s.opt.Prefix + "/ranges", log: []any{"prefix", prefix},
		run: func(ctx context.Context) error { return s.opt.Backend.RemoveRange(ctx, prefix) },
	})
}

func (s *server) rulesPage(w http.ResponseWriter, r *http.Request) {
	list, err := s.opt.Backend.ListRules(r.Context(), "")
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "rules", map[string]any{"Rules": list})
}

func (s *server) rulesAction(w http.ResponseWriter, r *http.Request) {
	raw := r.PostForm.Get("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if op := r.PostForm.Get("op"); op != "remove" || err != nil {
		s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("Unknown fraud rule action %q on rule %q.", op, raw))
		return
	}
	s.act(w, r, "rule_remove", action{
		what: fmt.Sprintf("Remove fraud rule %d", id), back: s.opt.Prefix + "/rules", log: []any{"rule", id},
		run: func(ctx context.Context) error { return s.opt.Backend.RemoveRule(ctx, id) },
	})
}
