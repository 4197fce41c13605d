package main

import (
	"container/list"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

// udpRelay relays one UDP port. Each client address:port gets a session: a UDP socket in the
// target's namespace connected to the target's loopback. Datagrams from the client go out on the
// session's socket; the target's replies come back on it and are sent to the client from the
// listening socket, so the client sees them come from the address it sent to. A session ends after
// cfg.udpIdle without a datagram either way; when cfg.maxSessions are open, a new client ends the
// least recently used session rather than being turned away (an idle flood cannot lock out the
// next real client), and one client address may hold at most cfg.maxSessionsPerSource.
type udpRelay struct {
	r      *relay
	pc     *net.UDPConn
	st     *portStats
	port   int // the target's
	mu     sync.Mutex
	byAddr map[netip.AddrPort]*udpSession
	lru    *list.List // of *udpSession, the most recently used first
	closed bool
}

type udpSession struct {
	client netip.AddrPort
	conn   *net.UDPConn
	last   time.Time     // of the last datagram either way; guarded by udpRelay.mu
	elem   *list.Element // in udpRelay.lru; guarded by udpRelay.mu
}

// maxDatagram holds any UDP payload (65507 bytes over IPv4, 65527 over IPv6): never truncated.
const maxDatagram = 65536

// Buffers for replies, taken only while a datagram is being read: idle sessions hold none, so
// thousands of sessions cost sockets and small goroutine stacks, not 64 KiB each.
var bufPool = sync.Pool{New: func() any { b := make([]byte, maxDatagram); return &b }}

func (r *relay) newUDP(pc *net.UDPConn, st *portStats) *udpRelay {
	pc.SetReadBuffer(4 << 20) // best effort: bursts from many clients; capped by net.core.rmem_max
	return &udpRelay{r: r, pc: pc, st: st, port: st.spec.target, byAddr: map[netip.AddrPort]*udpSession{}, lru: list.New()}
}

func (u *udpRelay) listenPort() int { return u.pc.LocalAddr().(*net.UDPAddr).Port }

// serve reads the listening socket until it is closed, then ends every session.
func (u *udpRelay) serve() {
	defer u.closeSessions()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := u.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			u.r.log.errorf("udp :%d: read: %v", u.listenPort(), err)
			continue
		}
		s := u.session(from)
		if s == nil {
			continue // logged and counted
		}
		if _, err := s.conn.Write(buf[:n]); err != nil {
			// ECONNREFUSED: an earlier datagram met a closed port (ICMP); this one is not sent either.
			if errors.Is(err, syscall.ECONNREFUSED) {
				u.st.dropped[dropTargetClosed].Add(1)
				continue
			}
			u.st.dropped[dropSendError].Add(1)
			u.r.log.errorf("udp :%d: datagram from %v to target port %d: %v", u.listenPort(), from, u.port, err)
			continue
		}
		u.st.datagrams[toTarget].Add(1)
		u.st.bytes[toTarget].Add(uint64(n))
	}
}

// session returns the client's session, creating it if needed; nil when the client is over its
// limit or when the socket cannot be made. Only serve creates sessions, so there is no race to
// create one twice.
func (u *udpRelay) session(from netip.AddrPort) *udpSession {
	now := time.Now()
	u.mu.Lock()
	if s := u.byAddr[from]; s != nil {
		u.usedLocked(s, now)
		u.mu.Unlock()
		return s
	}
	u.mu.Unlock()
	u.st.opened.Add(1)
	if !u.r.sessionFrom.take(from.Addr()) {
		why := fmt.Sprintf("%v has %d sessions open, the maximum per client (--max-udp-sessions-per-source)", from.Addr(), u.r.cfg.maxSessionsPerSource)
		u.r.log.errorf("udp :%d: %s: dropped a datagram from its new port %d", u.listenPort(), why, from.Port())
		u.refuse(limitSessionsPerSource, why)
		return nil
	}
	if u.r.sessions.Add(1) > int64(u.r.cfg.maxSessions) && !u.evictOldest(from) {
		u.release(from)
		why := fmt.Sprintf("%d sessions open, the maximum (--max-udp-sessions), none on this port", u.r.cfg.maxSessions)
		u.r.log.errorf("udp :%d: %s: dropped a datagram from new client %v", u.listenPort(), why, from)
		u.refuse(limitSessions, why)
		return nil
	}
	conn, _, err := u.r.ns.dialUDP(u.port)
	if err != nil {
		u.release(from)
		why := fmt.Sprintf("cannot open a socket to target port %d (%v)", u.port, err)
		u.r.log.errorf("udp :%d: %s for client %v", u.listenPort(), why, from)
		u.st.dropped[dropFailed].Add(1)
		u.st.fail(udpError(u.st, why))
		return nil
	}
	s := &udpSession{client: from, conn: conn, last: now}
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		conn.Close()
		u.release(from)
		return nil
	}
	s.elem = u.lru.PushFront(s)
	u.byAddr[from] = s
	u.st.active.Add(1)
	u.mu.Unlock()
	go u.replies(s)
	return s
}

