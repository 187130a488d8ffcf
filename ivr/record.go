package ivr

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/voipshield/tfps"
	"github.com/voipshield/tfps/store"
)

// Notifier queues a notification inside the transaction that records the
// outcome, so the mail is sent if and only if the change is stored. The
// store's durable outbox (store.Store.EnqueueTx) implements it.
type Notifier interface {
	EnqueueTx(ctx context.Context, tx *sql.Tx, n *tfps.Notification) error
}

// NopNotifier drops notifications (no mail configured).
type NopNotifier struct{}

// EnqueueTx implements Notifier.
func (NopNotifier) EnqueueTx(context.Context, *sql.Tx, *tfps.Notification) error { return nil }

// SQLRecorder writes a Record in one SQL transaction: the account change,
// the verification event and the outbox rows.
type SQLRecorder struct {
	Store    *store.Store
	Notifier Notifier
}

var _ Recorder = (*SQLRecorder)(nil)

// Record implements Recorder.
func (r *SQLRecorder) Record(ctx context.Context, rec *Record) error {
	return r.Store.WithTx(ctx, func(tx *sql.Tx) error {
		var a *tfps.Account
		switch {
		case rec.Create != nil:
			existing, err := r.Store.GetAccountTx(ctx, tx, rec.User, rec.Domain)
			switch {
			case err == nil:
				a = existing // created meanwhile by another call: keep it
			case tfps.ErrorCode(err) == tfps.ENOTFOUND:
				if err := r.Store.CreateAccountTx(ctx, tx, rec.Create); err != nil {
					return fmt.Errorf("create account: %w", err)
				}
				a = rec.Create
			default:
				return err
			}
			// Create and Update together: the account is made (or found),
			// then changed, as a service provider's user gets their own
			// account from the domain's default with the verified change.
			if rec.Update != nil {
				if err := rec.Update(a); err != nil {
					return err
				}
				if err := r.Store.UpdateAccountTx(ctx, tx, a); err != nil {
					return err
				}
			}
		case rec.Update != nil:
			cur, err := r.Store.GetAccountTx(ctx, tx, rec.User, rec.Domain)
			if err != nil {
				return err
			}
			if err := rec.Update(cur); err != nil {
				return err
			}
			if err := r.Store.UpdateAccountTx(ctx, tx, cur); err != nil {
				return err
			}
			a = cur
		}
		if rec.AllowRange != "" {
			if err := r.Store.AllowRangeTx(ctx, tx, rec.User, rec.Domain, rec.AllowRange); err != nil {
				return err
			}
		}
		ev := rec.Event
		if err := r.Store.InsertVerificationEventTx(ctx, tx, &ev); err != nil {
			return err
		}
		if rec.Notify == nil || r.Notifier == nil {
			return nil
		}
		for _, n := range rec.Notify(a) {
			if err := r.Notifier.EnqueueTx(ctx, tx, &n); err != nil {
				return fmt.Errorf("queue %s notification: %w", n.Kind, err)
			}
		}
		return nil
	})
}
