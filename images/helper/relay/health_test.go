package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"testing"
)

// GET /ports, against a real target namespace: a port is open only where the relay's connection
// to loopback would arrive, and the report follows the target as it starts listening.
func TestPortsReport(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	v4 := tcpEcho(t, ns, "127.0.0.1:0")
	v6 := tcpEcho(t, ns, "[::1]:0")
	wild := tcpEcho(t, ns, ":0")
	other := tcpEcho(t, ns, "127.0.0.2:0") // loopback, but not the address the relay dials
	udp := udpEcho(t, ns, "127.0.0.1:0")
	later := freeTCPPort(t)

	handle, err := openNetns(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer handle.Close()
	specs := []spec{
		{"tcp", 1, v4}, {"tcp", 2, v6}, {"tcp", 3, wild}, {"tcp", 4, other}, {"udp", 5, udp},
		{"udp", 6, v4}, // a TCP listener does not make the UDP port open
		{"tcp", 7, later},
	}
	h := healthHandler(handle, specs, &stats{})
	report := func() map[int]bool {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/ports", nil))
		if rec.Code != 200 {
			t.Fatalf("GET /ports: %d %s", rec.Code, rec.Body)
		}
		var body struct{ Ports []portState }
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		open := map[int]bool{}
		for _, p := range body.Ports {
			open[p.Port] = p.Open
		}
		return open
	}
	want := map[int]bool{1: true, 2: true, 3: true, 4: false, 5: true, 6: false, 7: false}
	if got := report(); !equalMaps(got, want) {
		t.Fatalf("ports: got %v, want %v", got, want)
	}

	var ln net.Listener
	inNetns(t, ns, func() { ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", later)) })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want[7] = true
	if got := report(); !equalMaps(got, want) {
		t.Fatalf("after the target started listening: got %v, want %v", got, want)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ready", nil))
	if rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Fatalf("GET /ready: %d %q", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/anything", nil))
	if rec.Code != 404 {
		t.Fatalf("GET /anything: %d, want 404", rec.Code)
	}
}

func equalMaps(a, b map[int]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
