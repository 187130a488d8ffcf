package console

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/api"
	"github.com/voipshield/tfps/state"
	"github.com/voipshield/tfps/store"
)

// Backend is what the console reads and changes: the API's operations plus
// the few an operator needs that the JSON API does not offer yet.
type Backend interface {
	api.Service
	// VerifyBlock tells whether failed voice verifications block the
	// account now (R18), until when, and how many failures count.
	VerifyBlock(ctx context.Context, user, domain string) (VerifyBlock, error)
	// ClearVerifyBlock forgets the account's failed verifications.
	ClearVerifyBlock(ctx context.Context, user, domain string) error
	// VerificationEvents returns the account's latest verification outcomes.
	VerificationEvents(ctx context.Context, user, domain string, limit int) ([]tfps.VerificationEvent, error)
	// Outbox lists notifications, newest first; state "" for all.
	Outbox(ctx context.Context, state string, limit int) ([]tfps.OutboxRow, error)
	// RetryOutbox puts a failed notification back for an immediate try.
	RetryOutbox(ctx context.Context, id string) error
}

// VerifyBlock is an account's verification-failure block.
type VerifyBlock struct {
	Blocked  bool
	Until    time.Time
	Failures int // within the window
	Max      int // failures that block (TFPS_MAX_CAPTCHAATTEMPTS)
	Window   time.Duration
}

// Local implements Backend in the gateway process on the API service, the
// store and Redis.
type Local struct {
	api.Service
	Store       *store.Store
	State       *state.State
	Window      time.Duration    // TFPS_CACHE_BLOCK_TIME
	MaxFailures int              // TFPS_MAX_CAPTCHAATTEMPTS
	Now         func() time.Time // nil: time.Now
}

var _ Backend = (*Local)(nil)

func (l *Local) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Local) VerifyBlock(ctx context.Context, user, domain string) (VerifyBlock, error) {
	blocked, until, n, err := l.State.VerifyBlock(ctx, user, domain, l.now(), l.Window, l.MaxFailures)
	if err != nil {
		return VerifyBlock{}, err
	}
	return VerifyBlock{Blocked: blocked, Until: until, Failures: n, Max: l.MaxFailures, Window: l.Window}, nil
}

func (l *Local) ClearVerifyBlock(ctx context.Context, user, domain string) error {
	if _, err := l.Service.GetAccount(ctx, user, domain); err != nil {
		return err
	}
	return l.State.ClearVerifyFailures(ctx, user, domain)
}

func (l *Local) VerificationEvents(ctx context.Context, user, domain string, limit int) ([]tfps.VerificationEvent, error) {
	return l.Store.VerificationEvents(ctx, user, domain, limit)
}

func (l *Local) Outbox(ctx context.Context, state string, limit int) ([]tfps.OutboxRow, error) {
	switch state {
	case "", "pending", "failed", "sent", "merged":
	default:
		return nil, tfps.Errorf(tfps.EINVALID, "outbox state %q: expected pending, failed, sent or merged", state)
	}
	return l.Store.OutboxRows(ctx, state, limit)
}

func (l *Local) RetryOutbox(ctx context.Context, id string) error {
	if id == "" {
		return tfps.Errorf(tfps.EINVALID, "outbox id: empty")
	}
	return l.Store.RequeueOutbox(ctx, id)
}

// Scope is what a console user may do.
type Scope string

const (
	ScopeRead  Scope = "read"  // look only
	ScopeAdmin Scope = "admin" // look and act
)

// Principal is who holds a token: its name goes into the log of every
// action.
type Principal struct {
	Name  string
	Scope Scope
}

// CanAct reports whether p may change things.
func (p Principal) CanAct() bool { return p.Scope == ScopeAdmin }

// Authenticator maps a token to who holds it; ok false refuses the login.
// Tokens of a scope the console does not know (a check-only token) must be
// refused by the implementation.
type Authenticator func(token string) (p Principal, ok bool)

// HashedToken is one token the console accepts, known by the SHA-256 of
// its text (as TFPS_API_TOKENS lists them).
type HashedToken struct {
	Name   string
	Scope  Scope // read or admin; other scopes (check) are refused
	SHA256 [sha256.Size]byte
}

// Tokens accepts the tokens of the list whose scope the console knows
// (read, admin), each as the principal it names; a check-only token is
// refused. Every entry is compared, in constant time.
func Tokens(list []HashedToken) Authenticator {
	return func(got string) (Principal, bool) {
		sum := sha256.Sum256([]byte(got))
		var found *HashedToken
		for i := range list {
			if subtle.ConstantTimeCompare(sum[:], list[i].SHA256[:]) == 1 {
				found = &list[i]
			}
		}
		if found == nil || (found.Scope != ScopeRead && found.Scope != ScopeAdmin) {
			return Principal{}, false
		}
		return Principal{Name: found.Name, Scope: found.Scope}, true
	}
}

func (p Principal) String() string { return fmt.Sprintf("%s (%s)", p.Name, p.Scope) }
