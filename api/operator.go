package api

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/voipshield/tfps"
)

// The operator's day-one tools: service-provider domains, lifting every
// kind of block, the notification outbox, and exporting the decision log.

func apiDomain(d *tfps.Domain) *Domain {
	return &Domain{Domain: d.Domain, DefaultUser: d.DefaultUser, Unknown: string(d.Unknown), Effective: string(d.Effective()), Profile: d.Profile, UpdatedAt: d.UpdatedAt}
}

// maxProfile bounds a rule profile's name.
const maxProfile = 64

// GetDomain returns the domain's settings.
func (s *Local) GetDomain(ctx context.Context, domain string) (*Domain, error) {
	if err := text("domain", domain, maxField, true); err != nil {
		return nil, err
	}
	d, err := s.Store.GetDomain(ctx, domain)
	if err != nil {
		return nil, err
	}
	return apiDomain(d), nil
}

// UpdateDomain changes the fields set in in. A default user must be an
// account of the domain: a typo would otherwise send every unknown user to
// onboarding without a word.
func (s *Local) UpdateDomain(ctx context.Context, domain string, in *DomainInput) (*Domain, error) {
	if err := text("domain", domain, maxField, true); err != nil {
		return nil, err
	}
	d, err := s.Store.GetDomain(ctx, domain)
	if tfps.ErrorCode(err) == tfps.ENOTFOUND {
		d, err = &tfps.Domain{Domain: domain}, nil
	}
	if err != nil {
		return nil, err
	}
	if in.DefaultUser != nil {
		if err := text("default_user", *in.DefaultUser, maxField, false); err != nil {
			return nil, err
		}
		if *in.DefaultUser != "" {
			if _, err := s.Store.GetAccount(ctx, *in.DefaultUser, domain); err != nil {
				if tfps.ErrorCode(err) == tfps.ENOTFOUND {
					return nil, invalid("default_user", "no account %s@%s: create it first (tfpsctl add)", *in.DefaultUser, domain)
				}
				return nil, err
			}
		}
		d.DefaultUser = *in.DefaultUser
	}
	if in.Unknown != nil {
		p := tfps.UnknownPolicy(*in.Unknown)
		if !p.Valid() {
			return nil, invalid("unknown", "%q is not default, onboarding, reject or empty (default when default_user is set, else onboarding)", *in.Unknown)
		}
		d.Unknown = p
	}
	if in.Profile != nil {
		if err := text("profile", *in.Profile, maxProfile, false); err != nil {
			return nil, err
		}
		d.Profile = *in.Profile
	}
	if d.Unknown == tfps.UnknownDefault && d.DefaultUser == "" {
		return nil, invalid("unknown", "default needs a default_user")
	}
	if err := s.Store.PutDomain(ctx, d); err != nil {
		return nil, err
	}
	s.refresh(ctx)
	return apiDomain(d), nil
}

// failurePolicy is the R18 rule the engine applies.
func (s *Local) failurePolicy() (int, time.Duration) {
	if s.Engine != nil {
		return s.Engine.FailurePolicy()
	}
	if c := s.Config; c != nil && c.MaxCaptchaAttempts > 0 && c.CacheBlockTime > 0 {
		return c.MaxCaptchaAttempts, c.CacheBlockTime
	}
	return 3, time.Hour
}

// Blocks lists the identity's active blocks at the gateway's time.
func (s *Local) Blocks(ctx context.Context, user, domain string) (*Blocks, error) {
	if err := account(user, domain); err != nil {
		return nil, err
	}
	now := s.now()
	b := &Blocks{User: user, Domain: domain, Pairs: []PairBlock{}}
	a, err := s.Store.GetAccount(ctx, user, domain)
	switch {
	case err == nil:
		b.Operator = a.Blocked
	case tfps.ErrorCode(err) != tfps.ENOTFOUND:
		return nil, err
	}
	max, window := s.failurePolicy()
	blocked, until, failures, err := s.State.VerifyBlock(ctx, user, domain, now, window, max)
	if err != nil {
		return nil, err
	}
	b.Failures = failures
	if blocked {
		b.Verification = &VerificationBlock{Until: until.UTC()}
	}
	pairs, err := s.State.PairBlocks(ctx, user, domain, now)
	if err != nil {
		return nil, err
	}
	for _, p := range pairs {
		b.Pairs = append(b.Pairs, PairBlock{Caller: p.Caller, Number: p.Number, Until: p.Until.UTC()})
	}
	return b, nil
}

