package replay

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

func sig(i int) []byte { s := sha256.Sum256([]byte(fmt.Sprint(i))); return s[:] }

func TestReplayWithinWindow(t *testing.T) {
	skew := 15 * time.Minute
	c := New(skew, 0)
	t0 := time.Unix(1700000000, 0)
	if c.Seen("aws", sig(1), t0) {
		t.Fatal("first use reported as replay")
	}
	// A signature must be remembered for 2*skew after first use, whatever the
	// generation boundaries.
	for _, d := range []time.Duration{0, time.Second, skew, 2*skew - time.Second} {
		if !c.Seen("aws", sig(1), t0.Add(d)) {
			t.Fatalf("replay after %v not detected", d)
		}
	}
	if c.Seen("huawei", sig(1), t0.Add(time.Second)) {
		t.Fatal("namespaces are not separate")
	}
}

func TestRememberedAcrossRetirement(t *testing.T) {
	skew := time.Minute
	c := New(skew, 0)
	t0 := time.Unix(1700000000, 0)
	c.Seen("x", sig(0), t0)               // starts the generation at t0
	c.Seen("x", sig(1), t0.Add(2*skew-1)) // just before retirement
	if !c.Seen("x", sig(1), t0.Add(2*skew+skew)) {
		t.Fatal("signature forgotten at the first retirement")
	}
	if c.Seen("x", sig(2), t0.Add(10*skew)) {
		t.Fatal("new signature reported as replay")
	}
}

func TestBoundedMemory(t *testing.T) {
	c := New(time.Minute, 100)
	now := time.Unix(1700000000, 0)
	for i := 0; i < 1000; i++ {
		if c.Seen("x", sig(i), now) {
			t.Fatalf("signature %d reported as replay", i)
		}
	}
	if n := len(c.cur) + c.frozenN; n > 100+frozenFactor*100 {
		t.Fatalf("cache holds %d entries, bound is %d", n, 100+frozenFactor*100)
	}
	if c.Overflowed() == 0 {
		t.Fatal("overflow not counted")
	}
	// The most recent signatures are still remembered, frozen or not.
	for _, i := range []int{999, 950, 901, 500, 200} {
		if !c.Seen("x", sig(i), now) {
			t.Fatalf("recent signature %d forgotten", i)
		}
	}
}

// TestFrozenGenerationsRemember: a generation retired because it is full is
// not forgotten (it was, at once, the next time: a flood of one access key
// at the default rate limit let its signatures be replayed after ≈9
// minutes, within their skew). Eight full generations later every
// signature is still refused, and a frozen generation is forgotten only
// once its newest signature is 2*skew old.
func TestFrozenGenerationsRemember(t *testing.T) {
	const skew = time.Minute
	c := New(skew, 10)
	t0 := time.Unix(1700000000, 0)
	for i := range 80 {
		if c.Seen("x", sig(i), t0.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("signature %d reported as replay", i)
		}
	}
	if c.Overflowed() != 0 {
		t.Fatalf("%d generations forgotten within the bound", c.Overflowed())
	}
	now := t0.Add(2*skew - time.Second)
	for i := range 80 {
		if !c.Seen("x", sig(i), now) {
			t.Fatalf("signature %d forgotten within its window", i)
		}
	}
	// 2*skew after the newest first use of the full generations, they go.
	if c.Seen("x", sig(0), t0.Add(2*skew+time.Second)) {
		t.Fatal("a signature was remembered past its window")
	}
	if c.frozenN > 10 {
		t.Fatalf("%d signatures still frozen past their window", c.frozenN)
	}
}

