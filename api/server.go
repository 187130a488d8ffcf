package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/engine"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

// MaxBody bounds every request body but a range import; larger bodies get
// 413.
const MaxBody = 64 << 10

// MaxRangesBody bounds the body of POST /v1/ranges: a carrier's list of a
// hundred thousand ranges fits.
const MaxRangesBody = 4 << 20

// Options configure Handler.
type Options struct {
	// Token, when set, is an admin token (TFPS_API_TOKEN), required as
	// "Authorization: Bearer <token>" on every /v1 route, POST /v1/check
	// included. Tokens adds scoped ones (TFPS_API_TOKENS). With neither:
	// no authentication (the gateway only allows that on a loopback
	// listener), and requests must be addressed to the listener and send
	// JSON (ListenAddr).
	Token  string
	Tokens []Token
	// ListenAddr returns the listener's address, whose port the Host of a
	// token-less request must carry; nil: any port.
	ListenAddr func() string
	Logger     *slog.Logger          // nil: slog.Default()
	Registerer prometheus.Registerer // nil: HTTP metrics not registered
}

type server struct {
	svc        Service
	log        *slog.Logger
	tokens     []Token
	auth       bool
	listenAddr func() string
	reqs       *prometheus.CounterVec
	latency    *prometheus.HistogramVec
}

// Handler serves svc on the /v1 routes (see docs/api.md).
func Handler(svc Service, opt Options) (http.Handler, error) {
	s := &server{svc: svc, log: opt.Logger, tokens: opt.Tokens, listenAddr: opt.ListenAddr}
	if opt.Token != "" {
		s.tokens = append([]Token{{Name: "TFPS_API_TOKEN", Scope: ScopeAdmin, SHA256: sha256.Sum256([]byte(opt.Token))}}, opt.Tokens...)
	}
	s.auth = len(s.tokens) > 0
	if s.log == nil {
		s.log = slog.Default()
	}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tfps_http_requests_total", Help: "HTTP API requests by chi route pattern, method and status code.",
	}, []string{"route", "method", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tfps_http_request_seconds",
		Help:    "HTTP API request duration by chi route pattern.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"route"})
	if opt.Registerer != nil {
		for _, c := range []prometheus.Collector{s.reqs, s.latency} {
			if err := opt.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register http metrics: %w", err)
			}
		}
	}

	r := chi.NewRouter()
	r.Use(s.instrument, escapedRouting, s.authenticate)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, tfps.Errorf(tfps.ENOTFOUND, "no route %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeErrorStatus(w, r, http.StatusMethodNotAllowed, tfps.Errorf(tfps.EINVALID, "method %s not allowed on %s", r.Method, r.URL.Path))
	})
	// Full paths on one router: no sub-router pass on the hot /v1/check.
	// Each route names the token scope it needs (auth.go).
	check, read, admin := r.With(s.need(ScopeCheck)), r.With(s.need(ScopeRead)), r.With(s.need(ScopeAdmin))
	check.Post("/v1/check", s.check)
	r.With(s.need(scopeAny)).Get("/v1/codes", s.codes)
	read.Get("/v1/openapi.json", s.openapi)
	read.Get("/v1/accounts", s.listAccounts)
	admin.Post("/v1/accounts", s.createAccount)
	const acct = "/v1/accounts/{domain}/{user}"
	read.Get(acct, s.getAccount)
	admin.Patch(acct, s.updateAccount)
	admin.Delete(acct, s.deleteAccount)
	admin.Post(acct+"/block", s.block(true))
	admin.Post(acct+"/unblock", s.block(false))
	admin.Post(acct+"/reset", s.resetAccount)
	admin.Put(acct+"/countries/{direction}/{country}", s.country(true))
	admin.Delete(acct+"/countries/{direction}/{country}", s.country(false))
	read.Get(acct+"/decisions", s.accountDecisions)
	read.Get(acct+"/history", s.history)
	admin.Put(acct+"/pin", s.setPIN)
	admin.Delete(acct+"/pin", s.clearPIN)
	read.Get("/v1/decisions", s.decisions)
	read.Get(acct+"/blocks", s.blocks)
	admin.Delete(acct+"/blocks/verification", s.clearVerification)
	admin.Delete(acct+"/blocks/pairs", s.clearPairs)
	read.Get("/v1/decisions/export", s.exportDecisions)
	read.Get("/v1/domains/{domain}", s.getDomain)
	admin.Patch("/v1/domains/{domain}", s.updateDomain)
	read.Get("/v1/outbox", s.outbox)
	admin.Post("/v1/outbox/{id}/retry", s.retryOutbox)
	admin.Delete("/v1/outbox/{id}", s.dropOutbox)
	read.Get("/v1/blacklists", s.listBlacklist)
	read.Get("/v1/blacklists/{kind}", s.listBlacklist)
	admin.Post("/v1/blacklists/{kind}", s.addBlacklist)
	admin.Delete("/v1/blacklists/{kind}", s.removeBlacklist)
	read.Get("/v1/ranges", s.listRanges)
	admin.Post("/v1/ranges", s.putRanges)
	admin.Delete("/v1/ranges/{prefix}", s.removeRange)
	read.Get("/v1/rules", s.listRules)
	admin.Post("/v1/rules", s.addRules)
	admin.Delete("/v1/rules/{id}", s.removeRule)
	check.Post("/v1/calls/end", s.endCall)
	read.Get(acct+"/stats", s.accountStats)
	return r, nil
}

