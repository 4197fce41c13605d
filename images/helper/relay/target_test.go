package main

// Finding the target pod's namespace: cgroup paths as each runtime and driver write them, and a
// fake /proc whose ns/net entries point at real namespaces (root only), so that the refusals are
// tested against the kernel's own namespace identities.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	victim   = "5778c9ed-f1c5-4902-9627-0cb608624457"
	attacker = "0d9a3c51-2b6e-4c1f-8e0a-7b5d4c3a2f10"
	cid      = "15af9d15942567c3a1e0c0ee06f451c2f589f96ff8336c1d94f7951e9f9a65d7"
)

func TestPodOfCgroup(t *testing.T) {
	u := strings.ReplaceAll(victim, "-", "_")
	for path, want := range map[string]string{
		// cgroupfs, v1 and v2, with and without a cgroup root, every QoS class
		"/kubepods/besteffort/pod" + victim + "/" + cid:      victim,
		"/pfdev/kubepods/burstable/pod" + victim + "/" + cid: victim,
		"/kubepods/pod" + victim + "/" + cid:                 victim,
		"/../../kubepods/pod" + victim + "/" + cid:           victim, // seen through a cgroup namespace
		// systemd: containerd, CRI-O, Docker
		"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + u + ".slice/cri-containerd-" + cid + ".scope": victim,
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u + ".slice/crio-" + cid + ".scope":             victim,
		"/kubepods.slice/kubepods-pod" + u + ".slice/docker-" + cid + ".scope":                                              victim,
		// refused
		"/kubepods/besteffort/pod" + attacker + "/" + cid + "/kubepods/besteffort/pod" + victim + "/" + cid:                   "",
		"/kubepods/besteffort/pod" + attacker + "/" + cid + "/pod" + victim:                                                   "",
		"/kubepods.slice/kubepods-pod" + strings.ReplaceAll(attacker, "-", "_") + ".slice/cri-containerd-" + cid + ".scope/x": "",
		"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + u + ".slice/crio-conmon-" + cid + ".scope":        "", // conmon: the host's namespace
		"/kubepods.slice/kubepods-besteffort.slice/kubepods-burstable-pod" + u + ".slice/crio-" + cid + ".scope":              "", // QoS levels disagree
		"/user.slice/pod" + victim + "/" + cid:                           "",
		"/kubepods/besteffort/pod" + strings.ToUpper(victim) + "/" + cid: "",
		"/": "",
	} {
		if got := podOfCgroup(path); got != want {
			t.Errorf("podOfCgroup(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestCgroupPod(t *testing.T) {
	in := func(pod string) string { return "/kubepods/besteffort/pod" + pod + "/" + cid }
	if got := cgroupPod("12:memory:" + in(victim) + "\n11:net_cls:/\n0::" + in(victim) + "\n"); got != victim {
		t.Errorf("one pod in every hierarchy: %q", got)
	}
	// cgroup v1 lets a process that may write its cgroups move in one hierarchy only
	if got := cgroupPod("12:memory:" + in(victim) + "\n4:cpu:" + in(attacker) + "\n"); got != "" {
		t.Errorf("hierarchies that disagree: %q, want none", got)
	}
	if got := cgroupPod("0::/system.slice/containerd.service\n"); got != "" {
		t.Errorf("no pod: %q", got)
	}
}

// fakeProc builds a /proc tree: for each PID a stat with its comm and start time, a cgroup file
// placing it in pod, and ns/net pointing at netns (a real namespace file).
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T, host string) *fakeProc {
	p := &fakeProc{t, t.TempDir()}
	p.add(1, "init", 1, "/", host)
	return p
}

func (p *fakeProc) add(pid int, comm string, start uint64, cgroup, netns string) {
	dir := filepath.Join(p.root, fmt.Sprint(pid))
	os.RemoveAll(dir)
	must(p.t, os.MkdirAll(filepath.Join(dir, "ns"), 0o755))
	fields := make([]string, 18)
	for i := range fields {
		fields[i] = "0"
	}
	stat := fmt.Sprintf("%d (%s) S %s %d 0 0\n", pid, comm, strings.Join(fields, " "), start)
	must(p.t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
	must(p.t, os.WriteFile(filepath.Join(dir, "cgroup"), []byte("4:memory:"+cgroup+"\n0::"+cgroup+"\n"), 0o644))
	must(p.t, os.Symlink(netns, filepath.Join(dir, "ns/net")))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func container(pod string) string { return "/kubepods/besteffort/pod" + pod + "/" + cid }

func TestReadProcStartTime(t *testing.T) {
	p := newFakeProc(t, "/nonexistent")
	p.add(42, "a (tricky) name", 12345, container(victim), "/proc/thread-self/ns/net")
	info, err := readProc(p.root, 42)
	if err != nil || info.comm != "a (tricky) name" || info.startTime != 12345 || info.pod != victim {
		t.Fatalf("%+v %v", info, err)
	}
}

// podNetns makes a namespace that carries ip on its loopback, as a pod's carries its IP on eth0.
func podNetns(t *testing.T, ip string) string {
	ns := newNetns(t)
	if out, err := exec.Command("ip", "-n", filepath.Base(ns), "addr", "add", ip+"/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("ip addr add: %v: %s", err, out)
	}
	return ns
}

func TestOpenPodNetns(t *testing.T) {
	needRoot(t)
	const podIP = "10.251.7.9"
	pod := podNetns(t, podIP)
	other := podNetns(t, "10.251.7.10")
	host := newNetns(t) // stands for the node's: PID 1's in the fake /proc
	query := func(p *fakeProc) targetQuery {
		return targetQuery{proc: p.root, uid: victim, ips: []net.IP{net.ParseIP(podIP)}}
	}
	// reaches proves which namespace ns is: an echo server listens on 127.0.0.1 in pod only.
	echo := tcpEcho(t, pod, "127.0.0.1:0")
	reaches := func(ns *netns) bool {
		c, err := ns.dialTCP(syscall.AF_INET, echo, time.Now().Add(2*time.Second))
		if err != nil {
			return false
		}
		c.Close()
		return true
	}

	t.Run("prefers the sandbox, skips the host's and its own namespace", func(t *testing.T) {
		p := newFakeProc(t, host)
		p.add(100, "runc:[2:INIT]", 10, container(victim), host) // oldest, still in the host's
		p.add(101, "sh", 11, container(victim), "/proc/thread-self/ns/net")
		p.add(102, "server", 12, container(victim), pod)
		p.add(103, "pause", 50, container(victim), pod)
		ns, chosen, err := openPodNetns(query(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		if chosen.pid != 103 || !reaches(ns) {
			t.Fatalf("chose PID %d (%s); reaches the pod: %v", chosen.pid, chosen.comm, reaches(ns))
		}
		p.add(103, "pause", 50, container(victim), host)
		ns2, chosen, err := openPodNetns(query(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ns2.Close()
		if chosen.pid != 102 {
			t.Fatalf("with the sandbox in the host's namespace, chose PID %d, want 102", chosen.pid)
		}
	})

	t.Run("a sub-cgroup named after the victim inside another pod is not the victim", func(t *testing.T) {
		p := newFakeProc(t, host)
		p.add(200, "pause", 1, "/kubepods/besteffort/pod"+attacker+"/"+cid+"/kubepods/besteffort/pod"+victim+"/"+cid, other)
		p.add(201, "evil", 2, "/kubepods/besteffort/pod"+attacker+"/"+cid+"/pod"+victim, other)
		_, _, err := openPodNetns(query(p), nil)
		if err == nil || !strings.Contains(err.Error(), "no process of pod "+victim) {
			t.Fatalf("err = %v, want no process of the pod", err)
		}
	})

	t.Run("a namespace without the pod's IP is refused", func(t *testing.T) {
		p := newFakeProc(t, host)
		p.add(300, "pause", 1, container(victim), other)
		_, _, err := openPodNetns(query(p), nil)
		if err == nil || !strings.Contains(err.Error(), "none of the pod's IPs") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("a PID reused while its namespace is opened is refused", func(t *testing.T) {
		p := newFakeProc(t, host)
		p.add(400, "pause", 1, container(victim), pod)
		namespaceOpened = func(info procInfo) { p.add(info.pid, "pause", 99, container(victim), other) }
		defer func() { namespaceOpened = func(procInfo) {} }()
		_, _, err := openPodNetns(query(p), nil)
		if err == nil || !strings.Contains(err.Error(), "changed while its namespace was opened") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("a PID reused after the namespace was opened changes nothing", func(t *testing.T) {
		p := newFakeProc(t, host)
		p.add(500, "pause", 1, container(victim), pod)
		ns, _, err := openPodNetns(query(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ns.Close()
		p.add(500, "evil", 7, container(attacker), other)
		if !reaches(ns) {
			t.Fatal("the held namespace no longer reaches the pod")
		}
		if ok, err := ns.hasAddress([]net.IP{net.ParseIP(podIP)}); !ok || err != nil {
			t.Fatalf("hasAddress: %v %v", ok, err)
		}
	})
}

func TestPodOfCgroupMoreShapes(t *testing.T) {
	u, a := strings.ReplaceAll(victim, "-", "_"), strings.ReplaceAll(attacker, "-", "_")
	for path, want := range map[string]string{
		"/kubepods/besteffort/pod" + victim + "/crio-" + cid: victim, // CRI-O, cgroupfs
		"/kubepods/besteffort/pod" + victim:                  victim, // the pod's own cgroup
		"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + u + ".slice/cri-containerd-" + cid + ".scope": victim, // kind
		// seen through the helper's cgroup namespace (cgroup v2): relative to its own container
		"/../../kubepods-besteffort-pod" + u + ".slice/cri-containerd-" + cid + ".scope":                            victim,
		"/../../../kubepods-burstable.slice/kubepods-burstable-pod" + u + ".slice/cri-containerd-" + cid + ".scope": victim,
		"/../../kubepods-pod" + u + ".slice/cri-containerd-" + cid + ".scope":                                       victim,
		"/../pod" + victim + "/" + cid:              victim,
		"/../../burstable/pod" + victim + "/" + cid: victim,
		// refused: nested below another pod's container, whatever the names say
		"/../../kubepods-besteffort-pod" + a + ".slice/cri-containerd-" + cid + ".scope/kubepods-besteffort-pod" + u + ".slice/cri-containerd-" + cid + ".scope": "",
		"/../pod" + attacker + "/" + cid + "/pod" + victim + "/" + cid:                                                                                           "",
		"/../" + cid + "/pod" + victim + "/" + cid:                                                                                                               "", // below a container of the helper's own pod
	} {
		if got := podOfCgroup(path); got != want {
			t.Errorf("podOfCgroup(%q) = %q, want %q", path, got, want)
		}
	}
}