// ClearVerification lifts an R18 block by forgetting the failures.
func (s *Local) ClearVerification(ctx context.Context, user, domain string) (*Blocks, error) {
	if err := account(user, domain); err != nil {
		return nil, err
	}
	if err := s.State.ClearVerifyFailures(ctx, user, domain); err != nil {
		return nil, err
	}
	return s.Blocks(ctx, user, domain)
}

// ClearPairs lifts one pair block, or all of the identity's.
func (s *Local) ClearPairs(ctx context.Context, user, domain, caller, number string) (*Blocks, error) {
	if err := account(user, domain); err != nil {
		return nil, err
	}
	if (caller == "") != (number == "") {
		return nil, invalid("caller", "caller and number go together (neither: every pair of the account)")
	}
	if caller == "" {
		if _, err := s.State.ClearPairBlocks(ctx, user, domain, s.now()); err != nil {
			return nil, err
		}
	} else {
		if err := text("caller", caller, maxField, true); err != nil {
			return nil, err
		}
		if err := text("number", number, maxField, true); err != nil {
			return nil, err
		}
		was, err := s.State.ClearPairBlock(ctx, user, domain, caller, number, s.now())
		if err != nil {
			return nil, err
		}
		if !was {
			return nil, tfps.Errorf(tfps.ENOTFOUND, "%s -> %s is not blocked for %s@%s", caller, number, user, domain)
		}
	}
	return s.Blocks(ctx, user, domain)
}

// ListOutbox lists notification rows.
func (s *Local) ListOutbox(ctx context.Context, state string, limit int) ([]OutboxRow, error) {
	switch state {
	case "", tfps.OutboxPending, tfps.OutboxSent, tfps.OutboxFailed, tfps.OutboxMerged:
	default:
		return nil, invalid("state", "%q is not pending, sent, failed or merged", state)
	}
	if limit < 0 || limit > tfps.MaxPageSize {
		return nil, invalid("limit", "%d is outside 0..%d", limit, tfps.MaxPageSize)
	}
	rows, err := s.Store.OutboxRows(ctx, state, limit)
	if err != nil {
		return nil, err
	}
	out := make([]OutboxRow, 0, len(rows))
	for _, r := range rows {
		d := r.Delivered
		if d == nil {
			d = []string{}
		}
		out = append(out, OutboxRow{
			ID: r.Notification.ID, Kind: string(r.Notification.Kind), Account: r.Notification.Account(), State: r.State,
			Attempts: r.Attempts, CreatedAt: r.CreatedAt, NextAttemptAt: r.NextAttemptAt, SentAt: r.SentAt,
			Delivered: d, LastError: r.LastError, MergedInto: r.MergedInto,
		})
	}
	return out, nil
}

// RetryOutbox puts a failed row back for an immediate try.
func (s *Local) RetryOutbox(ctx context.Context, id string) error {
	if err := text("id", id, maxField, true); err != nil {
		return err
	}
	return s.Store.RequeueOutbox(ctx, id)
}

// DropOutbox deletes a failed or pending row.
func (s *Local) DropOutbox(ctx context.Context, id string) error {
	if err := text("id", id, maxField, true); err != nil {
		return err
	}
	return s.Store.DropOutbox(ctx, id)
}

// IVROfOutcome maps a recorded verification outcome to what the replay's
// simulated caller does (replay input field "ivr"): the export writes it
// and the replay's decision-log reader uses it.
var IVROfOutcome = map[string]string{"success": "pass", "failure": "fail", "timeout": "silent", "hangup": "hangup", "blocked": "fail"}

