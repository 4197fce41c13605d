package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// netns creates sockets inside another network namespace, for use from any goroutine.
//
// A network namespace belongs to a thread, not to a process: setns(fd, CLONE_NEWNET) moves only
// the calling thread. A socket belongs to the namespace of the thread that created it, for its
// whole life, whichever thread uses it afterwards. So one dedicated goroutine, locked to its OS
// thread, enters the target's namespace once and then only calls socket(2) on request; the relay
// connects and uses those sockets from ordinary goroutines on ordinary threads.
//
// Why this is safe with Go's scheduler (checked against runtime/proc.go, Go 1.24-1.26):
//   - runtime.LockOSThread wires the goroutine to its thread: no other goroutine runs on that
//     thread while it is locked, so nothing else ever runs in the target's namespace, and this
//     goroutine never runs anywhere else.
//   - Threads the runtime starts while running on a locked thread are not cloned from it: newm
//     sees the locked M and hands the creation to the "template thread", which LockOSThread starts
//     beforehand if it is not running yet ("We're on a locked M ... We don't want to clone that
//     into another thread. Instead, ask a known-good thread to create the thread for us."). New
//     threads therefore never inherit the target's namespace.
//   - The goroutine never calls UnlockOSThread. When it returns while still locked (Close, or a
//     failed setns), the runtime terminates its thread instead of putting it back in the pool
//     ("If the calling goroutine exits without unlocking the thread, the thread will be
//     terminated."), so a thread in the wrong namespace is never reused.
//
// Only socket(2) runs on that thread, and it never blocks. connect(2) runs in the caller's
// goroutine, through the netpoller: a target whose accept queue is full stalls that one
// connection, not the dials of all the others.
type netns struct {
	path string
	fd   int         // the namespace, held open for the relay's life: no path to be reused
	reqs chan func() // run on the namespace's thread, one at a time
	done chan struct{}
}

type nsReply struct {
	fd, domain int
	err        error
}

var errNetnsClosed = errors.New("network namespace handle closed")

// openNetns opens the namespace file at path (a bind mount under /run/netns, or /proc/PID/ns/net)
// and enters it; see enterNetns.
func openNetns(path string) (*netns, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot open the network namespace %s: %w", path, err)
	}
	return enterNetns(fd, path)
}

// enterNetns starts the goroutine that lives in the namespace fd refers to, and takes ownership of
// fd (closed by Close, or at once when the namespace cannot be entered). path names it in messages.
func enterNetns(fd int, path string) (*netns, error) {
	n := &netns{path: path, fd: fd, reqs: make(chan func()), done: make(chan struct{})}
	entered := make(chan error)
	go n.serve(entered)
	if err := <-entered; err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return n, nil
}

// Close ends the namespace's goroutine, and with it its thread, and lets go of the namespace.
// Sockets already made keep working.
func (n *netns) Close() {
	select {
	case <-n.done:
	default:
		close(n.done)
		syscall.Close(n.fd)
	}
}

func (n *netns) serve(entered chan<- error) {
	runtime.LockOSThread()
	// Never unlocked: see the type's comment. Returning from here ends the thread.
	if _, _, errno := syscall.Syscall(sysSetns, uintptr(n.fd), syscall.CLONE_NEWNET, 0); errno != 0 {
		entered <- fmt.Errorf("cannot enter the network namespace %s: setns: %w (is it a network namespace, and has this process CAP_SYS_ADMIN?)", n.path, errno)
		return
	}
	entered <- nil
	for {
		select {
		case f := <-n.reqs:
			f()
		case <-n.done:
			return
		}
	}
}

