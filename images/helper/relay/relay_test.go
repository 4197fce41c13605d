package main

// The relay against real network namespaces (root only): a "target" namespace made with
// `ip netns add`, holding echo servers bound to 127.0.0.1 or ::1 only, and the relay running in
// this test process, listening on loopback ports of the test's own namespace.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var nsCount atomic.Int32

// needRoot skips a test that needs root and iproute2, except under CI (CI set), where a skipped
// namespace test would let `go test` pass having tested nothing: there it fails instead.
func needRoot(t testing.TB) {
	t.Helper()
	skip := t.Skip
	if os.Getenv("CI") != "" {
		skip = t.Fatal
	}
	if os.Geteuid() != 0 {
		skip("needs root (creates network namespaces with `ip netns add` and enters them with setns)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip("needs the ip command (iproute2) to create network namespaces")
	}
}

// newNetns creates a network namespace with lo up; it is deleted when the test ends.
func newNetns(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("pfrelay-test-%d-%d", os.Getpid(), nsCount.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	if out, err := exec.Command("ip", "-n", name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", name, err, out)
	}
	return filepath.Join("/run/netns", name)
}

// inNetns runs f on a thread that has entered the namespace at path. Sockets f creates stay in
// that namespace; the thread is discarded afterwards (the goroutine exits locked).
func inNetns(t testing.TB, path string, f func()) {
	t.Helper()
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer syscall.Close(fd)
		if _, _, e := syscall.Syscall(sysSetns, uintptr(fd), syscall.CLONE_NEWNET, 0); e != 0 {
			done <- e
			return
		}
		f()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("entering %s: %v", path, err)
	}
}

func port(a net.Addr) int {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	}
	panic(a)
}

