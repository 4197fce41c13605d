package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.txt")

// scrape reads GET /metrics through the health handler: sample ("name{labels}") -> value.
func scrape(t *testing.T, st *stats) map[string]string {
	t.Helper()
	rec := httptest.NewRecorder()
	healthHandler(nil, nil, st).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	samples := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(rec.Body.String()), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		samples[line[:i]] = line[i+1:]
	}
	return samples
}

// waitSample waits until the sample has the value: a connection's counts land a moment after the
// client sees it end.
func waitSample(t *testing.T, st *stats, sample, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := scrape(t, st)[sample]
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %q, want %q", sample, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func labels(proto string, listen, target int, extra string) string {
	return fmt.Sprintf(`{proto="%s",port="%d",target_port="%d"%s}`, proto, listen, target, extra)
}

func TestMetricsCountTCPConnectionsAndBytes(t *testing.T) {
	needRoot(t)
	ns := newNetns(t)
	target := tcpEcho(t, ns, "127.0.0.1:0")
	r := startRelay(t, ns, defaultConfig())
	addr := r.tcp(t, target)
	_, p, _ := net.SplitHostPort(addr)
	listen, _ := strconv.Atoi(p)
	at := func(name, extra string) string { return name + labels("tcp", listen, target, extra) }

	const n = 5
	sent := 0
	for i := range n {
		msg := strings.Repeat("x", 1000*(i+1))
		echoOnce(t, addr, msg)
		sent += len(msg)
	}
	waitSample(t, r.stats, at("pf_relay_connections_active", ""), "0")
	got := scrape(t, r.stats)
	for sample, want := range map[string]int{
		at("pf_relay_connections_opened_total", ""):                    n,
		at("pf_relay_bytes_total", `,direction="to_target"`):           sent,
		at("pf_relay_bytes_total", `,direction="to_client"`):           sent,
		at("pf_relay_connections_failed_total", ""):                    0,
		at("pf_relay_connections_refused_total", `,limit="max_conns"`): 0,
	} {
		if got[sample] != strconv.Itoa(want) {
			t.Errorf("after %d connections and %d bytes each way: %s = %q, want %d", n, sent, sample, got[sample], want)
		}
	}

	// A long transfer is counted while its connection is still open, a MiB at a time.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const big = 3 << 20
	go c.Write(make([]byte, big))
	if _, err := io.ReadFull(c, make([]byte, big)); err != nil {
		t.Fatal(err)
	}
	waitSample(t, r.stats, at("pf_relay_bytes_total", `,direction="to_client"`), strconv.Itoa(sent+big))
	got = scrape(t, r.stats)
	if got[at("pf_relay_bytes_total", `,direction="to_target"`)] != strconv.Itoa(sent+big) || got[at("pf_relay_connections_active", "")] != "1" {
		t.Errorf("with 3 MiB echoed on an open connection: %v", got)
	}
}

func TestMetricsCountRefusedAndFailedConnections(t *testing.T) {
	r, ns := relayWith(t, func(c *config) { c.maxConns = 1 })
	target := tcpEcho(t, ns, "127.0.0.1:0")
	addr := r.tcp(t, target)
	closed := freePort(t, ns)
	toClosed := r.tcp(t, closed)
	listen := func(a string) int { _, p, _ := net.SplitHostPort(a); n, _ := strconv.Atoi(p); return n }

	// The relay resets these so fast that the reset may have arrived when Dial returns.
	mustBeRefused := func(addr string) {
		if c, err := net.Dial("tcp", addr); err == nil {
			defer c.Close()
			if !refused(c) {
				t.Fatalf("a connection to %s was relayed", addr)
			}
		}
	}
	hold, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	echoOn(t, hold, "holds the only slot")
	mustBeRefused(addr)
	got := scrape(t, r.stats)
	refusedAt := "pf_relay_connections_refused_total" + labels("tcp", listen(addr), target, `,limit="max_conns"`)
	if got[refusedAt] != "1" || got["pf_relay_connections_opened_total"+labels("tcp", listen(addr), target, "")] != "2" {
		t.Errorf("after one connection over the limit: %v", got)
	}
	hold.Close()
	waitSample(t, r.stats, "pf_relay_connections_active"+labels("tcp", listen(addr), target, ""), "0")

	before := time.Now()
	mustBeRefused(toClosed)
	waitSample(t, r.stats, "pf_relay_connections_failed_total"+labels("tcp", listen(toClosed), closed, ""), "1")

	var lastError, at string
	for sample, v := range scrape(t, r.stats) {
		if strings.HasPrefix(sample, lastErrorMetric) {
			lastError, at = sample, v
		}
	}
	want := fmt.Sprintf(`%s{proto="tcp",port="%d",target_port="%d",message="port %d/TCP: cannot connect to target port %d (127.0.0.1: connect: connection refused; [::1]: connect: connection refused)"}`,
		lastErrorMetric, listen(toClosed), closed, listen(toClosed), closed)
	if lastError != want {
		t.Errorf("last error:\n got %s\nwant %s", lastError, want)
	}
	if s, _ := strconv.ParseFloat(at, 64); s < float64(before.Unix()) || s > float64(time.Now().Unix()+1) {
		t.Errorf("last error at %s, not between %v and now", at, before)
	}
}

