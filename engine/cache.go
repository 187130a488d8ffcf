package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/voipshield/tfps"
)

// BuiltinUserAgents are the scanner User-Agent patterns TFPS rejected, added
// to the operator's user_agent list unless TFPS_UA_BUILTIN_PATTERNS=off.
// Case-insensitive regular expressions (RE2 syntax).
var BuiltinUserAgents = []string{
	`sipcli`, `friendly-scanner`, `sipvicious`, `VaxSIPUserAgent`, `sivus`,
	`Nsauditor`, `SipReg`, `^Custom SIP`, `Nmap NSE`, `^PBX$`, `Trixbox`,
	`SipClient`, `^opensip`, `sipscan`, `sipsorcery`, `pplsip`, `sundayddr`,
	`iWar`, `smap`,
}

// maxCachedAccounts bounds the account cache (unknown accounts are cached
// too, and a scanner invents many); past it the cache starts over.
const maxCachedAccounts = 200_000

// accountLoadTimeout bounds one account query on a cache miss.
const accountLoadTimeout = 2 * time.Second

type accountKey struct{ user, domain string }

// snapshot is what the engine caches for one change version: the compiled
// lists and the accounts asked for so far. It is replaced, never edited,
// when the version changes, except for the account map, which fills up as
// accounts are asked for. A change that leaves the lists as they were (most
// changes touch accounts) keeps the compiled lists.
type snapshot struct {
	version int64
	*lists
	ranges *rangeSet // nil: no high-risk ranges
	// domains holds the service-provider domains that have settings.
	domains map[string]*tfps.Domain
	rules   *ruleSet // nil: no fraud rules

	mu       sync.RWMutex
	accounts map[accountKey]*tfps.Account // nil value: unknown account
	complete bool                         // accounts holds every account: a miss is unknown, no query
}

// lists are the compiled blacklists, shared by snapshots while unchanged.
type lists struct {
	source []listEntry // what they were compiled from

	ua         *regexp.Regexp   // every pattern, one alternation; nil when none
	uaEach     []*regexp.Regexp // to name the pattern that matched
	uaSrc      []string
	ipExact    map[netip.Addr]string
	ipNets     []netip.Prefix
	numbers    map[string]struct{}
	maxNumber  int
	badEntries int

	// User agents repeat (a PBX's phones have a handful of them): the
	// answer of the regular expressions is remembered per string.
	uaMu   sync.RWMutex
	uaSeen map[string]string // user agent -> matching pattern, "" none
}

type listEntry struct {
	kind  tfps.BlacklistKind
	value string
}

func newSnapshot(version int64, l *lists) *snapshot {
	return &snapshot{version: version, lists: l, accounts: map[accountKey]*tfps.Account{}}
}

// sameSource reports whether entries are what l was compiled from.
func (l *lists) sameSource(entries []tfps.BlacklistEntry) bool {
	if l == nil || len(l.source) != len(entries) {
		return false
	}
	for i, en := range entries {
		if l.source[i] != (listEntry{en.Kind, en.Value}) {
			return false
		}
	}
	return true
}

// maxCachedUAs bounds the user-agent answers kept per snapshot.
const maxCachedUAs = 10_000