// tcpEcho listens on addr in the namespace and echoes every connection; when the client half-closes
// it sends the rest and half-closes too. It returns the port.
func tcpEcho(t *testing.T, ns, addr string) int {
	t.Helper()
	var ln net.Listener
	var err error
	inNetns(t, ns, func() { ln, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatalf("echo server on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// Through userspace on purpose: the server is not what is being tested.
				io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return port(ln.Addr())
}

// udpEcho echoes every datagram back to its sender from addr in the namespace.
func udpEcho(t *testing.T, ns, addr string) int {
	t.Helper()
	var pc net.PacketConn
	var err error
	inNetns(t, ns, func() { pc, err = net.ListenPacket("udp", addr) })
	if err != nil {
		t.Fatalf("udp echo server on %s: %v", addr, err)
	}
	pc.(*net.UDPConn).SetReadBuffer(4 << 20) // bursts of 60 KB datagrams from several clients
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, maxDatagram)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	return port(pc.LocalAddr())
}

// freePort returns a port nothing listens on in the namespace (TCP or UDP).
func freePort(t *testing.T, ns string) int {
	t.Helper()
	var ln net.Listener
	var err error
	inNetns(t, ns, func() { ln, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	p := port(ln.Addr())
	ln.Close()
	return p
}

// syncBuffer collects the relay's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testRelay struct {
	*relay
	logs *syncBuffer
}

func startRelay(t testing.TB, nsPath string, cfg config) *testRelay {
	t.Helper()
	ns, err := openNetns(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	t.Cleanup(func() {
		ns.Close()
		if t.Failed() {
			t.Logf("relay log:\n%s", logs)
		}
	})
	return &testRelay{newRelay(ns, cfg, newLogger(logs)), logs}
}

// tcp relays a new loopback port of the test's namespace to target; it returns the relay's address.
func (r *testRelay) tcp(t testing.TB, target int) string {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go r.serveTCP(ln, r.stats.port(spec{"tcp", port(ln.Addr()), target}))
	return ln.Addr().String()
}

func (r *testRelay) udp(t *testing.T, target int) (*udpRelay, string) {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	u := r.newUDP(pc, r.stats.port(spec{"udp", port(pc.LocalAddr()), target}))
	go u.serve()
	return u, pc.LocalAddr().String()
}

// echoOnce sends msg over a new connection and expects it back.
func echoOnce(t *testing.T, addr, msg string) {
	t.Helper()
	if err := tryEchoOnce(addr, msg); err != nil {
		t.Fatal(err)
	}
}

// tryEchoOnce is echoOnce for goroutines other than the test's.
func tryEchoOnce(addr, msg string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	return tryEcho(c, msg)
}

func echoOn(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if err := tryEcho(c, msg); err != nil {
		t.Fatal(err)
	}
}

func tryEcho(c net.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("echo of %q: %v", msg, err)
	}
	if string(got) != msg {
		return fmt.Errorf("echo: sent %q, got %q", msg, got)
	}
	return nil
}

// The target's port must not be reachable in the test's own namespace: otherwise a test could pass
// with a relay that dials the wrong namespace.
func notHere(t *testing.T, p int) {
	t.Helper()
	for _, a := range []string{"127.0.0.1", "[::1]"} {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", a, p), time.Second); err == nil {
			c.Close()
			t.Skipf("port %d happens to be open in the test's own namespace too; rerun", p)
		}
	}
}

func TestTCPEcho(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	target := tcpEcho(t, ns, "127.0.0.1:0")
	notHere(t, target)
	r := startRelay(t, ns, defaultConfig())
	addr := r.tcp(t, target)

	t.Run("short connections, 20 at once", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := tryEchoOnce(addr, fmt.Sprintf("hello %d", i)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	})

	t.Run("10 MB both ways with checksum, then half-close", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		data := make([]byte, 10<<20)
		rand.Read(data)
		want := sha256.Sum256(data)
		go func() {
			c.Write(data)
			// Half-close: the echo server sees EOF, sends the rest, and closes its side; the relay
			// must carry both the FIN and the remaining bytes.
			c.(*net.TCPConn).CloseWrite()
		}()
		h := sha256.New()
		n, err := io.Copy(h, c) // to EOF: only reached if the relay passed the server's FIN back
		if err != nil {
			t.Fatalf("after %d bytes: %v", n, err)
		}
		if n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("got %d bytes back (want %d), checksum match: %v", n, len(data), bytes.Equal(h.Sum(nil), want[:]))
		}
	})

	t.Run("a client that resets does not disturb the relay", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		echoOn(t, c, "before reset")
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		echoOnce(t, addr, "still serving")
	})

	if len(r.conns) != 0 {
		time.Sleep(200 * time.Millisecond) // the relay closes its side right after the client
	}
	if n := len(r.conns); n != 0 {
		t.Errorf("%d connections still counted as open", n)
	}
}

func TestTCPFallsBackToIPv6Loopback(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	v6 := tcpEcho(t, ns, "[::1]:0") // bound to ::1 only: 127.0.0.1 refuses
	v4 := tcpEcho(t, ns, "127.0.0.1:0")
	notHere(t, v6)
	r := startRelay(t, ns, defaultConfig())
	a6, a4 := r.tcp(t, v6), r.tcp(t, v4)
	for i := range 3 { // the first one is refused on 127.0.0.1 first; then ::1 is tried first
		echoOnce(t, a6, fmt.Sprintf("to ::1, %d", i))
		echoOnce(t, a4, fmt.Sprintf("to 127.0.0.1, %d", i))
	}
	if strings.Contains(r.logs.String(), "cannot connect") {
		t.Errorf("a fallback was logged as an error:\n%s", r.logs)
	}
}

