package audit

import (
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// authTable counts failed authentications per source until the writer
// summarises them. It holds at most max sources; past it, the others are
// counted together.
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
// through dialect, with the error code it got (reason). It writes nothing:
// the counts are summarised once per interval, one line per source (the
// package doc), so that unauthenticated clients cannot fill the disk.
func (l *Log) AuthFailure(source, dialect, reason string) {
	now := l.opts.Now()
	if len(source) > maxSourceLen {
		source = source[:maxSourceLen]
	}
	t := &l.auth
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

// summaries empties the table into one line per source, in source order,
// and one for the sources past the bound.
func (l *Log) summaries() []*entry {
	t := &l.auth
	t.mu.Lock()
	sources, others := t.sources, t.others
	t.sources, t.others = nil, nil
	t.mu.Unlock()
	names := slices.Collect(maps.Keys(sources))
	sort.Strings(names)
	var out []*entry
	for _, src := range names {
		out = append(out, l.summary(src, sources[src], "failed authentication"))
	}
	if others != nil {
		out = append(out, l.summary("", others, "failed authentication from sources past the table's bound"))
	}
	return out
}

func (l *Log) summary(source string, n *tally, what string) *entry {
	first, last := n.first.UTC(), n.last.UTC()
	rec := &Record{Time: last, SourceIP: source, Operation: opAuthFailures, Outcome: Error,
		Message: what, Count: n.count, First: &first, Last: &last, Dialects: n.dialects, Reasons: n.reasons}
	if source == "" {
		rec.SourceIP = otherSources
	}
	if len(n.dialects) == 1 {
		rec.Dialect = n.dialects[0]
	}
	return l.line(rec) // lost with its batch if that fails, and counted
}
