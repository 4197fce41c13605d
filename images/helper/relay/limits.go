package main

import (
	"net/netip"
	"sync"
)

// perSource counts what each client address holds (TCP connections, or UDP sessions) against a
// limit, so that one client cannot take every slot of a tunnel that others share.
type perSource struct {
	mu  sync.Mutex
	n   map[netip.Addr]int
	max int
}

func newPerSource(max int) *perSource { return &perSource{n: map[netip.Addr]int{}, max: max} }

// take counts one more for a, unless a holds max already.
func (p *perSource) take(a netip.Addr) bool {
	a = a.Unmap()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[a] >= p.max {
		return false
	}
	p.n[a]++
	return true
}

// give returns what take counted.
func (p *perSource) give(a netip.Addr) {
	a = a.Unmap()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n[a] <= 1 {
		delete(p.n, a)
		return
	}
	p.n[a]--
}

func (p *perSource) count(a netip.Addr) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[a.Unmap()]
}