func TestTCPRefusedTargetClosesOnlyThatConnection(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	echo := tcpEcho(t, ns, "127.0.0.1:0")
	refused := freePort(t, ns)
	r := startRelay(t, ns, defaultConfig())
	good, bad := r.tcp(t, echo), r.tcp(t, refused)

	open, err := net.Dial("tcp", good) // an established connection through the same relay
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	echoOn(t, open, "first")

	// The relay accepts, finds that the target refuses, and resets the connection: so fast that
	// the reset may already have arrived when Dial returns.
	if c, err := net.Dial("tcp", bad); err == nil {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
			t.Fatalf("the connection to a refused target was not closed: read %d bytes, %v", n, err)
		}
		c.Close()
	}

	echoOn(t, open, "second") // the other connection is untouched
	echoOnce(t, good, "new")  // and new ones work
	logs := r.logs.String()
	if n := strings.Count(logs, "cannot connect"); n != 1 || !strings.Contains(logs, "connection refused") {
		t.Errorf("want one log line about the refused connect, got:\n%s", logs)
	}
}

func TestTCPMaxConns(t *testing.T) {
	r, addr := tcpRelayWith(t, func(c *config) { c.maxConns = 1 })

	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	echoOn(t, first, "holds the only slot")
	if second, err := net.Dial("tcp", addr); err == nil { // or reset before Dial returned
		second.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := second.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
			t.Fatalf("a connection over --max-conns was not closed: %v", err)
		}
		second.Close()
	}
	echoOn(t, first, "still works")
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.conns) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	echoOnce(t, addr, "slot free again")
	if !strings.Contains(r.logs.String(), "the maximum (--max-conns)") {
		t.Errorf("the refused connection was not logged:\n%s", r.logs)
	}
}

// udpExchange sends each message from c and expects each back, in any order.
func udpExchange(t *testing.T, c *net.UDPConn, msgs [][]byte) {
	t.Helper()
	if err := tryUDPExchange(c, msgs); err != nil {
		t.Fatal(err)
	}
}

// tryUDPExchange is udpExchange for goroutines other than the test's.
func tryUDPExchange(c *net.UDPConn, msgs [][]byte) error {
	for _, m := range msgs {
		if _, err := c.Write(m); err != nil {
			return err
		}
	}
	want := map[[32]byte]int{}
	for _, m := range msgs {
		want[sha256.Sum256(m)]++
	}
	buf := make([]byte, maxDatagram)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for range msgs {
		n, err := c.Read(buf)
		if err != nil {
			return fmt.Errorf("waiting for echoes from %v: %v (%d of %d datagrams missing)", c.LocalAddr(), err, len(want), len(msgs))
		}
		k := sha256.Sum256(buf[:n])
		if want[k] == 0 {
			return fmt.Errorf("unexpected datagram of %d bytes", n)
		}
		if want[k]--; want[k] == 0 {
			delete(want, k)
		}
	}
	return nil
}

func udpClient(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, ua) // connected: only the relay's address is accepted as a reply
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestUDPEcho(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	v4 := udpEcho(t, ns, "127.0.0.1:0")
	v6 := udpEcho(t, ns, "[::1]:0")
	r := startRelay(t, ns, defaultConfig())
	u4, a4 := r.udp(t, v4)
	u6, a6 := r.udp(t, v6)

	for _, tc := range []struct {
		name string
		u    *udpRelay
		addr string
	}{{"target on 127.0.0.1", u4, a4}, {"target on ::1 only", u6, a6}} {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			for i := range 5 { // five clients at once, each a stream of datagrams
				c := udpClient(t, tc.addr)
				wg.Add(1)
				go func() {
					defer wg.Done()
					msgs := [][]byte{bytes.Repeat([]byte{'x'}, 60000)} // boundaries and size kept
					for j := range 10 {
						msgs = append(msgs, fmt.Appendf(nil, "client %d datagram %d", i, j))
					}
					if err := tryUDPExchange(c, msgs); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if n := tc.u.sessionCount(); n != 5 {
				t.Errorf("%d sessions, want one per client (5)", n)
			}
		})
	}
}

