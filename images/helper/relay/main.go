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
	maxConns             int           // concurrent TCP connections, over all ports; more are reset at once
	maxConnsPerSource    int           // concurrent TCP connections from one client address
	idleTimeout          time.Duration // a TCP connection without data either way for this long is closed (0: never)
	maxSessions          int           // concurrent UDP sessions (client address:port), over all ports
	maxSessionsPerSource int           // concurrent UDP sessions from one client address
	udpIdle              time.Duration // a UDP session without a datagram either way for this long ends
	dialTimeout          time.Duration // TCP connect to the target, both address families together
}

// The defaults leave room for a shared tunnel's many clients (the tunnel API's gateway is one
// client address per replica, carrying many users) while no single address can take it all.
func defaultConfig() config {
	return config{
		maxConns: 4096, maxConnsPerSource: 512, idleTimeout: time.Hour,
		maxSessions: 4096, maxSessionsPerSource: 512, udpIdle: 30 * time.Second,
		dialTimeout: 10 * time.Second,
	}
}

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop))
}

// run is main without the process around it: it returns the exit code, after stop delivers a signal
// (0) or when setting up fails or the target's namespace is lost (1, 2).
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	if len(args) > 0 && (args[0] == "pin" || args[0] == "check") {
		return runNetnsCommand(args[0], args[1:], stdout, stderr)
	}
	cfg := defaultConfig()
	fs := flag.NewFlagSet("pf-relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := targetFlags(fs)
	nsPath := fs.String("netns", "", "relay into this network namespace file instead (such as /run/netns/NAME; for tests)")
	runAs := fs.String("run-as", "", "once every listener is up, switch to this UID:GID and drop every capability (empty: keep them; for tests)")
	checkEvery := fs.Duration("check-every", 10*time.Second, "how often to check that the target's namespace still carries its IPs (exit 1 when not: the pod's sandbox was replaced)")
	fs.IntVar(&cfg.maxConns, "max-conns", cfg.maxConns, "concurrent TCP connections over all ports; more are reset at once")
	fs.IntVar(&cfg.maxConnsPerSource, "max-conns-per-source", cfg.maxConnsPerSource, "concurrent TCP connections from one client address; more are reset at once")
	fs.DurationVar(&cfg.idleTimeout, "idle-timeout", cfg.idleTimeout, "close a TCP connection that carried no data either way for this long (0: never)")
	fs.IntVar(&cfg.maxSessions, "max-udp-sessions", cfg.maxSessions, "concurrent UDP sessions (client address:port) over all ports; a new one beyond ends the least recently used")
	fs.IntVar(&cfg.maxSessionsPerSource, "max-udp-sessions-per-source", cfg.maxSessionsPerSource, "concurrent UDP sessions from one client address; datagrams of its new ones beyond are dropped")
	fs.DurationVar(&cfg.udpIdle, "udp-idle", cfg.udpIdle, "a UDP session ends after this long without a datagram either way")
	fs.DurationVar(&cfg.dialTimeout, "dial-timeout", cfg.dialTimeout, "timeout of a TCP connect to the target")
	health := fs.Int("health", 0, "serve GET /ready (every listener is up), GET /ports (which target ports take traffic) and GET /metrics (Prometheus) on this TCP port (0: off); the kubelet's HTTP probe costs no process, unlike an exec probe")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pf-relay [flags] --target-pod-uid UID --target-pod-ips IPS tcp:LISTEN:TARGET|udp:LISTEN:TARGET ...")
		fmt.Fprintln(stderr, "       pf-relay pin --target-pod-uid UID --target-pod-ips IPS FILE   (bind-mount the pod's namespace at FILE)")
		fmt.Fprintln(stderr, "       pf-relay check --netns FILE --target-pod-ips IPS             (exit 0 when FILE's namespace carries one of IPS)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "pf-relay: error: "+format+"\n", a...)
		return 2
	}
	if (*nsPath == "") == (target.uid == "") {
		return bad("give exactly one of --target-pod-uid and --netns")
	}
	if cfg.maxConns < 1 || cfg.maxConnsPerSource < 1 || cfg.maxSessions < 1 || cfg.maxSessionsPerSource < 1 || cfg.udpIdle <= 0 || cfg.dialTimeout <= 0 || *checkEvery <= 0 {
		return bad("--max-conns, --max-conns-per-source, --max-udp-sessions, --max-udp-sessions-per-source, --udp-idle, --dial-timeout and --check-every must be positive")
	}
	if cfg.idleTimeout < 0 {
		return bad("--idle-timeout must not be negative")
	}
	uid, gid := 0, 0
	if *runAs != "" {
		var err error
		if uid, gid, err = parseUser(*runAs); err != nil {
			return bad("--run-as: %v", err)
		}
	}
	specs, err := parseSpecs(fs.Args())
	if err != nil {
		return bad("%v", err)
	}
	q, err := target.query()
	if err != nil {
		return bad("%v", err)
	}
	log := newLogger(stdout)

	var ns *netns
	if *nsPath != "" {
		ns, err = openNetns(*nsPath)
	} else {
		ns, err = openTarget(q, log)
	}
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
			st := r.stats.port(s)
			start = append(start, func() { r.serveTCP(ln.(*net.TCPListener), st) })
		case "udp":
			pc, err := net.ListenUDP("udp", &net.UDPAddr{Port: s.listen})
			if err != nil {
				log.infof("error: cannot listen on udp port %d: %v", s.listen, err)
				closeAll()
				return 1
			}
			closers = append(closers, pc)
			u := r.newUDP(pc, r.stats.port(s))
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
		go serveHealth(hl, healthHandler(ns, specs, r.stats))
	}
	if *runAs != "" {
		if err := dropPrivileges(uid, gid); err != nil {
			log.infof("error: cannot drop privileges: %v", err)
			closeAll()
			return 1
		}
		log.infof("listening; now running as %d:%d with no capabilities and no-new-privileges", uid, gid)
	}
	for i, s := range specs {
		to := "127.0.0.1, or [::1] when refused there"
		if s.proto == "udp" {
			to = "127.0.0.1, or [::1] when bound on IPv6 only"
		}
		log.infof("relay %s :%d -> target port %d (%s) in the network namespace %s", s.proto, s.listen, s.target, to, ns.path)
		go start[i]()
	}

	lost := make(chan error, 1)
	if len(q.ips) > 0 {
		go watchNetns(ns, q.ips, *checkEvery, lost)
	}
	select {
	case sig := <-stop:
		log.infof("%v: closing the listeners and exiting", sig)
		closeAll()
		return 0
	case err := <-lost:
		log.infof("error: %v; exiting so that the kubelet restarts the helper and it finds the pod's namespace again", err)
		closeAll()
		return 1
	}
}