// usedLocked marks a datagram on s, either way.
func (u *udpRelay) usedLocked(s *udpSession, now time.Time) {
	s.last = now
	if s.elem != nil {
		u.lru.MoveToFront(s.elem)
	}
}

// evictOldest ends this port's least recently used session to make room for newcomer; false when
// the port has none.
func (u *udpRelay) evictOldest(newcomer netip.AddrPort) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	back := u.lru.Back()
	if back == nil {
		return false
	}
	s := back.Value.(*udpSession)
	u.removeLocked(s)
	s.conn.Close()
	u.r.log.errorf("udp :%d: %d sessions open, the maximum (--max-udp-sessions): ended the least recently used one (%v, idle %v) for new client %v", u.listenPort(), u.r.cfg.maxSessions, s.client, time.Since(s.last).Round(time.Millisecond), newcomer)
	return true
}

// removeLocked forgets s and gives back what it counted.
func (u *udpRelay) removeLocked(s *udpSession) {
	if u.byAddr[s.client] != s {
		return
	}
	delete(u.byAddr, s.client)
	u.lru.Remove(s.elem)
	u.st.active.Add(-1)
	u.release(s.client)
}

// refuse counts a new session a limit turned away, and its datagram dropped.
func (u *udpRelay) refuse(l limit, why string) {
	u.st.dropped[dropRefused].Add(1)
	u.st.refuse(l, udpError(u.st, why))
}

// udpError is the message a session error leaves in the metrics (and the PortForward's status).
func udpError(st *portStats, why string) string {
	return fmt.Sprintf("port %d/UDP: %s", st.spec.listen, why)
}

func (u *udpRelay) release(client netip.AddrPort) {
	u.r.sessions.Add(-1)
	u.r.sessionFrom.give(client.Addr())
}

// replies sends the target's datagrams back to the session's client until the session has been
// idle for cfg.udpIdle, or is closed.
func (u *udpRelay) replies(s *udpSession) {
	rc, err := s.conn.SyscallConn()
	if err != nil {
		u.end(s, true)
		return
	}
	for {
		u.mu.Lock()
		deadline := s.last.Add(u.r.cfg.udpIdle)
		u.mu.Unlock()
		s.conn.SetReadDeadline(deadline)
		var n int
		var rerr error
		var bp *[]byte
		// RawConn.Read waits for the socket to be readable before calling again, so the buffer is
		// taken only when a datagram is there.
		err := rc.Read(func(fd uintptr) bool {
			bp = bufPool.Get().(*[]byte)
			for {
				n, rerr = syscall.Read(int(fd), *bp)
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				bufPool.Put(bp)
				return false
			}
			return true
		})
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if u.end(s, false) {
					return
				}
				continue // a datagram from the client moved the deadline
			}
			return // closed by closeSessions
		}
		if rerr != nil {
			bufPool.Put(bp)
			if errors.Is(rerr, syscall.ECONNREFUSED) { // ICMP port unreachable: nothing listens (yet)
				u.st.dropped[dropTargetClosed].Add(1)
			} else {
				u.r.log.errorf("udp :%d: reading the target's reply for %v: %v", u.listenPort(), s.client, rerr)
			}
			continue
		}
		u.mu.Lock()
		u.usedLocked(s, time.Now())
		u.mu.Unlock()
		if _, err := u.pc.WriteToUDPAddrPort((*bp)[:n], s.client); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				u.st.dropped[dropReplyError].Add(1)
				u.r.log.errorf("udp :%d: reply to %v: %v", u.listenPort(), s.client, err)
			}
		} else {
			u.st.datagrams[toClient].Add(1)
			u.st.bytes[toClient].Add(uint64(n))
		}
		bufPool.Put(bp)
	}
}

// end removes the session if it has been idle long enough (or always, with force), under the lock
// that serve takes to find a session and mark it used: a session is never closed while serve has
// just picked it for a datagram.
func (u *udpRelay) end(s *udpSession, force bool) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !force && time.Since(s.last) < u.r.cfg.udpIdle {
		return false
	}
	u.removeLocked(s)
	s.conn.Close()
	return true
}

func (u *udpRelay) closeSessions() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	for _, s := range u.byAddr {
		s.conn.Close()
		u.removeLocked(s)
	}
}

// sessionCount is for tests.
func (u *udpRelay) sessionCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.byAddr)
}