func TestMetricsCountUDPDatagrams(t *testing.T) {
	r, ns := relayWith(t, func(*config) {})
	target := udpEcho(t, ns, "127.0.0.1:0")
	_, addr := r.udp(t, target)
	closed := freePort(t, ns)
	_, toClosed := r.udp(t, closed)
	listen := func(a string) int { _, p, _ := net.SplitHostPort(a); n, _ := strconv.Atoi(p); return n }
	at := func(name, extra string) string { return name + labels("udp", listen(addr), target, extra) }

	msgs := [][]byte{[]byte("one"), []byte("two two"), bytes.Repeat([]byte("3"), 60000)}
	udpExchange(t, udpClient(t, addr), msgs)
	udpExchange(t, udpClient(t, addr), msgs[:1]) // a second session
	// Counted once sent (datagrams, then bytes), so a moment after the client has the reply; the
	// count towards the target may even come after the reply's.
	for _, direction := range []string{"to_client", "to_target"} {
		waitSample(t, r.stats, at("pf_relay_bytes_total", `,direction="`+direction+`"`), strconv.Itoa(3+7+60000+3))
	}
	got := scrape(t, r.stats)
	for sample, want := range map[string]int{
		at("pf_relay_connections_opened_total", ""):                    2,
		at("pf_relay_connections_active", ""):                          2,
		at("pf_relay_datagrams_total", `,direction="to_target"`):       4,
		at("pf_relay_datagrams_total", `,direction="to_client"`):       4,
		at("pf_relay_bytes_total", `,direction="to_target"`):           3 + 7 + 60000 + 3,
		at("pf_relay_bytes_total", `,direction="to_client"`):           3 + 7 + 60000 + 3,
		at("pf_relay_datagrams_dropped_total", `,reason="send_error"`): 0,
	} {
		if got[sample] != strconv.Itoa(want) {
			t.Errorf("%s = %q, want %d", sample, got[sample], want)
		}
	}

	// Nothing listens: the target's ICMP port unreachable comes back as a dropped datagram.
	c := udpClient(t, toClosed)
	c.Write([]byte("anyone?"))
	waitSample(t, r.stats, "pf_relay_datagrams_dropped_total"+labels("udp", listen(toClosed), closed, `,reason="target_closed"`), "1")
}

// The exposition, byte for byte, from known counts: testdata/metrics.txt, which the operator's
// unit tests parse and the Grafana dashboard's test takes its metric names from.
func TestMetricsText(t *testing.T) {
	st := &stats{}
	web := st.port(spec{"tcp", 10080, 80})
	web.opened.Add(7)
	web.active.Add(2)
	web.refused[limitConnsPerSource].Add(1)
	web.failed.Add(3)
	web.bytes[toTarget].Add(1234)
	web.bytes[toClient].Add(56789)
	dns := st.port(spec{"udp", 5353, 53})
	dns.opened.Add(4)
	dns.active.Add(1)
	dns.datagrams[toTarget].Add(10)
	dns.datagrams[toClient].Add(9)
	dns.bytes[toTarget].Add(400)
	dns.bytes[toClient].Add(900)
	dns.dropped[dropTargetClosed].Add(1)
	web.fail(`port 10080/TCP: cannot connect to target port 80 (127.0.0.1: connect: connection refused; a "quoted" \ word)`)
	st.last.Load().at = time.UnixMilli(1893456000250) // 2030-01-01T00:00:00.25Z

	var b bytes.Buffer
	st.writeMetrics(&b)
	const golden = "testdata/metrics.txt"
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("the exposition differs from %s (go test -run TestMetricsText -update rewrites it):\n%s", golden, b.String())
	}
}

// One direction of a TCP connection through the relay, 64 MiB per operation: the splice path's
// throughput, with its counting (go test -run - -bench TCPThroughput -count 6; benchstat).
func BenchmarkTCPThroughput(b *testing.B) {
	needRoot(b)
	ns := newNetns(b)
	const per = 64 << 20
	var ln net.Listener
	var err error
	inNetns(b, ns, func() { ln, err = net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() { // a sink that says when it has had each operation's bytes
		c, err := ln.Accept()
		if err != nil {
			return
		}
		for {
			if _, err := io.CopyN(io.Discard, c, per); err != nil {
				return
			}
			c.Write([]byte{1})
		}
	}()
	addr := startRelay(b, ns, defaultConfig()).tcp(b, port(ln.Addr()))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 1<<20)
	b.SetBytes(per)
	b.ResetTimer()
	for range b.N {
		for range per / len(buf) {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := io.ReadFull(c, buf[:1]); err != nil {
			b.Fatal(err)
		}
	}
}