func compileLists(entries []tfps.BlacklistEntry, builtinUA bool, log *slog.Logger) *lists {
	s := &lists{
		ipExact: map[netip.Addr]string{},
		numbers: map[string]struct{}{},
		uaSeen:  map[string]string{},
	}
	for _, en := range entries {
		s.source = append(s.source, listEntry{en.Kind, en.Value})
	}
	var patterns []string
	if builtinUA {
		patterns = append(patterns, BuiltinUserAgents...)
	}
	for _, en := range entries {
		switch en.Kind {
		case tfps.BlacklistUserAgent:
			patterns = append(patterns, en.Value)
		case tfps.BlacklistIP:
			if p, err := netip.ParsePrefix(en.Value); err == nil {
				if p.IsSingleIP() {
					s.ipExact[p.Addr().Unmap()] = en.Value
				} else {
					s.ipNets = append(s.ipNets, p.Masked())
				}
			} else if a, err := netip.ParseAddr(en.Value); err == nil {
				s.ipExact[a.Unmap()] = en.Value
			} else {
				s.badEntries++
				log.Warn("ignore blacklist entry", "kind", en.Kind, "value", en.Value, "err", "neither an IP address nor a CIDR")
			}
		case tfps.BlacklistNumber:
			v := digitsOnly(en.Value)
			if v == "" {
				s.badEntries++
				log.Warn("ignore blacklist entry", "kind", en.Kind, "value", en.Value, "err", "no digits")
				continue
			}
			s.numbers[v] = struct{}{}
			s.maxNumber = max(s.maxNumber, len(v))
		}
	}
	var alt []string
	for _, p := range patterns {
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			s.badEntries++
			log.Warn("ignore blacklist entry", "kind", tfps.BlacklistUserAgent, "value", p, "err", err)
			continue
		}
		s.uaEach = append(s.uaEach, re)
		s.uaSrc = append(s.uaSrc, p)
		alt = append(alt, "(?:"+p+")")
	}
	if len(alt) > 0 {
		s.ua = regexp.MustCompile("(?i)" + strings.Join(alt, "|"))
	}
	return s
}

// matchUA returns the pattern ua matches, "" when none.
func (s *lists) matchUA(ua string) string {
	if s.ua == nil || ua == "" {
		return ""
	}
	s.uaMu.RLock()
	p, ok := s.uaSeen[ua]
	s.uaMu.RUnlock()
	if ok {
		return p
	}
	p = s.matchUASlow(ua)
	s.uaMu.Lock()
	if len(s.uaSeen) >= maxCachedUAs {
		clear(s.uaSeen)
	}
	s.uaSeen[ua] = p
	s.uaMu.Unlock()
	return p
}

func (s *lists) matchUASlow(ua string) string {
	if !s.ua.MatchString(ua) {
		return ""
	}
	for i, re := range s.uaEach {
		if re.MatchString(ua) {
			return s.uaSrc[i]
		}
	}
	return "?"
}

func (s *lists) matchIP(a netip.Addr) (string, bool) {
	a = a.Unmap()
	if v, ok := s.ipExact[a]; ok {
		return v, true
	}
	for _, p := range s.ipNets {
		if p.Contains(a) {
			return p.String(), true
		}
	}
	return "", false
}

// matchNumber matches the dialled number against the number prefixes,
// longest first: its digits as dialled ("+" ignored), and, for a number
// dialled with 00 or 011, also the digits after that prefix, so an entry
// "44" catches +44..., 0044... and 01144... alike.
func (s *lists) matchNumber(number string) (string, bool) {
	if len(s.numbers) == 0 {
		return "", false
	}
	d := digitsOnly(number)
	if p, ok := s.matchPrefix(d); ok {
		return p, true
	}
	if rest, ok := strings.CutPrefix(d, "00"); ok {
		return s.matchPrefix(rest)
	}
	if rest, ok := strings.CutPrefix(d, "011"); ok {
		return s.matchPrefix(rest)
	}
	return "", false
}

func (s *lists) matchPrefix(d string) (string, bool) {
	for n := min(len(d), s.maxNumber); n > 0; n-- {
		if _, ok := s.numbers[d[:n]]; ok {
			return d[:n], true
		}
	}
	return "", false
}