// hasAddress reports whether an interface of the namespace carries one of ips. A netlink socket
// belongs to the namespace of the thread that made it, so this asks the namespace's own thread.
func (n *netns) hasAddress(ips []net.IP) (bool, error) {
	var addrs []net.Addr
	var err error
	if derr := n.do(func() { addrs, err = net.InterfaceAddrs() }); derr != nil {
		return false, derr
	}
	if err != nil {
		return false, fmt.Errorf("cannot list the addresses of %s: %v", n.path, err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			for _, ip := range ips {
				if ipn.IP.Equal(ip) {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

// makeSocket runs on the namespace's thread. The socket is blocking on purpose: net.FileConn
// duplicates it and makes the duplicate non-blocking for the netpoller (a non-blocking descriptor
// would make os.NewFile register it with the poller too).
// udpPort > 0 asks for a UDP socket whose family is chosen from the namespace's bound sockets.
func makeSocket(domain, typ, udpPort int) nsReply {
	if udpPort > 0 {
		domain = syscall.AF_INET
		if udpOnIPv6Only(udpPort) {
			domain = syscall.AF_INET6
		}
	}
	fd, err := syscall.Socket(domain, typ|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nsReply{fd: -1, err: os.NewSyscallError("socket", err)}
	}
	return nsReply{fd: fd, domain: domain}
}

// udpOnIPv6Only reports whether UDP port is bound (unconnected) on IPv6 and not on IPv4 in the
// namespace of the calling thread: then the target is reached at [::1], otherwise at 127.0.0.1
// (an IPv4 or dual-stack wildcard bind wins). A UDP connect cannot be refused, so the family is
// decided from the target's sockets, once per session. /proc/thread-self/net, unlike
// /proc/self/net (the main thread's), shows this thread's namespace.
func udpOnIPv6Only(port int) bool {
	return !udpBound("/proc/thread-self/net/udp", port) && udpBound("/proc/thread-self/net/udp6", port)
}

// udpBound reports whether a /proc/net/udp{,6} table has a socket bound to port with no peer (so
// not one of this relay's own connected sockets, whose local port may happen to be equal).
func udpBound(table string, port int) bool {
	return len(boundAddrs(table, port, "")) > 0
}

// boundAddrs returns the local addresses (hex, as the table shows them) of the sockets in a
// /proc/net/{tcp,udp}{,6} table that are bound to port with no peer and, unless state is "", in
// that state ("0A": a listening TCP socket).
func boundAddrs(table string, port int, state string) []string {
	data, err := os.ReadFile(table)
	if err != nil {
		return nil
	}
	local := fmt.Sprintf(":%04X", port)
	var addrs []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line) // sl local_address rem_address st ...
		if len(f) > 3 && strings.HasSuffix(f[1], local) && strings.HasSuffix(f[2], ":0000") && (state == "" || f[3] == state) {
			addrs = append(addrs, strings.TrimSuffix(f[1], local))
		}
	}
	return addrs
}

// Local addresses, as /proc/net shows them, at which the relay's connections to 127.0.0.1 or
// [::1] arrive: the loopback addresses, the wildcards, and IPv4 loopback mapped into IPv6.
var loopbackReachable = map[string]bool{
	"0100007F": true, "00000000": true, // 127.0.0.1, 0.0.0.0
	"00000000000000000000000001000000": true, "00000000000000000000000000000000": true, // ::1, ::
	"0000000000000000FFFF00000100007F": true, // ::ffff:127.0.0.1
}

// targetOpen reports whether something in the namespace of the calling thread takes what the relay
// sends to port on loopback: a listening TCP socket, or a bound UDP socket. It reads the kernel's
// socket tables and opens no connection, so a server that accepts only one client (a debugger)
// is not disturbed by the check.
func targetOpen(proto string, port int) bool {
	state := "0A"
	if proto == "udp" {
		state = ""
	}
	for _, table := range []string{proto, proto + "6"} {
		for _, addr := range boundAddrs("/proc/thread-self/net/"+table, port, state) {
			if loopbackReachable[addr] {
				return true
			}
		}
	}
	return false
}

// do runs f on the namespace's thread and waits until it has returned.
func (n *netns) do(f func()) error {
	finished := make(chan struct{})
	select {
	case n.reqs <- func() { f(); close(finished) }:
	case <-n.done:
		return errNetnsClosed
	}
	<-finished
	return nil
}

// targetOpen reports, from inside the namespace, whether the target takes proto traffic at port.
func (n *netns) targetOpen(proto string, port int) (bool, error) {
	var open bool
	err := n.do(func() { open = targetOpen(proto, port) })
	return open, err
}

// socket asks the namespace's thread for a socket and wraps it for the netpoller.
func (n *netns) socket(domain, typ, udpPort int) (net.Conn, int, error) {
	var r nsReply
	if err := n.do(func() { r = makeSocket(domain, typ, udpPort) }); err != nil {
		return nil, 0, err
	}
	if r.err != nil {
		return nil, 0, r.err
	}
	f := os.NewFile(uintptr(r.fd), "pf-relay-socket")
	c, err := net.FileConn(f) // a duplicate, non-blocking and registered with the netpoller
	f.Close()
	if err != nil {
		return nil, 0, err
	}
	return c, r.domain, nil
}

func loopback(domain, port int) syscall.Sockaddr {
	if domain == syscall.AF_INET6 {
		return &syscall.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}
	}
	return &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
}

func loopbackName(domain int) string {
	if domain == syscall.AF_INET6 {
		return "[::1]"
	}
	return "127.0.0.1"
}

// dialTCP connects to the namespace's loopback (AF_INET: 127.0.0.1, AF_INET6: ::1) at port.
// The result is an ordinary *net.TCPConn (TCP_NODELAY on, keep-alive on, as net.Dial's).
func (n *netns) dialTCP(domain, port int, deadline time.Time) (*net.TCPConn, error) {
	c, _, err := n.socket(domain, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	if err := connectTCP(tc, loopback(domain, port), deadline); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// connectTCP is a non-blocking connect(2) waited for by the netpoller, as net.Dial does it.
func connectTCP(c *net.TCPConn, sa syscall.Sockaddr, deadline time.Time) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	c.SetWriteDeadline(deadline)
	defer c.SetWriteDeadline(time.Time{})
	started := false
	var cerr error
	// RawConn.Write calls the function, and again each time the socket becomes writable, until it
	// returns true; the deadline ends the wait with os.ErrDeadlineExceeded.
	werr := rc.Write(func(fd uintptr) bool {
		if !started {
			started = true
			switch err := syscall.Connect(int(fd), sa); err {
			case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
				return false
			default:
				cerr = err
				return true
			}
		}
		v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
		if err != nil {
			cerr = err
			return true
		}
		switch e := syscall.Errno(v); e {
		case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
			return false
		case 0, syscall.EISCONN:
			// A wakeup may be stale (the socket reported writable when it was registered, before
			// connect): connected only once it has a peer.
			_, err := syscall.Getpeername(int(fd))
			return err == nil
		default:
			cerr = e
			return true
		}
	})
	if werr != nil {
		return werr
	}
	if cerr != nil {
		return os.NewSyscallError("connect", cerr)
	}
	return nil
}

// dialUDP returns a UDP socket of the namespace connected to its loopback at port, on IPv6 when the
// port is bound there only, and the family chosen.
func (n *netns) dialUDP(port int) (*net.UDPConn, int, error) {
	c, domain, err := n.socket(0, syscall.SOCK_DGRAM, port)
	if err != nil {
		return nil, 0, err
	}
	uc := c.(*net.UDPConn)
	rc, err := uc.SyscallConn()
	if err == nil {
		// A UDP connect only records the peer: it does not block.
		if cerr := rc.Control(func(fd uintptr) { err = syscall.Connect(int(fd), loopback(domain, port)) }); cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		uc.Close()
		return nil, 0, os.NewSyscallError("connect", err)
	}
	return uc, domain, nil
}