func BenchmarkSeen(b *testing.B) {
	c := New(15*time.Minute, 0)
	now := time.Unix(1700000000, 0)
	sigs := make([][]byte, 4096)
	for i := range sigs {
		sigs[i] = sig(i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := sigs[i%len(sigs)]
		s[0] = byte(i >> 12)
		s[1] = byte(i >> 20)
		c.Seen("aws", s, now)
	}
}

func TestReplayedGrace(t *testing.T) {
	c := New(15*time.Minute, 0)
	signed := time.Unix(1700000000, 0)
	if c.Replayed("huawei", sig(7), signed, signed.Add(100*time.Millisecond)) {
		t.Fatal("first use is a replay")
	}
	// The same request again within the signing second: a repeat, accepted.
	if c.Replayed("huawei", sig(7), signed, signed.Add(900*time.Millisecond)) {
		t.Fatal("a repeat within the grace refused")
	}
	// Later than Grace after signing: a replay.
	if !c.Replayed("huawei", sig(7), signed, signed.Add(Grace+time.Millisecond)) {
		t.Fatal("a replay after the grace accepted")
	}
	// A signature first seen late is recorded, and refused if seen again.
	if c.Replayed("huawei", sig(8), signed, signed.Add(time.Minute)) {
		t.Fatal("first use is a replay")
	}
	if !c.Replayed("huawei", sig(8), signed, signed.Add(time.Minute+time.Second)) {
		t.Fatal("second use of a late signature accepted")
	}
}

// A client whose clock runs ahead signs a time in the future, which the
// skew window accepts. Its signature must not be repeatable until that time
// has come: the grace also runs from the signature's first use.
func TestReplayedFutureSignature(t *testing.T) {
	c := New(15*time.Minute, 0)
	now := time.Unix(1700000000, 0)
	signed := now.Add(10 * time.Minute) // inside the skew, ahead of us
	if c.Replayed("tencent", sig(9), signed, now) {
		t.Fatal("first use is a replay")
	}
	if c.Replayed("tencent", sig(9), signed, now.Add(time.Second)) {
		t.Fatal("a repeat within the grace of its first use refused")
	}
	for _, d := range []time.Duration{Grace + time.Millisecond, time.Minute, 9 * time.Minute} {
		if !c.Replayed("tencent", sig(9), signed, now.Add(d)) {
			t.Fatalf("a future-dated signature replayed %v after its first use accepted", d)
		}
	}
}

// TestOverflowIsReported: past the frozen generations' bound, the oldest
// is forgotten early, and its signatures could be replayed within their
// skew; that is never silent. OnOverflow is told how many, since when, and
// until when one of them could be sent again.
func TestOverflowIsReported(t *testing.T) {
	const skew = 15 * time.Minute
	c := New(skew, 4)
	var got []Overflow
	c.OnOverflow(func(o Overflow) { got = append(got, o) })
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	n := 4 + frozenFactor*4 + 1 // the current generation, the frozen bound, and one: the first generation goes
	for i := range n {
		if c.Seen("aws", sig(i), t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("signature %d seen before it was used", i)
		}
	}
	if c.Overflowed() != 1 || len(got) != 1 {
		t.Fatalf("overflowed %d, reported %d; want 1 and 1", c.Overflowed(), len(got))
	}
	o := got[0]
	// The first generation: signatures 0-3, first used at t0 … t0+3s.
	if o.Entries != 4 || !o.Since.Equal(t0) || !o.Retired.Equal(t0.Add(time.Duration(n-1)*time.Second)) || !o.Until.Equal(t0.Add(3*time.Second+2*skew)) {
		t.Fatalf("reported %+v", o)
	}
	// What it says is true: the first signatures are forgotten, the next kept.
	if c.Seen("aws", sig(0), t0.Add(time.Duration(n)*time.Second)) {
		t.Fatal("a forgotten signature was still remembered")
	}
	if !c.Seen("aws", sig(4), t0.Add(time.Duration(n)*time.Second)) {
		t.Fatal("a signature of the second generation was forgotten")
	}
}

// TestFrozenFutureSignatureNotRepeatable: a signature dated in the future
// (a client clock ahead, within the skew) whose generation was frozen is
// refused when sent again around its signed time, as in the current
// generation (TestReplayedFutureSignature): the frozen generation answers
// its oldest first use, not its newest, which would have stretched the
// grace (final review: it let the replay through ten minutes after the
// first use).
func TestFrozenFutureSignatureNotRepeatable(t *testing.T) {
	c := New(15*time.Minute, 2)
	t0 := time.Unix(1700000000, 0)
	signed := t0.Add(10 * time.Minute)
	if c.Replayed("aws", sig(1), signed, t0) {
		t.Fatal("first use refused")
	}
	c.Seen("aws", sig(2), signed.Add(-time.Second))
	c.Seen("aws", sig(3), signed.Add(-time.Second)) // the generation is full: frozen
	if !c.Replayed("aws", sig(1), signed, signed) {
		t.Fatal("a frozen future-dated signature was repeatable ten minutes after its first use")
	}
}

// TestFreezeSortsOutsideTheLock: freezing a full generation hands its map
// to a goroutine, which sorts it without the cache's lock; meanwhile its
// signatures are found in the map itself, each with its own first use, and
// once sorted in the frozen generation. Before, the sort ran under the lock
// (every signed request of the node waited ≈0.1 s a generation).
func TestFreezeSortsOutsideTheLock(t *testing.T) {
	const n = 200_000
	c := New(time.Minute, n)
	t0 := time.Unix(1700000000, 0)
	for i := range n {
		c.Seen("x", sig(i), t0.Add(time.Duration(i)))
	}
	c.mu.Lock()
	if len(c.cur) != n || c.pending != nil {
		c.mu.Unlock()
		t.Fatalf("before the generation is full: %d current, pending %v", len(c.cur), c.pending != nil)
	}
	c.mu.Unlock()
	// The next signature fills it: frozen, pending a sort.
	c.Seen("x", sig(n), t0.Add(time.Second))
	c.mu.Lock()
	p := c.pending
	if p == nil {
		c.mu.Unlock()
		t.Fatal("no generation pending: frozen in the caller's time")
	}
	// Until the sort is done, the cache answers from the map: each
	// signature with its own first use (once frozen, its generation's
	// oldest).
	c.mu.Unlock()
	for _, i := range []int{0, 7, n - 1} {
		first, seen := c.seen("x", sig(i), t0.Add(2*time.Second), true)
		if !seen {
			t.Fatalf("signature %d forgotten while its generation is frozen", i)
		}
		if want := t0.Add(time.Duration(i)); !first.Equal(want) && !first.Equal(t0) {
			t.Fatalf("signature %d: first use %v, want %v (pending) or %v (frozen)", i, first, want, t0)
		}
	}
	select {
	case <-p.built:
	case <-time.After(10 * time.Second):
		t.Fatal("the generation was never frozen")
	}
	c.mu.Lock()
	frozen, pending := len(c.frozen), c.pending
	c.mu.Unlock()
	if frozen != 1 || pending != nil {
		t.Fatalf("after the sort: %d frozen, pending %v", frozen, pending != nil)
	}
	for _, i := range []int{0, 7, n - 1} {
		if !c.Seen("x", sig(i), t0.Add(3*time.Second)) {
			t.Fatalf("signature %d forgotten once frozen", i)
		}
	}
}

// TestWouldReplayRecordsNothing: WouldReplay answers as Replayed would but
// leaves a new signature unrecorded (the pipeline looks before the key's
// budget and records after it), and sees what Replayed recorded.
func TestWouldReplayRecordsNothing(t *testing.T) {
	c := New(5*time.Minute, 0)
	t0 := time.Unix(1700000000, 0)
	signed := t0.Add(-10 * time.Second) // past Grace: a repeat is a replay
	for range 3 {
		if c.WouldReplay("aws", sig(1), signed, t0) {
			t.Fatal("a new signature looked at is a replay")
		}
	}
	if c.Replayed("aws", sig(1), signed, t0) {
		t.Fatal("WouldReplay recorded the signature")
	}
	if !c.WouldReplay("aws", sig(1), signed, t0.Add(time.Second)) || !c.Replayed("aws", sig(1), signed, t0.Add(time.Second)) {
		t.Fatal("a used signature is not a replay")
	}
	// Within Grace of its signing, a repeat is one, as for Replayed.
	c.Replayed("aws", sig(2), t0, t0)
	if c.WouldReplay("aws", sig(2), t0, t0.Add(time.Second)) {
		t.Fatal("a repeat within Grace refused")
	}
}