func digitsOnly(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// account returns the cached account, loading it on a miss; nil, nil when
// unknown.
func (e *Engine) account(ctx context.Context, s *snapshot, user, domain string) (*tfps.Account, error) {
	k := accountKey{user, domain}
	s.mu.RLock()
	a, ok := s.accounts[k]
	s.mu.RUnlock()
	if ok || s.complete {
		return a, nil
	}
	// Concurrent misses for one account (a busy PBX right after a change)
	// share one SQL query. The version is part of the key: a caller on a
	// newer snapshot never takes an answer read before the change.
	// The query outlives one caller's cancellation (a CANCELled INVITE must
	// not fail the others waiting on it), within its own deadline.
	v, err, _ := e.loads.Do(strconv.FormatInt(s.version, 10)+"\x00"+user+"\x00"+domain, func() (any, error) {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), accountLoadTimeout)
		defer cancel()
		a, err := e.deps.Accounts.AccountByUser(qctx, user, domain)
		if tfps.ErrorCode(err) == tfps.ENOTFOUND {
			return (*tfps.Account)(nil), nil
		}
		return a, err
	})
	if err != nil {
		return nil, depError("accounts", fmt.Errorf("find account %s@%s: %w", user, domain, err))
	}
	a = v.(*tfps.Account)
	s.mu.Lock()
	if cur, ok := s.accounts[k]; ok {
		// RefreshAccount stored the account meanwhile: its read may
		// follow a change this one missed.
		a = cur
	} else {
		if len(s.accounts) >= maxCachedAccounts {
			clear(s.accounts)
		}
		s.accounts[k] = a
	}
	s.mu.Unlock()
	return a, nil
}

// RefreshAccount re-reads one account into the cache now (an unknown one
// is cached as unknown), leaving the lists and the other cached accounts
// as they are. A process that has just changed one account calls it
// instead of Refresh, which re-reads every cached account: the what-if
// replay does after each verification that changed an account. A change
// to the lists, number ranges, domains or rules needs Refresh.
func (e *Engine) RefreshAccount(ctx context.Context, user, domain string) error {
	e.loading.Lock()
	defer e.loading.Unlock()
	a, err := e.deps.Accounts.AccountByUser(ctx, user, domain)
	if tfps.ErrorCode(err) == tfps.ENOTFOUND {
		a, err = nil, nil
	}
	if err != nil {
		e.metrics.depErrors.WithLabelValues("accounts").Inc()
		return fmt.Errorf("refresh account %s@%s: %w", user, domain, depError("accounts", err))
	}
	s := e.snap.Load()
	k := accountKey{user, domain}
	s.mu.Lock()
	if _, ok := s.accounts[k]; !ok && len(s.accounts) >= maxCachedAccounts {
		clear(s.accounts)
	}
	s.accounts[k] = a
	s.mu.Unlock()
	return nil
}

// Refresh reloads the lists and re-reads the cached accounts now, whatever
// the change version says. The admin API calls it after its own changes so
// they apply at once on this gateway; other gateways notice within
// Options.CacheRefresh.
func (e *Engine) Refresh(ctx context.Context) error {
	v, err := e.deps.Changes.ChangeVersion(ctx)
	if err != nil {
		e.metrics.depErrors.WithLabelValues("changes").Inc()
		return fmt.Errorf("refresh engine cache: %w", depError("changes", err))
	}
	return e.load(ctx, v)
}

// maxRereadAccounts bounds the accounts re-read after a change; a cache
// holding more starts empty instead.
const maxRereadAccounts = 20_000