func TestUDPSessionsExpireAndTheLeastRecentlyUsedMakesRoom(t *testing.T) {
	r, u, addr := udpRelayWith(t, func(c *config) {
		c.udpIdle = 300 * time.Millisecond
		c.maxSessions = 2
	})

	a, b, c := udpClient(t, addr), udpClient(t, addr), udpClient(t, addr)
	udpExchange(t, a, [][]byte{[]byte("a")})
	udpExchange(t, b, [][]byte{[]byte("b")})
	udpExchange(t, a, [][]byte{[]byte("a, used after b")})
	// At the cap, a third client ends the least recently used session (b's), not its own chance.
	udpExchange(t, c, [][]byte{[]byte("c: over the cap")})
	if n, total := u.sessionCount(), r.sessions.Load(); n != 2 || total != 2 {
		t.Fatalf("%d sessions here, %d in all; want 2 (the cap)", n, total)
	}
	if want := "ended the least recently used one (" + b.LocalAddr().String(); !strings.Contains(r.logs.String(), want) {
		t.Errorf("want %q in the log:\n%s", want, r.logs)
	}
	udpExchange(t, a, [][]byte{[]byte("a kept its session")})

	// Client a stays active across several idle periods; c goes idle and its session ends.
	for range 5 {
		time.Sleep(100 * time.Millisecond)
		udpExchange(t, a, [][]byte{[]byte("a again")})
	}
	if n := u.sessionCount(); n != 1 {
		t.Fatalf("%d sessions after c was idle, want 1 (a's)", n)
	}
	time.Sleep(700 * time.Millisecond)
	if n, total := u.sessionCount(), r.sessions.Load(); n != 0 || total != 0 {
		t.Fatalf("sessions after everyone was idle: %d here, %d in all; want 0", n, total)
	}
	if n := r.sessionFrom.count(netip.MustParseAddr("127.0.0.1")); n != 0 {
		t.Fatalf("127.0.0.1 still counts %d sessions after all ended", n)
	}
}

// Only the namespace goroutine's thread may ever be in the target namespace, even after the
// runtime has started new threads while the relay worked (it must start them from its template
// thread, not clone the locked one). After Close that thread is gone.
func TestNoOtherThreadEntersTheTarget(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	echo := tcpEcho(t, ns, "127.0.0.1:0")
	own, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(ns)
	if err != nil {
		t.Fatal(err)
	}
	targetIno := st.Sys().(*syscall.Stat_t).Ino
	inTarget := func() int {
		n := 0
		tasks, _ := filepath.Glob("/proc/self/task/*/ns/net")
		for _, f := range tasks {
			var s syscall.Stat_t
			if syscall.Stat(f, &s) == nil && s.Ino == targetIno {
				n++
			}
		}
		return n
	}
	r := startRelay(t, ns, defaultConfig())
	addr := r.tcp(t, echo)
	// Many goroutines blocked in syscalls at once make the runtime start threads.
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tryEchoOnce(addr, fmt.Sprint("load ", i)); err != nil {
				t.Error(err)
			}
			time.Sleep(time.Millisecond)
		}()
	}
	wg.Wait()
	if n := inTarget(); n != 1 {
		t.Errorf("%d threads of this process are in the target namespace, want 1 (the relay's)", n)
	}
	if self, _ := os.Readlink("/proc/thread-self/ns/net"); self != own {
		t.Errorf("the test goroutine's thread moved to %s", self)
	}
	r.ns.Close()
	deadline := time.Now().Add(5 * time.Second)
	for inTarget() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := inTarget(); n != 0 {
		t.Errorf("%d threads still in the target namespace after Close", n)
	}
}