// statusWriter remembers the status code for the metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.reqs.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(sw.status)).Inc()
		s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// methodLabel keeps the label set small: any method a client invents is
// "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "other"
}

// escapedRouting routes on the escaped path, so a user or domain holding
// "/" or "%" stays one path segment; handlers unescape with param.
func escapedRouting(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath == "" {
			rctx.RoutePath = r.URL.EscapedPath()
		}
		next.ServeHTTP(w, r)
	})
}

// Status maps an application error code (tfps.ErrorCode) to the HTTP
// status the API answers with; the console shares it.
func Status(code string) int {
	switch code {
	case tfps.EINVALID:
		return http.StatusBadRequest
	case tfps.ENOTFOUND:
		return http.StatusNotFound
	case tfps.ECONFLICT:
		return http.StatusConflict
	case tfps.EFORBIDDEN:
		return http.StatusUnauthorized
	case tfps.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// classify gives dependency failures, a closing engine and abandoned
// requests the unavailable code; their detail is only logged.
func classify(err error) error {
	var te *tfps.Error
	if errors.As(err, &te) {
		return err
	}
	if errors.Is(err, engine.ErrDependency) || errors.Is(err, engine.ErrClosed) || errors.Is(err, state.ErrUnavailable) ||
		errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &tfps.Error{Code: tfps.EUNAVAILABLE, Message: "a dependency (Redis or SQL) is unavailable; try again", Err: err}
	}
	return err
}

func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = classify(err)
	s.writeErrorStatus(w, r, Status(tfps.ErrorCode(err)), err)
}

