package numbering

import "sync"

// Cache remembers recent answers of Lookup. A full parse costs tens of
// microseconds (libphonenumber's regular expressions); the gateway sees the
// same numbers again and again. Entries live in two generations of at most
// size/2 each: when the young one fills up it becomes the old one, so memory
// stays bounded and recently used numbers survive. Safe for concurrent use.
type Cache struct {
	mu       sync.Mutex
	young    map[cacheKey]cacheEntry
	old      map[cacheKey]cacheEntry
	capacity int // per generation
}

type cacheKey struct{ number, home string }

type cacheEntry struct {
	dest Destination
	err  error
}

// NewCache returns a Cache holding about size answers (at least 2).
func NewCache(size int) *Cache {
	half := max(size/2, 1)
	return &Cache{young: map[cacheKey]cacheEntry{}, capacity: half}
}

// Lookup is numbering.Lookup with memory.
func (c *Cache) Lookup(number, home string) (Destination, error) {
	k := cacheKey{number, home}
	c.mu.Lock()
	e, ok := c.young[k]
	if !ok {
		e, ok = c.old[k]
		if ok {
			c.put(k, e)
		}
	}
	c.mu.Unlock()
	if ok {
		return e.dest, e.err
	}
	d, err := Lookup(number, home)
	c.mu.Lock()
	c.put(k, cacheEntry{d, err})
	c.mu.Unlock()
	return d, err
}

func (c *Cache) put(k cacheKey, e cacheEntry) {
	if len(c.young) >= c.capacity {
		c.old, c.young = c.young, make(map[cacheKey]cacheEntry, len(c.young))
	}
	c.young[k] = e
}
