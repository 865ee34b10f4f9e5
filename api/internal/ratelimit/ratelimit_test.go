package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// TestBucket: a key has burst tokens, refilled at the rate; keys are
// independent; Spent takes nothing.
func TestBucket(t *testing.T) {
	k := New(10, 20, 0)
	for i := range 20 {
		if !k.Allow("a", t0) {
			t.Fatalf("request %d of a burst of 20 refused", i+1)
		}
	}
	if k.Allow("a", t0) || !k.Spent("a", t0) {
		t.Fatal("the 21st request of the same instant was allowed")
	}
	if !k.Allow("b", t0) || k.Spent("b", t0) || k.Spent("c", t0) {
		t.Fatal("another key shares a's bucket")
	}
	// 100 ms refills one token.
	if !k.Allow("a", t0.Add(100*time.Millisecond)) || k.Allow("a", t0.Add(100*time.Millisecond)) {
		t.Fatal("the refill is not 10 a second")
	}
	// Spent takes nothing.
	later := t0.Add(time.Second)
	for range 100 {
		if k.Spent("a", later) {
			t.Fatal("Spent after a refill")
		}
	}
	if n := k.Len(); n != 2 {
		t.Fatalf("Len = %d; Spent must not make buckets", n)
	}
}

// TestBounded: the table holds at most maxKeys keys; a full bucket is
// forgotten when room is needed, a spending one is not; while the table is
// full of spending keys, the others share the overflow bucket, which Allow
// charges and Spent never reads.
func TestBounded(t *testing.T) {
	k := New(1, 2, 3)
	for i := range 3 {
		key := fmt.Sprint("k", i)
		k.Allow(key, t0)
		k.Allow(key, t0) // spent
	}
	if k.Len() != 3 {
		t.Fatalf("Len = %d", k.Len())
	}
	// Full of spending keys: newcomers share one bucket of 2.
	if !k.Allow("new1", t0) || !k.Allow("new2", t0) || k.Allow("new3", t0) {
		t.Fatal("the overflow bucket is not one bucket of 2")
	}
	// The overflow is spent, but it refuses only through Allow: Spent
	// reads a key's own bucket, which a key sharing the overflow has not.
	if k.Spent("new4", t0) || k.Spent("new1", t0) {
		t.Fatal("Spent of a key not held reads the overflow while the table is full")
	}
	if !k.Spent("k0", t0) {
		t.Fatal("Spent of a held, spent key is false while the table is full")
	}
	if k.Len() != 3 {
		t.Fatalf("the table grew past its bound: %d", k.Len())
	}
	// Two seconds later every bucket is full again: a newcomer's Allow
	// sweeps them, and gets a bucket of its own.
	later := t0.Add(2 * time.Second)
	if !k.Allow("new5", later) || k.Len() != 1 {
		t.Fatalf("after the refill: Len = %d; want the newcomer alone", k.Len())
	}
	// Sweeps are at most one a second: a table full again at once is not
	// swept again within the second.
	k2 := New(1000, 1, 1)
	k2.Allow("x", t0)
	k2.Allow("y", t0.Add(time.Millisecond)) // x's bucket is full again: swept, y gets it
	if k2.Len() != 1 || k2.Spent("y", t0.Add(time.Millisecond)) != true {
		t.Fatalf("first sweep: Len %d", k2.Len())
	}
	if k2.Allow("z", t0.Add(2*time.Millisecond)); k2.Len() != 1 {
		t.Fatal("z got a bucket")
	}
	if _, ok := k2.buckets["y"]; !ok {
		t.Fatal("a second sweep within the second")
	}
}

// TestConcurrent: Allow from many goroutines hands out exactly the burst.
func TestConcurrent(t *testing.T) {
	k := New(1, 100, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if k.Allow("a", t0) {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 100 {
		t.Fatalf("allowed %d of 400 at one instant; want the burst, 100", allowed)
	}
}