func (s *server) writeErrorStatus(w http.ResponseWriter, r *http.Request, code int, err error) {
	ec := tfps.ErrorCode(err)
	switch {
	case ec == tfps.EINTERNAL || ec == tfps.EUNAVAILABLE:
		s.log.Error("http api", "method", r.Method, "path", r.URL.Path, "code", ec, "err", err)
	case ec == tfps.EFORBIDDEN:
		s.log.Warn("http api: refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	}
	var body errorBody
	body.Error.Code, body.Error.Message = ec, tfps.ErrorMessage(err)
	if ec == tfps.EFORBIDDEN {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tfps"`)
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// decode reads one JSON object from the body into v: at most MaxBody bytes,
// no unknown fields, nothing after it. The error names the problem.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeLimit(w, r, v, MaxBody)
}

// decodeLimit is decode with a body bound of limit bytes.
func decodeLimit(w http.ResponseWriter, r *http.Request, v any, limit int64) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.Decode(&struct{}{}) != io.EOF {
			return tfps.Errorf(tfps.EINVALID, "body: more than one JSON value")
		}
		return nil
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		big *http.MaxBytesError
	)
	switch {
	case errors.As(err, &big):
		return &tfps.Error{Code: tfps.EINVALID, Message: fmt.Sprintf("body: larger than %d bytes", limit), Err: errTooLarge}
	case errors.Is(err, io.EOF):
		return tfps.Errorf(tfps.EINVALID, "body: empty, expected a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return tfps.Errorf(tfps.EINVALID, "body: JSON ends early")
	case errors.As(err, &syn):
		return tfps.Errorf(tfps.EINVALID, "body: invalid JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "invalid character "))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return tfps.Errorf(tfps.EINVALID, "body: expected a JSON object, got %s", typ.Value)
		}
		return tfps.Errorf(tfps.EINVALID, "%s: expected %s, got %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return tfps.Errorf(tfps.EINVALID, "body: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return tfps.Errorf(tfps.EINVALID, "body: %v", err)
}

var errTooLarge = errors.New("request body too large")

func jsonType(kind string) string {
	switch kind {
	case "int", "int64", "int32", "uint", "uint8", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "ptr", "struct", "map":
		return "an object"
	}
	return kind
}

// bodyError writes a decode error: 413 for a body too large, else 400.
func (s *server) bodyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errTooLarge) {
		s.writeErrorStatus(w, r, http.StatusRequestEntityTooLarge, err)
		return
	}
	s.writeError(w, r, err)
}

// param returns the unescaped path parameter name.
func param(r *http.Request, name string) (string, error) {
	raw := chi.URLParam(r, name)
	v, err := url.PathUnescape(raw)
	if err != nil {
		return "", invalid(name, "%q is not a valid path segment", raw)
	}
	return v, nil
}

func accountParams(r *http.Request) (user, domain string, err error) {
	if domain, err = param(r, "domain"); err != nil {
		return "", "", err
	}
	if user, err = param(r, "user"); err != nil {
		return "", "", err
	}
	return user, domain, nil
}

func queryInt(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, invalid(name, "%q is not an integer", v)
	}
	return n, nil
}

func (s *server) check(w http.ResponseWriter, r *http.Request) {
	var req CheckRequest
	if err := decode(w, r, &req); err != nil {
		s.bodyError(w, r, err)
		return
	}
	res, err := s.svc.Check(r.Context(), &req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *server) codes(w http.ResponseWriter, r *http.Request) {
	c, err := s.svc.Codes(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *server) listAccounts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, err := queryInt(q, "offset")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := queryInt(q, "limit")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.svc.ListAccounts(r.Context(), AccountQuery{Domain: q.Get("domain"), Offset: int(offset), Limit: int(limit)})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *server) createAccount(w http.ResponseWriter, r *http.Request) {
	var in AccountInput
	if err := decode(w, r, &in); err != nil {
		s.bodyError(w, r, err)
		return
	}
	a, err := s.svc.CreateAccount(r.Context(), &in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

// accountOp runs fn on the account of the path and answers its result.
func (s *server) accountOp(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, user, domain string) (*Account, error)) {
	user, domain, err := accountParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := fn(r.Context(), user, domain)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *server) getAccount(w http.ResponseWriter, r *http.Request) {
	s.accountOp(w, r, s.svc.GetAccount)
}

func (s *server) updateAccount(w http.ResponseWriter, r *http.Request) {
	var in AccountInput
	if err := decode(w, r, &in); err != nil {
		s.bodyError(w, r, err)
		return
	}
	s.accountOp(w, r, func(ctx context.Context, user, domain string) (*Account, error) {
		return s.svc.UpdateAccount(ctx, user, domain, &in)
	})
}

func (s *server) deleteAccount(w http.ResponseWriter, r *http.Request) {
	user, domain, err := accountParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.DeleteAccount(r.Context(), user, domain); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) block(blocked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.accountOp(w, r, func(ctx context.Context, user, domain string) (*Account, error) {
			return s.svc.SetBlocked(ctx, user, domain, blocked)
		})
	}
}

func (s *server) resetAccount(w http.ResponseWriter, r *http.Request) {
	s.accountOp(w, r, s.svc.ResetAccount)
}

func (s *server) country(allow bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		dir, err := param(r, "direction")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		cc, err := param(r, "country")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.accountOp(w, r, func(ctx context.Context, user, domain string) (*Account, error) {
			if allow {
				return s.svc.AllowCountry(ctx, user, domain, Direction(dir), cc)
			}
			return s.svc.DisallowCountry(ctx, user, domain, Direction(dir), cc)
		})
	}
}

func (s *server) history(w http.ResponseWriter, r *http.Request) {
	user, domain, err := accountParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	days, err := queryInt(r.URL.Query(), "days")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if days < 0 || days > 100000 {
		s.writeError(w, r, invalid("days", "%d is out of range", days))
		return
	}
	h, err := s.svc.History(r.Context(), user, domain, int(days))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *server) setPIN(w http.ResponseWriter, r *http.Request) {
	var in PINInput
	if err := decode(w, r, &in); err != nil {
		s.bodyError(w, r, err)
		return
	}
	s.accountOp(w, r, func(ctx context.Context, user, domain string) (*Account, error) {
		return s.svc.SetPIN(ctx, user, domain, in.PIN)
	})
}

func (s *server) clearPIN(w http.ResponseWriter, r *http.Request) {
	s.accountOp(w, r, s.svc.ClearPIN)
}

func decisionQuery(q url.Values) (DecisionQuery, error) {
	after, err := queryInt(q, "after_id")
	if err != nil {
		return DecisionQuery{}, err
	}
	limit, err := queryInt(q, "limit")
	if err != nil {
		return DecisionQuery{}, err
	}
	return DecisionQuery{User: q.Get("user"), Domain: q.Get("domain"), CallID: q.Get("call_id"), AfterID: after, Limit: int(limit)}, nil
}

func (s *server) decisions(w http.ResponseWriter, r *http.Request) {
	q, err := decisionQuery(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeDecisions(w, r, q)
}

func (s *server) accountDecisions(w http.ResponseWriter, r *http.Request) {
	q, err := decisionQuery(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.User, q.Domain, err = accountParams(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeDecisions(w, r, q)
}

func (s *server) writeDecisions(w http.ResponseWriter, r *http.Request, q DecisionQuery) {
	d, err := s.svc.Decisions(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *server) listBlacklist(w http.ResponseWriter, r *http.Request) {
	kind, err := param(r, "kind")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l, err := s.svc.ListBlacklist(r.Context(), kind)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// blacklistInput is the body of POST /v1/blacklists/{kind}.
type blacklistInput struct {
	Value string `json:"value"`
	Note  string `json:"note"`
}

func (s *server) addBlacklist(w http.ResponseWriter, r *http.Request) {
	kind, err := param(r, "kind")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in blacklistInput
	if err := decode(w, r, &in); err != nil {
		s.bodyError(w, r, err)
		return
	}
	e, err := s.svc.AddBlacklist(r.Context(), &BlacklistEntry{Kind: kind, Value: in.Value, Note: in.Note})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, e)
}

func (s *server) removeBlacklist(w http.ResponseWriter, r *http.Request) {
	kind, err := param(r, "kind")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.RemoveBlacklist(r.Context(), kind, r.URL.Query().Get("value")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) listRanges(w http.ResponseWriter, r *http.Request) {
	l, err := s.svc.ListRanges(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// putRanges reads a JSON array of ranges, or with Content-Type text/csv
// rows prefix,level,source,comment (tfps.ParseRangesCSV: bad rows are
// named by their line in the file).
func (s *server) putRanges(w http.ResponseWriter, r *http.Request) {
	var in []Range
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "text/csv" {
		rows, err := tfps.ParseRangesCSV(http.MaxBytesReader(w, r.Body, MaxRangesBody))
		var big *http.MaxBytesError
		if errors.As(err, &big) {
			err = &tfps.Error{Code: tfps.EINVALID, Message: fmt.Sprintf("body: larger than %d bytes", MaxRangesBody), Err: errTooLarge}
		}
		if err != nil {
			s.bodyError(w, r, err)
			return
		}
		for _, nr := range rows {
			in = append(in, Range{Prefix: nr.Prefix, Level: string(nr.Level), Source: nr.Source, Comment: nr.Comment})
		}
		if len(in) == 0 {
			s.writeError(w, r, invalid("body", "no ranges in the CSV (rows prefix,level,source,comment)"))
			return
		}
	} else if err := decodeLimit(w, r, &in, MaxRangesBody); err != nil {
		var te *tfps.Error
		if errors.As(err, &te) && strings.HasPrefix(te.Message, "body: expected a JSON object, got ") {
			err = invalid("body", "expected a JSON array of ranges, or Content-Type: text/csv")
		}
		s.bodyError(w, r, err)
		return
	}
	out, err := s.svc.PutRanges(r.Context(), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) removeRange(w http.ResponseWriter, r *http.Request) {
	prefix, err := param(r, "prefix")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.RemoveRange(r.Context(), prefix); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
