package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// countChunk is the most bytes one copy moves before they are counted: internal/poll's own limit
// for one splice(2) call, so counting costs at most one more splice call per MiB.
const countChunk = 1 << 20

// relay holds what all listeners share: the target namespace, the limits and the log.
type relay struct {
	ns          *netns
	cfg         config
	log         *logger
	conns       chan struct{} // one token per open TCP connection: at most cfg.maxConns
	connsFrom   *perSource    // open TCP connections per client address: at most cfg.maxConnsPerSource
	sessions    atomic.Int64  // open UDP sessions, over all ports
	sessionFrom *perSource    // open UDP sessions per client address, over all ports
	idle        *idleCloser
	stats       *stats
}

func newRelay(ns *netns, cfg config, log *logger) *relay {
	return &relay{
		ns: ns, cfg: cfg, log: log,
		conns:       make(chan struct{}, cfg.maxConns),
		connsFrom:   newPerSource(cfg.maxConnsPerSource),
		sessionFrom: newPerSource(cfg.maxSessionsPerSource),
		idle:        newIdleCloser(cfg.idleTimeout),
		stats:       &stats{},
	}
}

// serveTCP accepts connections on ln until it is closed, and relays each to st's target port.
func (r *relay) serveTCP(ln *net.TCPListener, st *portStats) {
	// Which loopback answered last: tried first for the next connection, so that a target bound to
	// ::1 only costs one refused connect once, not on every connection.
	var family atomic.Int32
	family.Store(syscall.AF_INET)
	backoff := time.Duration(0)
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: wait a little rather than spin, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			r.log.errorf("tcp :%d: accept: %v (retrying in %v)", st.spec.listen, err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		st.opened.Add(1)
		from := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
		select {
		case r.conns <- struct{}{}:
			if !r.connsFrom.take(from) {
				<-r.conns
				why := fmt.Sprintf("%v has %d connections open, the maximum per client (--max-conns-per-source)", from, r.cfg.maxConnsPerSource)
				r.log.errorf("tcp :%d: %s: reset its new one", st.spec.listen, why)
				st.refuse(limitConnsPerSource, tcpError(st, why))
				resetConn(c)
				continue
			}
			st.active.Add(1)
			go func() {
				defer func() { st.active.Add(-1); r.connsFrom.give(from); <-r.conns }()
				r.handleTCP(c, st, &family)
			}()
		default:
			why := fmt.Sprintf("%d connections open, the maximum (--max-conns)", r.cfg.maxConns)
			r.log.errorf("tcp :%d: %s: reset the connection from %v", st.spec.listen, why, c.RemoteAddr())
			st.refuse(limitConns, tcpError(st, why))
			resetConn(c)
		}
	}
}

// resetConn closes c with a reset: the client fails at once, and no TIME_WAIT is left here.
func resetConn(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// handleTCP connects to the target's loopback, trying the family that worked last first and the
// other one when that fails (a target bound to 127.0.0.1 only or to ::1 only), then relays.
func (r *relay) handleTCP(client *net.TCPConn, st *portStats, family *atomic.Int32) {
	port := st.spec.target
	deadline := time.Now().Add(r.cfg.dialTimeout)
	first := int(family.Load())
	target, err := r.ns.dialTCP(first, port, deadline)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, errNetnsClosed) {
		other := syscall.AF_INET6
		if first == syscall.AF_INET6 {
			other = syscall.AF_INET
		}
		t2, err2 := r.ns.dialTCP(other, port, deadline)
		if err2 == nil {
			target, err = t2, nil
			family.Store(int32(other))
		} else {
			err = errors.New(loopbackName(first) + ": " + err.Error() + "; " + loopbackName(other) + ": " + err2.Error())
		}
	}
	if err != nil {
		why := fmt.Sprintf("cannot connect to target port %d (%v)", port, err)
		r.log.errorf("tcp :%d: %s: closed the connection from %v", st.spec.listen, why, client.RemoteAddr())
		st.fail(tcpError(st, why))
		resetConn(client) // as the client would get from a refused port
		return
	}
	r.idle.track(client, func() { client.Close(); target.Close() })
	defer r.idle.forget(client)
	pipe(client, target, &st.bytes)
}

// tcpError is the message a connection error leaves in the metrics (and the PortForward's status).
func tcpError(st *portStats, why string) string {
	return fmt.Sprintf("port %d/TCP: %s", st.spec.listen, why)
}

// pipe copies both ways until both directions have ended, adding what it moved to bytes (indexed
// by direction). When one side ends its sending (EOF), the other side's sending is shut down
// (CloseWrite), so half-closed connections work; on an error (a reset) both connections are reset.
// Then both are closed.
//
// io.Copy(dst, src) between two *net.TCPConn moves the bytes with splice(2), never through this
// process's memory: io.Copy calls src.WriteTo(dst), which for a TCP destination falls back to
// genericWriteTo, that is dst.ReadFrom(tcpConnWithoutWriteTo{src}); TCPConn.readFrom calls
// spliceFrom, which handles a *TCPConn or tcpConnWithoutWriteTo source with poll.Splice: socket ->
// pipe -> socket, up to 1 MiB per call, the pipe from a pool (Go source: net/tcpsock.go,
// net/tcpsock_posix.go readFrom/writeTo, net/splice_linux.go, internal/poll/splice_linux.go).
// io.CopyN keeps that path: dst.ReadFrom gets an *io.LimitedReader of src, which spliceFrom
// unwraps. It returns after countChunk bytes, so a long transfer is counted as it goes.
func pipe(client, target *net.TCPConn, bytes *[2]atomic.Uint64) {
	var once sync.Once
	reset := func() {
		once.Do(func() {
			resetConn(client)
			resetConn(target)
		})
	}
	var wg sync.WaitGroup
	copyTo := func(dst, src *net.TCPConn, counted *atomic.Uint64) {
		defer wg.Done()
		for {
			n, err := io.CopyN(dst, src, countChunk)
			counted.Add(uint64(n))
			if err == io.EOF {
				dst.CloseWrite()
				return
			}
			if err != nil {
				reset()
				return
			}
		}
	}
	wg.Add(2)
	go copyTo(target, client, &bytes[toTarget])
	copyTo(client, target, &bytes[toClient])
	wg.Wait()
	client.Close()
	target.Close()
}
