package main

import (
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// idleCloser closes TCP connections that carried no data either way for cfg.idleTimeout. The bytes
// move by splice(2), never through this process, so it asks the kernel instead: TCP_INFO's
// tcpi_last_data_recv and tcpi_last_data_sent on the client's socket say how long ago data last
// came in and went out. One goroutine sweeps every connection; nothing is added to the data path.
type idleCloser struct {
	timeout time.Duration
	mu      sync.Mutex
	conns   map[*net.TCPConn]func() // the client's socket -> closes the pair
}

func newIdleCloser(timeout time.Duration) *idleCloser {
	ic := &idleCloser{timeout: timeout, conns: map[*net.TCPConn]func(){}}
	if timeout > 0 {
		go ic.sweep(min(max(timeout/10, 50*time.Millisecond), 30*time.Second))
	}
	return ic
}

func (ic *idleCloser) track(client *net.TCPConn, closePair func()) {
	if ic.timeout <= 0 {
		return
	}
	ic.mu.Lock()
	ic.conns[client] = closePair
	ic.mu.Unlock()
}

func (ic *idleCloser) forget(client *net.TCPConn) {
	ic.mu.Lock()
	delete(ic.conns, client)
	ic.mu.Unlock()
}

func (ic *idleCloser) sweep(every time.Duration) {
	for range time.Tick(every) {
		var idle []func()
		ic.mu.Lock()
		for c, closePair := range ic.conns {
			if d, ok := idleFor(c); ok && d >= ic.timeout {
				idle = append(idle, closePair)
				delete(ic.conns, c)
			}
		}
		ic.mu.Unlock()
		for _, closePair := range idle {
			closePair()
		}
	}
}

// tcpInfoHead is the start of Linux's struct tcp_info (include/uapi/linux/tcp.h), up to the fields
// read here; the kernel copies at most the length it is given.
type tcpInfoHead struct {
	state, caState, retransmits, probes, backoff, options, wscale, flags uint8
	rto, ato, sndMss, rcvMss                                             uint32
	unacked, sacked, lost, retrans, fackets                              uint32
	lastDataSent, lastAckSent, lastDataRecv, lastAckRecv                 uint32 // milliseconds ago
}

// idleFor is how long ago c last sent or received data; false when the kernel cannot say.
func idleFor(c *net.TCPConn) (time.Duration, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info tcpInfoHead
	var errno syscall.Errno
	rc.Control(func(fd uintptr) {
		size := uint32(unsafe.Sizeof(info))
		_, _, errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
	})
	if errno != 0 {
		return 0, false
	}
	return time.Duration(min(info.lastDataSent, info.lastDataRecv)) * time.Millisecond, true
}
