package main

// One client cannot take a shared tunnel: per-address caps on TCP connections and UDP sessions,
// and idle TCP connections closed, against real network namespaces (root only, as relay_test.go).

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// dialFrom connects to addr from the loopback address from (127.0.0.0/8 is all loopback).
func dialFrom(t *testing.T, from, addr string) (net.Conn, error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// relayWith starts a relay into a new namespace, with the default config changed by change; it
// returns the relay and the namespace, for the echo server the test puts there.
func relayWith(t *testing.T, change func(*config)) (*testRelay, string) {
	t.Helper()
	needRoot(t)
	ns := newNetns(t)
	cfg := defaultConfig()
	change(&cfg)
	return startRelay(t, ns, cfg), ns
}

// tcpRelayWith is relayWith to a TCP echo server on 127.0.0.1; it returns the relay and its address.
func tcpRelayWith(t *testing.T, change func(*config)) (*testRelay, string) {
	t.Helper()
	r, ns := relayWith(t, change)
	return r, r.tcp(t, tcpEcho(t, ns, "127.0.0.1:0"))
}

// udpRelayWith is tcpRelayWith for a UDP echo server.
func udpRelayWith(t *testing.T, change func(*config)) (*testRelay, *udpRelay, string) {
	t.Helper()
	r, ns := relayWith(t, change)
	u, addr := r.udp(t, udpEcho(t, ns, "127.0.0.1:0"))
	return r, u, addr
}

// refused says whether the relay reset or closed c at once instead of relaying.
func refused(c net.Conn) bool {
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !os.IsTimeout(err)
}

func TestTCPConnectionsPerSource(t *testing.T) {
	r, addr := tcpRelayWith(t, func(c *config) { c.maxConnsPerSource = 2 })

	var held []net.Conn
	for range 2 {
		c, err := dialFrom(t, "127.0.0.1", addr)
		if err != nil {
			t.Fatal(err)
		}
		echoOn(t, c, "within the cap")
		held = append(held, c)
	}
	if third, err := dialFrom(t, "127.0.0.1", addr); err == nil && !refused(third) {
		t.Fatal("a third connection from 127.0.0.1 was relayed over --max-conns-per-source=2")
	}
	other, err := dialFrom(t, "127.0.0.2", addr)
	if err != nil {
		t.Fatal(err)
	}
	echoOn(t, other, "another client is not held up")
	if !strings.Contains(r.logs.String(), "the maximum per client (--max-conns-per-source)") {
		t.Errorf("the refused connection was not logged:\n%s", r.logs)
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for r.connsFrom.count(netipOf("127.0.0.1")) > 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	again, err := dialFrom(t, "127.0.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	echoOn(t, again, "a closed connection gives its slot back")
}

func TestUDPSessionsPerSource(t *testing.T) {
	r, u, addr := udpRelayWith(t, func(c *config) { c.maxSessionsPerSource = 2 })

	a, b, c := udpClient(t, addr), udpClient(t, addr), udpClient(t, addr)
	udpExchange(t, a, [][]byte{[]byte("a")})
	udpExchange(t, b, [][]byte{[]byte("b")})
	c.Write([]byte("c: a third port of 127.0.0.1"))
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Read(make([]byte, 100)); err == nil {
		t.Fatal("a third session from 127.0.0.1 was relayed over --max-udp-sessions-per-source=2")
	}
	ua, _ := net.ResolveUDPAddr("udp", addr)
	other, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.2")}, ua)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	udpExchange(t, other, [][]byte{[]byte("another client is not held up")})
	udpExchange(t, a, [][]byte{[]byte("a still works")})
	if n := u.sessionCount(); n != 3 {
		t.Fatalf("%d sessions, want 3 (two from 127.0.0.1, one from 127.0.0.2)", n)
	}
	if !strings.Contains(r.logs.String(), "the maximum per client (--max-udp-sessions-per-source)") {
		t.Errorf("the dropped datagram was not logged:\n%s", r.logs)
	}
}

func TestTCPIdleConnectionsAreClosed(t *testing.T) {
	_, addr := tcpRelayWith(t, func(c *config) { c.idleTimeout = 400 * time.Millisecond })

	idle, err := dialFrom(t, "127.0.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	busy, err := dialFrom(t, "127.0.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	echoOn(t, idle, "then nothing")
	for range 10 { // 1.5 s, far past the timeout, with data every 150 ms
		echoOn(t, busy, "still here")
		time.Sleep(150 * time.Millisecond)
	}
	idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Fatalf("an idle connection past --idle-timeout was not closed: %v", err)
	}
	echoOn(t, busy, "a busy connection is never idle")
}

func TestTCPNoIdleTimeout(t *testing.T) {
	_, addr := tcpRelayWith(t, func(c *config) { c.idleTimeout = 0 })
	c, err := dialFrom(t, "127.0.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	echoOn(t, c, "hello")
	time.Sleep(300 * time.Millisecond)
	echoOn(t, c, "0 means never")
}

func netipOf(s string) netip.Addr { return netip.MustParseAddr(s) }
