package engine

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync/atomic"
)

// decisionKeys gives each decision its unique key (tfps.DecisionRecord.Key):
// a random prefix drawn when the engine starts, then a counter, as 32 hex
// digits. The decision log stores each key once, so a batch written twice
// (the journal's drain after a commit whose reply was lost) adds no row.
// Keys of one engine sort in the order decided, which keeps the log's
// unique index appending at its end.
type decisionKeys struct {
	prefix [8]byte
	n      atomic.Uint64
}

func newDecisionKeys() (*decisionKeys, error) {
	k := &decisionKeys{}
	if _, err := rand.Read(k.prefix[:]); err != nil {
		return nil, fmt.Errorf("decision key prefix: %w", err)
	}
	return k, nil
}

// next returns a key no other decision of any engine has, but with
// probability 2^-64 per pair of engines.
func (k *decisionKeys) next() string {
	var b [16]byte
	copy(b[:8], k.prefix[:])
	binary.BigEndian.PutUint64(b[8:], k.n.Add(1))
	return hex.EncodeToString(b[:])
}