func TestRun(t *testing.T) {
	t.Run("bad arguments exit 2", func(t *testing.T) {
		for _, args := range [][]string{
			{"tcp:1:2"},                             // no --netns
			{"--netns", "/x"},                       // no ports
			{"--netns", "/x", "sctp:1:2"},           // protocol
			{"--netns", "/x", "tcp:0:2"},            // port 0
			{"--netns", "/x", "tcp:1:65536"},        // too high
			{"--netns", "/x", "tcp:01:2"},           // not canonical
			{"--netns", "/x", "tcp:1"},              // no target
			{"--netns", "/x", "tcp:1:2", "tcp:1:3"}, // twice
			{"--netns", "/x", "--udp-idle", "0s", "udp:1:2"},
		} {
			var out, errs bytes.Buffer
			if code := run(args, &out, &errs, nil); code != 2 {
				t.Errorf("%q: exit %d, want 2 (%s)", args, code, errs.String())
			}
		}
	})
	t.Run("the same port once per protocol", func(t *testing.T) {
		specs, err := parseSpecs([]string{"tcp:53:53", "udp:53:53", "tcp:10080:80"})
		if err != nil || len(specs) != 3 || specs[2] != (spec{"tcp", 10080, 80}) {
			t.Fatalf("%v %v", specs, err)
		}
	})

	needRoot(t)
	ns := newNetns(t)
	echo := tcpEcho(t, ns, "127.0.0.1:0")
	uecho := udpEcho(t, ns, "127.0.0.1:0")

	t.Run("a namespace that cannot be entered exits 1", func(t *testing.T) {
		var out bytes.Buffer
		if code := run([]string{"--netns", "/nonexistent", "tcp:1:2"}, &out, &out, nil); code != 1 {
			t.Fatalf("exit %d, want 1: %s", code, out.String())
		}
		if code := run([]string{"--netns", "/proc/self/ns/mnt", "tcp:1:2"}, &out, &out, nil); code != 1 {
			t.Fatalf("a mount namespace: exit %d, want 1: %s", code, out.String())
		}
	})

	t.Run("a port in use exits 1", func(t *testing.T) {
		busy, err := net.Listen("tcp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		var out bytes.Buffer
		code := run([]string{"--netns", ns, fmt.Sprintf("udp:%d:53", freeUDPPort(t)), fmt.Sprintf("tcp:%d:80", port(busy.Addr()))}, &out, &out, nil)
		if code != 1 || !strings.Contains(out.String(), "cannot listen on tcp port") {
			t.Fatalf("exit %d, want 1: %s", code, out.String())
		}
	})

	t.Run("relays on all addresses, one log line per listener, exits 0 on SIGTERM", func(t *testing.T) {
		tp, up := freeTCPPort(t), freeUDPPort(t)
		stop := make(chan os.Signal)
		out := &syncBuffer{}
		code := make(chan int)
		go func() {
			code <- run([]string{"--netns", ns, fmt.Sprintf("tcp:%d:%d", tp, echo), fmt.Sprintf("udp:%d:%d", up, uecho)}, out, out, stop)
		}()
		deadline := time.Now().Add(5 * time.Second)
		for strings.Count(out.String(), "\n") < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		for _, host := range []string{"127.0.0.1", "[::1]"} { // ":PORT" is dual-stack
			echoOnce(t, fmt.Sprintf("%s:%d", host, tp), "via run on "+host)
		}
		udpExchange(t, udpClient(t, fmt.Sprintf("127.0.0.1:%d", up)), [][]byte{[]byte("udp via run")})
		stop <- syscall.SIGTERM
		if c := <-code; c != 0 {
			t.Fatalf("exit %d after SIGTERM, want 0", c)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], fmt.Sprintf("pf-relay: relay tcp :%d -> target port %d", tp, echo)) ||
			!strings.HasPrefix(lines[1], fmt.Sprintf("pf-relay: relay udp :%d -> target port %d", up, uecho)) {
			t.Errorf("log:\n%s", out)
		}
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tp)); err == nil {
			c.Close()
			t.Error("still listening after SIGTERM")
		}
	})
}

func freeTCPPort(t *testing.T) int {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return port(ln.Addr())
}

func freeUDPPort(t *testing.T) int {
	pc, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return port(pc.LocalAddr())
}
