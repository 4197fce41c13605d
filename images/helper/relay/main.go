// pf-relay: the PortForward helper's relay for the "splice" data path. One process, no fork per
// connection: it listens on this pod's addresses and relays each TCP connection or UDP client to
// the loopback of another network namespace (the target pod's, pinned by pf-helper at
// /run/netns/target).
//
//	pf-relay [flags] --netns /run/netns/target tcp:LISTEN:TARGET udp:LISTEN:TARGET ...
//
// TCP bytes move with splice(2) (kernel to kernel, never through this process's memory); see tcp.go.
// Sockets toward the target are created inside its namespace by one dedicated OS thread; see
// netns.go. Exit codes: 0 after SIGTERM or SIGINT, 1 when a listener or the namespace cannot be
// set up, 2 for bad arguments.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// spec is one relayed port: PROTO:LISTEN:TARGET.
type spec struct {
	proto          string // tcp or udp
	listen, target int
}

func (s spec) String() string { return fmt.Sprintf("%s:%d:%d", s.proto, s.listen, s.target) }

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || s != strconv.Itoa(p) {
		return 0, fmt.Errorf("%q is not a port (1-65535)", s)
	}
	return p, nil
}

// parseSpecs parses tcp:LISTEN:TARGET and udp:LISTEN:TARGET arguments; a port may be listed once
// per protocol.
func parseSpecs(args []string) ([]spec, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("no ports given (expected arguments like tcp:10080:80 udp:5353:53)")
	}
	seen := map[string]bool{}
	var specs []spec
	for _, a := range args {
		parts := strings.Split(a, ":")
		if len(parts) != 3 || (parts[0] != "tcp" && parts[0] != "udp") {
			return nil, fmt.Errorf("bad port %q: expected tcp:LISTEN:TARGET or udp:LISTEN:TARGET", a)
		}
		l, err := parsePort(parts[1])
		if err != nil {
			return nil, fmt.Errorf("bad port %q: %v", a, err)
		}
		t, err := parsePort(parts[2])
		if err != nil {
			return nil, fmt.Errorf("bad port %q: %v", a, err)
		}
		key := parts[0] + "/" + parts[1]
		if seen[key] {
			return nil, fmt.Errorf("%s port %d is listed twice", parts[0], l)
		}
		seen[key] = true
		specs = append(specs, spec{proto: parts[0], listen: l, target: t})
	}
	return specs, nil
}

// config holds the relay's limits.
type config struct {
	maxConns    int           // concurrent TCP connections, over all ports; more are reset at once
	maxSessions int           // concurrent UDP sessions (client addresses), over all ports
	udpIdle     time.Duration // a UDP session without a datagram either way for this long ends
	dialTimeout time.Duration // TCP connect to the target, both address families together
}

func defaultConfig() config {
	return config{maxConns: 1024, maxSessions: 4096, udpIdle: 30 * time.Second, dialTimeout: 10 * time.Second}
}

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// run is main without the process around it: it returns the exit code, after stop delivers a signal
// (0) or when setting up fails (1, 2).
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("pf-relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nsPath := fs.String("netns", "", "the target's network namespace: a file such as /run/netns/target or /proc/PID/ns/net (required)")
	fs.IntVar(&cfg.maxConns, "max-conns", cfg.maxConns, "concurrent TCP connections over all ports; more are reset at once")
	fs.IntVar(&cfg.maxSessions, "max-udp-sessions", cfg.maxSessions, "concurrent UDP sessions (client addresses) over all ports; datagrams of new clients beyond are dropped")
	fs.DurationVar(&cfg.udpIdle, "udp-idle", cfg.udpIdle, "a UDP session ends after this long without a datagram either way")
	fs.DurationVar(&cfg.dialTimeout, "dial-timeout", cfg.dialTimeout, "timeout of a TCP connect to the target")
	health := fs.Int("health", 0, "serve GET /ready (every listener is up) and GET /ports (which target ports take traffic) on this TCP port (0: off); the kubelet's HTTP probe costs no process, unlike an exec probe")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pf-relay [flags] --netns FILE tcp:LISTEN:TARGET|udp:LISTEN:TARGET ...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "pf-relay: error: "+format+"\n", a...)
		return 2
	}
	if *nsPath == "" {
		return bad("--netns is required")
	}
	if cfg.maxConns < 1 || cfg.maxSessions < 1 || cfg.udpIdle <= 0 || cfg.dialTimeout <= 0 {
		return bad("--max-conns, --max-udp-sessions, --udp-idle and --dial-timeout must be positive")
	}
	specs, err := parseSpecs(fs.Args())
	if err != nil {
		return bad("%v", err)
	}
	log := newLogger(stdout)

	ns, err := openNetns(*nsPath)
	if err != nil {
		log.infof("error: %v", err)
		return 1
	}
	defer ns.Close()
	r := newRelay(ns, cfg, log)

	// Every listener first, so that a port in use fails the whole relay before any traffic.
	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	var start []func()
	for _, s := range specs {
		switch s.proto {
		case "tcp":
			// ":PORT": every address of this pod, IPv4 and IPv6 on one socket when the pod has IPv6.
			ln, err := net.Listen("tcp", fmt.Sprintf(":%d", s.listen))
			if err != nil {
				log.infof("error: cannot listen on tcp port %d: %v", s.listen, err)
				closeAll()
				return 1
			}
			closers = append(closers, ln)
			start = append(start, func() { r.serveTCP(ln.(*net.TCPListener), s.target) })
		case "udp":
			pc, err := net.ListenUDP("udp", &net.UDPAddr{Port: s.listen})
			if err != nil {
				log.infof("error: cannot listen on udp port %d: %v", s.listen, err)
				closeAll()
				return 1
			}
			closers = append(closers, pc)
			u := r.newUDP(pc, s.target)
			start = append(start, u.serve)
		}
	}
	if *health > 0 {
		hl, err := net.Listen("tcp", fmt.Sprintf(":%d", *health))
		if err != nil {
			log.infof("error: cannot listen on health port %d: %v", *health, err)
			closeAll()
			return 1
		}
		closers = append(closers, hl)
		go serveHealth(hl, healthHandler(ns, specs))
	}
	for i, s := range specs {
		to := "127.0.0.1, or [::1] when refused there"
		if s.proto == "udp" {
			to = "127.0.0.1, or [::1] when bound on IPv6 only"
		}
		log.infof("relay %s :%d -> target port %d (%s) in the network namespace %s", s.proto, s.listen, s.target, to, *nsPath)
		go start[i]()
	}

	sig := <-stop
	log.infof("%v: closing the listeners and exiting", sig)
	closeAll()
	return 0
}