// watchNetns reports on lost when the namespace no longer carries any of ips: the pod's sandbox
// was replaced (the CNI plugin took its interface away), and the namespace held is an empty shell.
func watchNetns(ns *netns, ips []net.IP, every time.Duration, lost chan<- error) {
	for range time.Tick(every) {
		ok, err := ns.hasAddress(ips)
		if err != nil {
			lost <- err
			return
		}
		if !ok {
			lost <- fmt.Errorf("the target's network namespace no longer carries its IP (%v)", ips)
			return
		}
	}
}

// targetPodFlags are the flags that name the target pod.
type targetPodFlags struct {
	uid, ips, proc string
}

func targetFlags(fs *flag.FlagSet) *targetPodFlags {
	t := &targetPodFlags{}
	fs.StringVar(&t.uid, "target-pod-uid", "", "the target pod's UID: relay into the network namespace of its processes on this node")
	fs.StringVar(&t.ips, "target-pod-ips", "", "the target pod's IPs, comma-separated: the namespace must carry one")
	fs.StringVar(&t.proc, "proc", "/proc", "the node's /proc (the helper runs with hostPID)")
	return t
}

func (t *targetPodFlags) query() (targetQuery, error) {
	ips, err := parseIPs(t.ips)
	if err != nil {
		return targetQuery{}, fmt.Errorf("--target-pod-ips: %v", err)
	}
	if t.uid != "" && len(ips) == 0 {
		return targetQuery{}, fmt.Errorf("--target-pod-uid needs --target-pod-ips")
	}
	return targetQuery{proc: t.proc, uid: t.uid, ips: ips}, nil
}

// openTarget finds and enters the target pod's namespace, and says which process it came from.
func openTarget(q targetQuery, log *logger) (*netns, error) {
	ns, p, err := openPodNetns(q, func(msg string) { log.infof("warning: %s", msg) })
	if err != nil {
		return nil, err
	}
	id, _ := fdNamespace(ns.fd)
	log.infof("target pod %s: network namespace %d of PID %d (%s), which carries the pod's IP; held open", q.uid, id.ino, p.pid, p.comm)
	return ns, nil
}

// runNetnsCommand serves the classic data path, whose socat and nsenter need the namespace as a
// file: "pin" bind-mounts the pod's namespace (found and checked as for the relay) at FILE; "check"
// exits 0 while the namespace at --netns still carries one of the pod's IPs.
func runNetnsCommand(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pf-relay "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := targetFlags(fs)
	nsPath := fs.String("netns", "", "check: the namespace file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "pf-relay: error: "+format+"\n", a...)
		return code
	}
	q, err := target.query()
	if err != nil {
		return fail(2, "%v", err)
	}
	log := newLogger(stdout)
	if cmd == "check" {
		if *nsPath == "" || len(q.ips) == 0 {
			return fail(2, "check needs --netns and --target-pod-ips")
		}
		ns, err := openNetns(*nsPath)
		if err != nil {
			return fail(1, "%v", err)
		}
		defer ns.Close()
		if ok, err := ns.hasAddress(q.ips); err != nil || !ok {
			return fail(1, "the namespace at %s does not carry %v (%v)", *nsPath, q.ips, err)
		}
		return 0
	}
	if fs.NArg() != 1 || q.uid == "" {
		return fail(2, "usage: pf-relay pin --target-pod-uid UID --target-pod-ips IPS FILE")
	}
	file := fs.Arg(0)
	ns, err := openTarget(q, log)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer ns.Close()
	syscall.Unmount(file, syscall.MNT_DETACH) // a previous run's
	if f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY, 0o444); err == nil {
		f.Close()
	}
	if err := syscall.Mount(fmt.Sprintf("/proc/self/fd/%d", ns.fd), file, "", syscall.MS_BIND, ""); err != nil {
		return fail(1, "cannot bind-mount the namespace at %s: %v (the classic data path needs mount: CAP_SYS_ADMIN, and no AppArmor profile that denies it)", file, err)
	}
	log.infof("pinned at %s", file)
	return 0
}