// exportLine is one replay input line.
type exportLine struct {
	CheckRequest
	Time string `json:"time"`
	IVR  string `json:"ivr,omitempty"`
}

var exportColumns = []string{"id", "at", "call_id", "user", "domain", "caller", "number", "source_ip", "user_agent",
	"concurrent_calls", "result", "code", "reason", "flow", "ticket", "ivr", "enforced", "off_hours", "abuse_score",
	"source_country", "destination_country", "transport", "latency_us"}

// ExportDecisions streams the rows of q to w. Memory stays bounded: rows
// are read one at a time and written through a buffer; only the recorded
// verification outcomes (one per verification, not per decision) are held.
// Times never go backwards in the JSON lines (the replay refuses that):
// gateways write batches a few milliseconds apart, so a row older than the
// one before it is written with that one's time.
func (s *Local) ExportDecisions(ctx context.Context, q ExportQuery, w io.Writer) error {
	if q.Since.IsZero() {
		return invalid("since", "required (RFC 3339 or YYYY-MM-DD)")
	}
	if !q.Until.IsZero() && !q.Until.After(q.Since) {
		return invalid("until", "%s is not after since %s", q.Until.Format(time.RFC3339), q.Since.Format(time.RFC3339))
	}
	switch q.Format {
	case "":
		q.Format = ExportJSONL
	case ExportJSONL, ExportCSV:
	default:
		return invalid("format", "%q is not jsonl or csv", q.Format)
	}
	outcomes, err := s.Store.VerificationOutcomes(ctx, q.Since, time.Time{})
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var last time.Time
	var enc *json.Encoder
	var cw *csv.Writer
	if q.Format == ExportJSONL {
		enc = json.NewEncoder(bw)
	} else {
		cw = csv.NewWriter(bw)
		if err := cw.Write(exportColumns); err != nil {
			return fmt.Errorf("export decisions: %w", err)
		}
	}
	rec := make([]string, len(exportColumns))
	err = s.Store.EachDecision(ctx, q.Since, q.Until, func(d *tfps.DecisionRecord) error {
		ivr := ""
		if d.Ticket != "" {
			ivr = IVROfOutcome[outcomes[d.Ticket]]
		}
		if enc != nil {
			at := d.At
			if at.Before(last) {
				at = last
			}
			last = at
			cc := d.ConcurrentCalls
			return enc.Encode(exportLine{CheckRequest: CheckRequest{
				User: d.User, Domain: d.Domain, SourceIP: d.SourceIP, UserAgent: d.UserAgent, ConcurrentCalls: &cc,
				Number: d.Number, Caller: d.Caller, CallID: d.CallID,
			}, Time: at.UTC().Format(time.RFC3339Nano), IVR: ivr})
		}
		rec[0], rec[1], rec[2], rec[3], rec[4] = strconv.FormatInt(d.ID, 10), d.At.UTC().Format(time.RFC3339Nano), d.CallID, d.User, d.Domain
		rec[5], rec[6], rec[7], rec[8] = d.Caller, d.Number, d.SourceIP, d.UserAgent
		rec[9], rec[10], rec[11], rec[12], rec[13], rec[14], rec[15] = strconv.Itoa(d.ConcurrentCalls), d.Result, d.Code, d.Reason, d.Flow, d.Ticket, ivr
		rec[16], rec[17], rec[18] = strconv.FormatBool(d.Enforced), strconv.FormatBool(d.OffHours), strconv.Itoa(d.AbuseScore)
		rec[19], rec[20], rec[21], rec[22] = d.SourceCountry, d.DestinationCountry, d.Transport, strconv.FormatInt(d.LatencyMicros, 10)
		return cw.Write(rec)
	})
	if err != nil {
		return fmt.Errorf("export decisions: %w", err)
	}
	if cw != nil {
		if cw.Flush(); cw.Error() != nil {
			return fmt.Errorf("export decisions: %w", cw.Error())
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export decisions: %w", err)
	}
	return nil
}
