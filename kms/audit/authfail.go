package audit

import (
	"cmp"
	"hash/maphash"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// authTable counts refusals per source (failed authentications) or per
// access key (throttled requests) until the writer summarises them. It holds
// at most max of them; past it, the others are counted together. Of those it
// holds, the sources that failed most get a line each when summarised, the rest
// are folded into the others' line (summaries): the table bounds the
// memory, lines the bytes an interval writes.
type authTable struct {
	mu      sync.Mutex
	max     int
	lines   int
	sources map[string]*tally
	others  *tally
	// past holds the hashes of the sources past max, to count them apart
	// (the others' line says how many sources it stands for) without
	// keeping their names; at most maxPastSources, whose count is then a
	// floor. The seed is random, so that no client can choose sources
	// whose hashes collide.
	past map[uint64]struct{}
	seed maphash.Seed
}

type tally struct {
	count       int
	first, last time.Time
	dialects    []string
	reasons     map[string]int
	sources     int // the others' tally: the table's sources folded into it
}

// AuthFailure counts a request from source that failed authentication
// through dialect, with its failure's error code (reason: the code the
// client got, except from a source whose budget is spent, whose client the
// request pipeline answers with the throttling error). It writes nothing:
// the counts are summarised once per interval, one line per source (the
// package doc), so that unauthenticated clients cannot fill the disk.
func (l *Log) AuthFailure(source, dialect, reason string) {
	l.auth.count(l.opts.Now(), source, dialect, reason)
}

// Throttled counts a request of accessKeyID refused for its budget (the
// server's rate limit) through dialect, with the error code it got
// (reason). It writes nothing: like failed authentications, throttled
// requests are summarised once per interval, one line per access key, so
// that a client over its budget cannot spend the disk instead.
func (l *Log) Throttled(accessKeyID, dialect, reason string) {
	l.throttled.count(l.opts.Now(), accessKeyID, dialect, reason)
}

func (t *authTable) count(now time.Time, source, dialect, reason string) {
	if len(source) > maxSourceLen {
		source = source[:maxSourceLen]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.sources == nil {
		t.sources = map[string]*tally{}
	}
	n := t.sources[source]
	switch {
	case n != nil:
	case len(t.sources) < t.max:
		n = &tally{first: now, reasons: map[string]int{}}
		t.sources[source] = n
	default:
		if t.others == nil {
			t.others = &tally{first: now, reasons: map[string]int{}}
			t.past = map[uint64]struct{}{}
			if t.seed == (maphash.Seed{}) {
				t.seed = maphash.MakeSeed()
			}
		}
		n = t.others
		if len(t.past) < maxPastSources {
			t.past[maphash.String(t.seed, source)] = struct{}{}
		}
	}
	n.count++
	n.last = now
	n.dialect(dialect)
	n.reason(reason, 1)
}

func (n *tally) dialect(d string) {
	if !slices.Contains(n.dialects, d) && len(n.dialects) < maxDialects {
		n.dialects = append(n.dialects, d)
	}
}

// reason counts times refusals with the code r, under otherSources past
// maxReasons codes.
func (n *tally) reason(r string, times int) {
	if _, ok := n.reasons[r]; ok || len(n.reasons) < maxReasons {
		n.reasons[r] += times
	} else {
		n.reasons[otherSources] += times
	}
}

// fold adds a source's tally m to the others' tally n, within n's bounds.
func (n *tally) fold(m *tally) {
	n.count += m.count
	if m.first.Before(n.first) {
		n.first = m.first
	}
	if m.last.After(n.last) {
		n.last = m.last
	}
	for _, d := range m.dialects {
		n.dialect(d)
	}
	for _, r := range slices.Sorted(maps.Keys(m.reasons)) { // the codes kept past the bound do not depend on map order
		n.reason(r, m.reasons[r])
	}
	n.sources++
}

// summaries empties the tables into one line per source or access key, in
// their order, and one for each table's past its bound.
func (l *Log) summaries() []*entry {
	return append(l.auth.summaries(l, opAuthFailures), l.throttled.summaries(l, opThrottled)...)
}

func (t *authTable) summaries(l *Log, op string) []*entry {
	t.mu.Lock()
	sources, others, past := t.sources, t.others, len(t.past)
	t.sources, t.others, t.past = nil, nil, nil
	t.mu.Unlock()
	names := slices.Collect(maps.Keys(sources))
	if len(names) > t.lines {
		// The sources that failed most keep their line (then the first
		// seen): one that seeds the table early with a single failure from
		// each of many addresses cannot push a source guessing at
		// signatures into the others' line; it would need more failures
		// from each of lines sources, within each one's budget. At most
		// max (1024) to sort, once an interval.
		slices.SortFunc(names, func(a, b string) int {
			x, y := sources[a], sources[b]
			return cmp.Or(cmp.Compare(y.count, x.count), x.first.Compare(y.first), cmp.Compare(a, b))
		})
		if others == nil {
			first := sources[names[t.lines]].first
			others = &tally{first: first, last: first, reasons: map[string]int{}}
		}
		for _, src := range names[t.lines:] {
			others.fold(sources[src])
		}
		names = names[:t.lines]
	}
	sort.Strings(names)
	var out []*entry
	for _, src := range names {
		out = append(out, l.summary(op, src, sources[src]))
	}
	if others != nil {
		others.sources += past
		out = append(out, l.summary(op, "", others))
	}
	return out
}

// summary is the line of op's tally n for who: a source address (failed
// authentications) or an access key id (throttled requests); "" for those
// past the table's bound.
func (l *Log) summary(op, who string, n *tally) *entry {
	first, last := n.first.UTC(), n.last.UTC()
	rec := &Record{Time: last, Operation: op, Outcome: Error,
		Count: n.count, First: &first, Last: &last, Dialects: n.dialects, Reasons: n.reasons}
	if who == "" {
		who = otherSources
	}
	switch op {
	case opThrottled:
		rec.AccessKeyID, rec.Message = who, "requests refused for their access key's budget"
	default:
		rec.SourceIP, rec.Message = who, "failed authentication"
	}
	if who == otherSources {
		rec.Message += " (past the table's bound)"
		if op == opAuthFailures {
			rec.Sources = n.sources
		}
	}
	if len(n.dialects) == 1 {
		rec.Dialect = n.dialects[0]
	}
	return l.line(rec) // lost with its batch if that fails, and counted
}
