package main

// Per-port counters, served in the Prometheus text format on the health port (GET /metrics).
// Written by hand rather than with client_golang: the format is a few lines of text, and the
// library would add eight modules and about 3 MB to a static relay that builds from the standard
// library alone. Every count is an atomic: the data path takes no lock to count.

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Directions of bytes and datagrams.
const (
	toTarget = iota
	toClient
)

// A limit that refused a connection (TCP) or a new session (UDP), named by its flag.
type limit int

const (
	limitConns limit = iota
	limitConnsPerSource
	limitSessions
	limitSessionsPerSource
)

var (
	limitNames = [...]string{"max_conns", "max_conns_per_source", "max_udp_sessions", "max_udp_sessions_per_source"}
	limitProto = [...]string{"tcp", "tcp", "udp", "udp"}
)

// Why a UDP datagram was not relayed.
type drop int

const (
	dropRefused      drop = iota // its client's new session was refused by a limit
	dropFailed                   // no socket to the target could be made for its client
	dropSendError                // sending it to the target failed
	dropTargetClosed             // nothing listens on the target port (ICMP port unreachable)
	dropReplyError               // sending the target's reply to the client failed
)

var dropNames = [...]string{"refused", "failed", "send_error", "target_closed", "reply_error"}

// portStats counts one relayed port. A UDP session counts as a connection.
type portStats struct {
	spec      spec
	opened    atomic.Uint64 // accepted from clients (TCP) or new client address:port seen (UDP), refused and failed ones included
	active    atomic.Int64
	refused   [len(limitNames)]atomic.Uint64
	failed    atomic.Uint64 // the target could not be reached
	bytes     [2]atomic.Uint64
	datagrams [2]atomic.Uint64
	dropped   [len(dropNames)]atomic.Uint64
	last      *atomic.Pointer[connError]
}

// connError is the last connection the relay could not relay, on any port.
type connError struct {
	at      time.Time
	spec    spec
	message string
}

// stats holds every port's counters and the last connection error.
type stats struct {
	mu    sync.Mutex
	ports []*portStats
	last  atomic.Pointer[connError]
}

// port registers a relayed port; its counters show (at zero) from then on.
func (s *stats) port(sp spec) *portStats {
	p := &portStats{spec: sp, last: &s.last}
	s.mu.Lock()
	s.ports = append(s.ports, p)
	s.mu.Unlock()
	return p
}

// refuse counts a connection a limit turned away; message says why, for status and describe.
func (p *portStats) refuse(l limit, message string) {
	p.refused[l].Add(1)
	p.noteError(message)
}

// fail counts a connection whose target could not be reached.
func (p *portStats) fail(message string) {
	p.failed.Add(1)
	p.noteError(message)
}

func (p *portStats) noteError(message string) {
	p.last.Store(&connError{at: time.Now(), spec: p.spec, message: message})
}

// sample is one line of a family for one port: its labels beyond the port's, and its value.
type sample struct {
	labels string
	value  uint64
}

// family is one metric, with a function that gives its samples for one port.
type family struct {
	name, kind, help string
	samples          func(p *portStats) []sample
}

func single(v uint64) []sample { return []sample{{"", v}} }

func byDirection(counts *[2]atomic.Uint64) []sample {
	return []sample{{`,direction="to_target"`, counts[toTarget].Load()}, {`,direction="to_client"`, counts[toClient].Load()}}
}

// lastErrorMetric is an info-style metric: one sample, the last error's time, with its message
// as a label. Messages name no client port, so a target that keeps refusing keeps one series.
const lastErrorMetric = "pf_relay_last_error_timestamp_seconds"

var families = []family{
	{"pf_relay_connections_opened_total", "counter", "TCP connections accepted from clients, and UDP sessions (client address:port) begun, refused and failed ones included.",
		func(p *portStats) []sample { return single(p.opened.Load()) }},
	{"pf_relay_connections_active", "gauge", "TCP connections and UDP sessions open now.",
		func(p *portStats) []sample { return single(uint64(max(p.active.Load(), 0))) }},
	{"pf_relay_connections_refused_total", "counter", "TCP connections reset, and new UDP sessions dropped, because a limit of the relay was reached (label limit: its flag).",
		func(p *portStats) (out []sample) {
			for l, name := range limitNames {
				if limitProto[l] == p.spec.proto {
					out = append(out, sample{`,limit="` + name + `"`, p.refused[l].Load()})
				}
			}
			return out
		}},
	{"pf_relay_connections_failed_total", "counter", "TCP connections closed because the target's port did not accept the relay's connection, and UDP sessions without a socket to the target.",
		func(p *portStats) []sample { return single(p.failed.Load()) }},
	{"pf_relay_bytes_total", "counter", "Bytes relayed, by direction. TCP bytes are added as splice(2) moves them, at least every MiB and when a direction ends.",
		func(p *portStats) []sample { return byDirection(&p.bytes) }},
	{"pf_relay_datagrams_total", "counter", "UDP datagrams relayed, by direction.",
		func(p *portStats) []sample {
			if p.spec.proto != "udp" {
				return nil
			}
			return byDirection(&p.datagrams)
		}},
	{"pf_relay_datagrams_dropped_total", "counter", "UDP datagrams not relayed, by reason.",
		func(p *portStats) (out []sample) {
			if p.spec.proto != "udp" {
				return nil
			}
			for r, name := range dropNames {
				out = append(out, sample{`,reason="` + name + `"`, p.dropped[r].Load()})
			}
			return out
		}},
}

// writeMetrics writes every family in the Prometheus text exposition format (version 0.0.4).
func (s *stats) writeMetrics(w io.Writer) {
	s.mu.Lock()
	ports := append([]*portStats(nil), s.ports...)
	s.mu.Unlock()
	var b strings.Builder
	for _, f := range families {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		for _, p := range ports {
			for _, sm := range f.samples(p) {
				fmt.Fprintf(&b, "%s{%s%s} %d\n", f.name, portLabels(p.spec), sm.labels, sm.value)
			}
		}
	}
	fmt.Fprintf(&b, "# HELP %s When the relay last refused a connection or could not reach the target (Unix time), on which port and why.\n# TYPE %s gauge\n", lastErrorMetric, lastErrorMetric)
	if e := s.last.Load(); e != nil {
		at := strconv.FormatFloat(float64(e.at.UnixMilli())/1000, 'f', 3, 64)
		fmt.Fprintf(&b, "%s{%s,message=\"%s\"} %s\n", lastErrorMetric, portLabels(e.spec), escapeLabel(e.message), at)
	}
	io.WriteString(w, b.String())
}

func portLabels(s spec) string {
	return fmt.Sprintf(`proto="%s",port="%d",target_port="%d"`, s.proto, s.listen, s.target)
}

// escapeLabel escapes a label value as the text format requires.
func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}
