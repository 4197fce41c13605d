package main

// Dropping privileges is for good, so it is tested in a child process: this test binary run again
// as the relay, into a namespace found through a fake /proc, and inspected from outside.

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRelayProcess is not a test: it is the child that TestRelayDropsPrivileges starts.
func TestRelayProcess(t *testing.T) {
	args := os.Getenv("PF_RELAY_TEST_ARGS")
	if args == "" {
		t.Skip("only as the child of TestRelayDropsPrivileges")
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	os.Exit(run(strings.Split(args, " "), os.Stdout, os.Stderr, stop))
}

func TestCheckStatus(t *testing.T) {
	clean := "Name:\tpf-relay\nUid:\t65532\t65532\t65532\t65532\nGid:\t65532\t65532\t65532\t65532\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
	if err := checkStatus(clean); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(clean, "Uid:\t65532\t65532\t65532\t65532", "Uid:\t65532\t65532\t0\t65532", 1), // saved uid 0
		strings.Replace(clean, "CapInh:\t0000000000000000", "CapInh:\t0000000000200000", 1),
		strings.Replace(clean, "CapPrm:\t0000000000000000", "CapPrm:\t0000000000080000", 1),
		strings.Replace(clean, "CapEff:\t0000000000000000", "CapEff:\t0000000000000001", 1),
		strings.Replace(clean, "CapAmb:\t0000000000000000", "CapAmb:\t0000000000000400", 1),
		strings.Replace(clean, "NoNewPrivs:\t1", "NoNewPrivs:\t0", 1),
		strings.Replace(clean, "NoNewPrivs:\t1\n", "", 1), // a field missing
	} {
		if checkStatus(bad) == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
	if _, _, err := parseUser("0:65532"); err == nil {
		t.Error("--run-as 0:65532 accepted")
	}
}

func TestRelayDropsPrivileges(t *testing.T) {
	needRoot(t)
	const podIP = "10.251.8.9"
	pod := podNetns(t, podIP)
	echo := tcpEcho(t, pod, "127.0.0.1:0")
	p := newFakeProc(t, newNetns(t))
	p.add(700, "pause", 1, container(victim), pod)
	listen := freeTCPPort(t)
	health := freeTCPPort(t)

	child := exec.Command(os.Args[0], "-test.run=^TestRelayProcess$")
	child.Env = append(os.Environ(), "PF_RELAY_TEST_ARGS="+strings.Join([]string{
		"--proc=" + p.root, "--target-pod-uid=" + victim, "--target-pod-ips=" + podIP, "--run-as=65532:65532",
		fmt.Sprintf("--health=%d", health), fmt.Sprintf("tcp:%d:%d", listen, echo),
	}, " "))
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = child.Stdout
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	var log []string
	for dropped := false; !dropped; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the relay exited:\n%s", strings.Join(log, "\n"))
			}
			log = append(log, l)
			dropped = strings.Contains(l, "now running as 65532:65532 with no capabilities")
		case <-time.After(10 * time.Second):
			t.Fatalf("no privilege drop logged:\n%s", strings.Join(log, "\n"))
		}
	}

	// From outside, as an admin would look on the node: every thread unprivileged.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", child.Process.Pid))
	if len(tasks) < 2 {
		t.Fatalf("%d threads", len(tasks))
	}
	for _, status := range tasks {
		b, err := os.ReadFile(status)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkStatus(string(b)); err != nil {
			t.Errorf("%s: %v", status, err)
		}
	}
	// Traffic still flows, over a new connection (a socket made in the namespace after the drop).
	time.Sleep(50 * time.Millisecond)
	echoOnce(t, fmt.Sprintf("127.0.0.1:%d", listen), "after the drop")
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", health)); err != nil {
		t.Errorf("health port: %v", err)
	} else {
		c.Close()
	}

	child.Process.Signal(syscall.SIGTERM)
	for range lines {
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}