// load builds the snapshot of version: the lists (recompiled only if they
// changed) and the accounts the old snapshot held, re-read in bulk. Until it
// is stored, decisions go on with the old snapshot, so a change costs no
// decision a wait. Forgetting the accounts instead made every account's
// next decision wait for its own SQL query: on PostgreSQL under load, one
// admin change gave a 100-150 ms p99 for the next second.
func (e *Engine) load(ctx context.Context, version int64) error {
	e.loading.Lock()
	defer e.loading.Unlock()
	entries, err := e.deps.Lists.BlacklistEntries(ctx)
	if err != nil {
		e.metrics.depErrors.WithLabelValues("lists").Inc()
		return fmt.Errorf("load blacklists: %w", depError("lists", err))
	}
	old := e.snap.Load()
	var next *snapshot
	if old == nil || !old.sameSource(entries) {
		next = newSnapshot(version, compileLists(entries, e.opts.BuiltinUserAgents, e.log))
	} else {
		next = newSnapshot(version, old.lists)
	}
	if e.deps.Ranges != nil {
		ranges, allowed, err := e.deps.Ranges.RangeEntries(ctx)
		if err != nil {
			e.metrics.depErrors.WithLabelValues("lists").Inc()
			return fmt.Errorf("load number ranges: %w", depError("lists", err))
		}
		next.ranges = compileRanges(ranges, allowed)
	}
	if e.deps.Domains != nil {
		ds, err := e.deps.Domains.Domains(ctx)
		if err != nil {
			e.metrics.depErrors.WithLabelValues("lists").Inc()
			return fmt.Errorf("load domains: %w", depError("lists", err))
		}
		next.domains = make(map[string]*tfps.Domain, len(ds))
		for i := range ds {
			next.domains[ds[i].Domain] = &ds[i]
		}
	}
	if e.deps.Rules != nil {
		rules, err := e.deps.Rules.RuleEntries(ctx)
		if err != nil {
			e.metrics.depErrors.WithLabelValues("lists").Inc()
			return fmt.Errorf("load fraud rules: %w", depError("lists", err))
		}
		if old != nil && old.rules.sameSource(rules) {
			next.rules = old.rules
		} else {
			next.rules = compileRules(rules, e.log)
		}
	}
	if err := e.loadAccounts(ctx, old, next); err != nil {
		// The accounts are read one by one on their next decisions.
		e.metrics.depErrors.WithLabelValues("accounts").Inc()
		e.log.Warn("read accounts", "version", version, "err", err)
	}
	e.snap.Store(next)
	e.metrics.cacheLoads.Inc()
	return nil
}

// loadAccounts fills next: with every account when there are at most
// Options.PreloadAccounts (next is then complete: an unknown account needs
// no query either, which also keeps a scanner's invented names off the
// database), else with the current rows of the accounts old held.
//
// Without it a gateway restarted under load queried each account on its
// first call, all at once on cold connections: on PostgreSQL the first
// seconds had a p99 of 214-250 ms (100 accounts, 16 clients), 9.6-10 ms
// with it.
func (e *Engine) loadAccounts(ctx context.Context, old, next *snapshot) error {
	if n := e.opts.PreloadAccounts; n > 0 {
		all, err := e.deps.Accounts.SomeAccounts(ctx, n+1)
		if err != nil {
			return err
		}
		if len(all) <= n {
			for _, a := range all {
				next.accounts[accountKey{a.User, a.Domain}] = a
			}
			next.complete = true
			return nil
		}
	}
	if old == nil {
		return nil
	}
	return e.reread(ctx, old, next)
}

// reread fills next with the current rows of the accounts old holds (known
// and unknown alike: an unknown one may exist now).
func (e *Engine) reread(ctx context.Context, old, next *snapshot) error {
	old.mu.RLock()
	if len(old.accounts) == 0 || len(old.accounts) > maxRereadAccounts {
		old.mu.RUnlock()
		return nil
	}
	names := make([]tfps.AccountName, 0, len(old.accounts))
	for k := range old.accounts {
		names = append(names, tfps.AccountName{User: k.user, Domain: k.domain})
	}
	old.mu.RUnlock()
	found, err := e.deps.Accounts.AccountsByName(ctx, names)
	if err != nil {
		return err
	}
	for _, n := range names {
		next.accounts[accountKey{n.User, n.Domain}] = nil
	}
	for _, a := range found {
		next.accounts[accountKey{a.User, a.Domain}] = a
	}
	return nil
}

// watch polls the change version until ctx ends.
func (e *Engine) watch(ctx context.Context) {
	defer close(e.watchDone)
	t := time.NewTicker(e.opts.CacheRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := e.deps.Changes.ChangeVersion(ctx)
		if err != nil {
			if ctx.Err() == nil {
				e.metrics.depErrors.WithLabelValues("changes").Inc()
				e.log.Warn("poll change version", "err", err)
			}
			continue
		}
		if v == e.snap.Load().version {
			continue
		}
		if err := e.load(ctx, v); err != nil && ctx.Err() == nil {
			e.log.Warn("reload engine cache", "version", v, "err", err)
		}
	}
}
