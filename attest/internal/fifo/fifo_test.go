package fifo

import (
	"sync"
	"testing"
)

func TestCache(t *testing.T) {
	c := New[int, string](3)
	for i := 0; i < 3; i++ {
		c.Put(i, "v")
	}
	c.Put(1, "other") // a held key keeps its first value, and its place
	if v, _ := c.Get(1); v != "v" || c.Len() != 3 {
		t.Fatalf("Get(1) = %q, Len %d", v, c.Len())
	}
	c.Put(3, "v") // forgets 0, the oldest
	c.Put(4, "v") // forgets 1
	for k, want := range map[int]bool{0: false, 1: false, 2: true, 3: true, 4: true} {
		if _, ok := c.Get(k); ok != want {
			t.Errorf("Get(%d) held %v; want %v", k, ok, want)
		}
	}
	if c.Len() != 3 {
		t.Fatalf("Len %d; want the bound, 3", c.Len())
	}
	c.Reset()
	if _, ok := c.Get(4); ok || c.Len() != 0 {
		t.Fatal("Reset kept entries")
	}
	c.Put(9, "v")
	if _, ok := c.Get(9); !ok || New[int, int](0).max != 1 {
		t.Fatal("after Reset, or a zero bound")
	}
}

func TestCacheConcurrent(t *testing.T) {
	c := New[int, int](16)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c.Put(g*1000+i, i)
				c.Get(i)
			}
		}(g)
	}
	wg.Wait()
	if c.Len() != 16 {
		t.Fatalf("Len %d; want 16", c.Len())
	}
}

func TestKeyOf(t *testing.T) {
	a := KeyOf("d", []byte("ab"), [][]byte{[]byte("c")})
	for name, k := range map[string]ChainKey{
		"boundary moved":  KeyOf("d", []byte("a"), [][]byte{[]byte("bc")}),
		"other domain":    KeyOf("e", []byte("ab"), [][]byte{[]byte("c")}),
		"one list":        KeyOf("d", []byte("abc"), nil),
		"order":           KeyOf("d", []byte("c"), [][]byte{[]byte("ab")}),
		"domain absorbed": KeyOf("dab", nil, [][]byte{[]byte("c")}),
	} {
		if k == a {
			t.Errorf("%s: same key", name)
		}
	}
	if KeyOf("d", []byte("ab"), [][]byte{[]byte("c")}) != a {
		t.Fatal("KeyOf is not a function of its input")
	}
}
