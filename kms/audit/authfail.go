package audit

import (
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// authTable counts refusals per source (failed authentications) or per
// access key (throttled requests) until the writer summarises them. It holds
// at most max of them; past it, the others are counted together.
type authTable struct {
	mu      sync.Mutex
	max     int
	sources map[string]*tally
	others  *tally
}

type tally struct {
	count       int
	first, last time.Time
	dialects    []string
	reasons     map[string]int
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
		}
		n = t.others
	}
	n.count++
	n.last = now
	if !slices.Contains(n.dialects, dialect) && len(n.dialects) < maxDialects {
		n.dialects = append(n.dialects, dialect)
	}
	if _, ok := n.reasons[reason]; ok || len(n.reasons) < maxReasons {
		n.reasons[reason]++
	} else {
		n.reasons[otherSources]++
	}
}

// summaries empties the tables into one line per source or access key, in
// their order, and one for each table's past its bound.
func (l *Log) summaries() []*entry {
	return append(l.auth.summaries(l, opAuthFailures), l.throttled.summaries(l, opThrottled)...)
}

func (t *authTable) summaries(l *Log, op string) []*entry {
	t.mu.Lock()
	sources, others := t.sources, t.others
	t.sources, t.others = nil, nil
	t.mu.Unlock()
	names := slices.Collect(maps.Keys(sources))
	sort.Strings(names)
	var out []*entry
	for _, src := range names {
		out = append(out, l.summary(op, src, sources[src]))
	}
	if others != nil {
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
	}
	if len(n.dialects) == 1 {
		rec.Dialect = n.dialects[0]
	}
	return l.line(rec) // lost with its batch if that fails, and counted
}
