package state

import (
	"math"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// localLimiters are the token buckets of one process: the memory backend's,
// and the redis backend's fallback. At most max are kept, least recently
// used dropped first; a bucket that has refilled is dropped early, which
// changes nothing since a new one starts full.
type localLimiters struct {
	mu        sync.Mutex
	buckets   *simplelru.LRU[string, *bucket]
	nextSweep time.Time
}

type bucket struct {
	limit Limit
	lim   *rate.Limiter
}

// sweepEvery is how often refilled buckets are dropped.
const sweepEvery = 10 * time.Second

func newLocalLimiters(max int) *localLimiters {
	if max <= 0 {
		max = DefaultMaxLimiters
	}
	lru, err := simplelru.NewLRU[string, *bucket](max, nil)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &localLimiters{buckets: lru}
}

func (l *localLimiters) allow(key string, limit Limit, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.nextSweep) {
		l.sweep(now)
		l.nextSweep = now.Add(sweepEvery)
	}
	b, ok := l.buckets.Get(key)
	if !ok {
		b = &bucket{limit: limit, lim: rate.NewLimiter(rate.Limit(limit.PerSecond), limit.Burst)}
		l.buckets.Add(key, b)
	} else if b.limit != limit {
		// A reload changed the limit: the new bucket starts with what the
		// old one had used and not yet refilled (as GCRA in Redis does).
		used := float64(b.limit.Burst) - b.lim.TokensAt(now)
		b.limit, b.lim = limit, rate.NewLimiter(rate.Limit(limit.PerSecond), limit.Burst)
		if n := min(int(math.Ceil(used-1e-9)), limit.Burst); n > 0 {
			b.lim.ReserveN(now, n)
		}
	}
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Duration(float64(time.Second) / limit.PerSecond)
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep drops the least recently used buckets that are full again.
func (l *localLimiters) sweep(now time.Time) {
	for {
		k, b, ok := l.buckets.GetOldest()
		if !ok || b.lim.TokensAt(now) < float64(b.limit.Burst) {
			return
		}
		l.buckets.Remove(k)
	}
}

func (l *localLimiters) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buckets.Len()
}
