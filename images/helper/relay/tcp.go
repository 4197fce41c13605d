package main

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

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
}

func newRelay(ns *netns, cfg config, log *logger) *relay {
	return &relay{
		ns: ns, cfg: cfg, log: log,
		conns:       make(chan struct{}, cfg.maxConns),
		connsFrom:   newPerSource(cfg.maxConnsPerSource),
		sessionFrom: newPerSource(cfg.maxSessionsPerSource),
		idle:        newIdleCloser(cfg.idleTimeout),
	}
}

// serveTCP accepts connections on ln until it is closed, and relays each to port in the target.
func (r *relay) serveTCP(ln *net.TCPListener, port int) {
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
			r.log.errorf("tcp :%d: accept: %v (retrying in %v)", ln.Addr().(*net.TCPAddr).Port, err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		from := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
		select {
		case r.conns <- struct{}{}:
			if !r.connsFrom.take(from) {
				<-r.conns
				r.log.errorf("tcp :%d: %v has %d connections open, the maximum per client (--max-conns-per-source): reset its new one", ln.Addr().(*net.TCPAddr).Port, from, r.cfg.maxConnsPerSource)
				resetConn(c)
				continue
			}
			go func() {
				defer func() { r.connsFrom.give(from); <-r.conns }()
				r.handleTCP(c, port, &family)
			}()
		default:
			r.log.errorf("tcp :%d: %d connections open, the maximum (--max-conns): reset the connection from %v", ln.Addr().(*net.TCPAddr).Port, r.cfg.maxConns, c.RemoteAddr())
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
func (r *relay) handleTCP(client *net.TCPConn, port int, family *atomic.Int32) {
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
		r.log.errorf("tcp :%d: cannot connect to target port %d (%v): closed the connection from %v", client.LocalAddr().(*net.TCPAddr).Port, port, err, client.RemoteAddr())
		resetConn(client) // as the client would get from a refused port
		return
	}
	r.idle.track(client, func() { client.Close(); target.Close() })
	defer r.idle.forget(client)
	pipe(client, target)
}

// pipe copies both ways until both directions have ended. When one side ends its sending (EOF),
// the other side's sending is shut down (CloseWrite), so half-closed connections work; on an error
// (a reset) both connections are reset. Then both are closed.
//
// io.Copy(dst, src) between two *net.TCPConn moves the bytes with splice(2), never through this
// process's memory: io.Copy calls src.WriteTo(dst), which for a TCP destination falls back to
// genericWriteTo, that is dst.ReadFrom(tcpConnWithoutWriteTo{src}); TCPConn.readFrom calls
// spliceFrom, which handles a *TCPConn or tcpConnWithoutWriteTo source with poll.Splice: socket ->
// pipe -> socket, up to 1 MiB per call, the pipe from a pool (Go source: net/tcpsock.go,
// net/tcpsock_posix.go readFrom/writeTo, net/splice_linux.go, internal/poll/splice_linux.go).
func pipe(client, target *net.TCPConn) {
	var once sync.Once
	reset := func() {
		once.Do(func() {
			resetConn(client)
			resetConn(target)
		})
	}
	var wg sync.WaitGroup
	copyTo := func(dst, src *net.TCPConn) {
		defer wg.Done()
		if _, err := io.Copy(dst, src); err != nil {
			reset()
			return
		}
		dst.CloseWrite()
	}
	wg.Add(2)
	go copyTo(target, client)
	copyTo(client, target)
	wg.Wait()
	client.Close()
	target.Close()
}
