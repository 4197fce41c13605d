package main

// Finding the target pod's network namespace on this node, without trusting anything a tenant's
// pod can write. The helper runs with the node's PID namespace; every process of the target pod
// shows in /proc, and its cgroup says which pod it belongs to. Three things keep a tenant from
// handing the helper another namespace:
//   - The cgroup path must be a container's cgroup directly under the pod's own cgroup, anchored at
//     the first kubepods component (cgroupfs and systemd drivers, every runtime). A pod that can
//     write its cgroups can only nest below its own container's cgroup, which never matches.
//   - The namespace must not be the host's (PID 1's) or the helper's own: a process of the pod that
//     has not entered the pod's namespace yet (runc init during an exec, CRI-O's conmon) is skipped.
//   - It must carry one of the target pod's IPs, as the API server reports them.
// The namespace is opened once and held by its file descriptor; the process is checked again after
// the open (same start time, same cgroup), so a PID reused in between changes nothing.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

var (
	podUID        = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	containerID   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	systemdScope  = regexp.MustCompile(`^(cri-containerd|crio|docker)-[0-9a-f]{64}\.scope$`)
	qosClasses    = map[string]bool{"besteffort": true, "burstable": true}
	errNoPodAddrs = errors.New("the namespace has none of the pod's IPs")
)

// podOfCgroup returns the UID of the pod whose cgroup, or a container cgroup directly below it,
// path is; "" for any other path:
//
//	cgroupfs: [ROOT]/kubepods[/besteffort|/burstable]/pod<uid>[/<container id>]
//	systemd:  [ROOT]/[R-]kubepods.slice[/[R-]kubepods-<qos>.slice]/[R-]kubepods[-<qos>]-pod<uid with _>.slice[/<runtime>-<id>.scope]
//
// ROOT is the kubelet's cgroup root (R- its systemd form, as kind's kubelet.slice). The first
// kubepods component anchors the match, so a kubepods-like path nested inside a container never
// counts. Seen through a cgroup namespace (the helper's own, under cgroup v2), a path is relative:
// "/../../kubepods-besteffort-pod<uid>.slice/..."; the first component after the ".." parts is
// then the anchor, and it is always at or above the process's own pod.
func podOfCgroup(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	relative := false
	for len(parts) > 0 && parts[0] == ".." {
		parts, relative = parts[1:], true
	}
	for i, p := range parts {
		if p == "kubepods" {
			return podOfCgroupfs(parts[i+1:])
		}
		if strings.HasSuffix(p, ".slice") && (p == "kubepods.slice" || strings.HasSuffix(p, "-kubepods.slice")) {
			return podOfSystemd(strings.TrimSuffix(p, ".slice"), parts[i+1:])
		}
		if relative {
			break
		}
	}
	if !relative || len(parts) == 0 {
		return ""
	}
	if base, _, ok := strings.Cut(parts[0], "kubepods-"); ok && strings.HasSuffix(parts[0], ".slice") {
		return podOfSystemd(base+"kubepods", parts)
	}
	return podOfCgroupfs(parts)
}

// podOfCgroupfs reads what follows the kubepods component: [QoS/]pod<uid>[/<container id>].
func podOfCgroupfs(rest []string) string {
	if len(rest) > 0 && qosClasses[rest[0]] {
		rest = rest[1:]
	}
	if len(rest) < 1 || len(rest) > 2 || !strings.HasPrefix(rest[0], "pod") {
		return ""
	}
	if len(rest) == 2 && !containerID.MatchString(strings.TrimPrefix(rest[1], "crio-")) {
		return ""
	}
	return validUID(strings.TrimPrefix(rest[0], "pod"))
}

// podOfSystemd reads what follows the kubepods slice named base ("kubepods", "kubelet-kubepods"):
// [base-<qos>.slice/]base[-<qos>]-pod<uid_>.slice[/<runtime>-<id>.scope].
func podOfSystemd(base string, rest []string) string {
	// The pod's slice names its QoS class; seen from a cgroup namespace at the pod level, the QoS
	// slice above it is not in the path.
	prefixes := []string{base + "-pod", base + "-besteffort-pod", base + "-burstable-pod"}
	for qos := range qosClasses {
		if len(rest) > 0 && rest[0] == base+"-"+qos+".slice" {
			prefixes, rest = []string{base + "-" + qos + "-pod"}, rest[1:]
		}
	}
	if len(rest) < 1 || len(rest) > 2 || !strings.HasSuffix(rest[0], ".slice") {
		return ""
	}
	if len(rest) == 2 && !systemdScope.MatchString(rest[1]) {
		return ""
	}
	for _, prefix := range prefixes {
		if uid, ok := strings.CutPrefix(strings.TrimSuffix(rest[0], ".slice"), prefix); ok {
			return validUID(strings.ReplaceAll(uid, "_", "-"))
		}
	}
	return ""
}

func validUID(s string) string {
	if podUID.MatchString(s) {
		return s
	}
	return ""
}

// cgroupPod returns the pod a /proc/PID/cgroup file places its process in: the pod every
// container-cgroup line names, "" when none does or when lines disagree (cgroup v1 lets a process
// sit in different cgroups per hierarchy).
func cgroupPod(content string) string {
	pod := ""
	for _, line := range strings.Split(strings.TrimSpace(content), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		p := podOfCgroup(f[2])
		if p == "" {
			continue
		}
		if pod != "" && p != pod {
			return ""
		}
		pod = p
	}
	return pod
}

// procInfo is what identifies a process across a PID's reuse: its start time (in clock ticks since
// boot, field 22 of /proc/PID/stat) together with its PID, and the pod its cgroup names.
type procInfo struct {
	pid       int
	comm      string
	startTime uint64
	pod       string
}

func readProc(proc string, pid int) (procInfo, error) {
	dir := filepath.Join(proc, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return procInfo{}, err
	}
	// "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so split at the last ')'.
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procInfo{}, fmt.Errorf("%s/stat: unexpected format", dir)
	}
	fields := strings.Fields(s[end+1:]) // fields[0] is field 3 (state)
	if len(fields) < 20 {
		return procInfo{}, fmt.Errorf("%s/stat: unexpected format", dir)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return procInfo{}, fmt.Errorf("%s/stat: start time: %v", dir, err)
	}
	cg, err := os.ReadFile(filepath.Join(dir, "cgroup"))
	if err != nil {
		return procInfo{}, err
	}
	return procInfo{pid: pid, comm: s[open+1 : end], startTime: start, pod: cgroupPod(string(cg))}, nil
}

// podProcesses lists the processes of pod uid, the sandbox (pause) first, as it holds the
// namespace for the pod's whole life, then the oldest first.
func podProcesses(proc, uid string) ([]procInfo, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	var found []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if info, err := readProc(proc, pid); err == nil && info.pod == uid {
			found = append(found, info)
		}
	}
	sort.SliceStable(found, func(i, j int) bool {
		if pi, pj := found[i].comm == "pause", found[j].comm == "pause"; pi != pj {
			return pi
		}
		return found[i].startTime < found[j].startTime
	})
	return found, nil
}

// nsID names a namespace: the device and inode of its nsfs file.
type nsID struct{ dev, ino uint64 }

func fdNamespace(fd int) (nsID, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nsID{}, err
	}
	return nsID{uint64(st.Dev), st.Ino}, nil
}

func pathNamespace(path string) (nsID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{uint64(st.Dev), st.Ino}, nil
}

// targetQuery is what the helper knows of its target from the API server.
type targetQuery struct {
	proc string   // /proc of the node's PID namespace
	uid  string   // the pod's UID
	ips  []net.IP // the pod's IPs (status.podIPs)
}

// openPodNetns opens the network namespace of the target pod, checked as the file's comment says,
// and returns it entered by its own thread. It tries the pod's processes in turn and says why each
// was refused when none fits.
func openPodNetns(q targetQuery, warn func(string)) (*netns, procInfo, error) {
	if !podUID.MatchString(q.uid) {
		return nil, procInfo{}, fmt.Errorf("bad pod UID %q (expected a lowercase UUID)", q.uid)
	}
	if len(q.ips) == 0 {
		return nil, procInfo{}, errors.New("the target pod's IPs are not known (--target-pod-ips)")
	}
	// thread-self, not self: /proc/self shows the main thread, which a namespace's locked goroutine
	// may have taken (the runtime parks it there for good rather than ending it); the calling
	// goroutine's thread is never one of those.
	own, err := pathNamespace("/proc/thread-self/ns/net")
	if err != nil {
		return nil, procInfo{}, fmt.Errorf("cannot read the helper's own network namespace: %v", err)
	}
	forbidden := map[nsID]string{own: "the helper's own"}
	// PID 1 is the node's init. Where even root may not inspect it (a node that is itself a
	// container, as on the local cluster), the pod-IP check still rules the host's namespace out.
	hostPath := filepath.Join(q.proc, "1/ns/net")
	if host, err := pathNamespace(hostPath); err == nil {
		forbidden[host] = "the host's"
	} else if warn != nil {
		warn(fmt.Sprintf("cannot read the host's network namespace (%s: %v): relying on the pod-IP check alone to rule it out", hostPath, err))
	}
	procs, err := podProcesses(q.proc, q.uid)
	if err != nil {
		return nil, procInfo{}, err
	}
	if len(procs) == 0 {
		return nil, procInfo{}, fmt.Errorf("no process of pod %s in %s (is the pod running on this node, and hostPID set?)", q.uid, q.proc)
	}
	var refused []string
	for _, p := range procs {
		ns, err := openProcNetns(q, p, forbidden)
		if err == nil {
			return ns, p, nil
		}
		refused = append(refused, fmt.Sprintf("PID %d (%s): %v", p.pid, p.comm, err))
	}
	return nil, procInfo{}, fmt.Errorf("no process of pod %s has the pod's network namespace: %s", q.uid, strings.Join(refused, "; "))
}

// namespaceOpened runs between opening a process's namespace and checking the process again: a
// seam for the test that reuses the PID right there.
var namespaceOpened = func(procInfo) {}

func openProcNetns(q targetQuery, p procInfo, forbidden map[nsID]string) (*netns, error) {
	path := filepath.Join(q.proc, strconv.Itoa(p.pid), "ns/net")
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %v (CAP_SYS_PTRACE is needed)", path, err)
	}
	namespaceOpened(p)
	// The PID may have been reused between listing and opening: the same start time and cgroup now
	// mean the descriptor is that process's namespace.
	if again, err := readProc(q.proc, p.pid); err != nil || again.startTime != p.startTime || again.pod != p.pod {
		syscall.Close(fd)
		return nil, errors.New("the process changed while its namespace was opened")
	}
	id, err := fdNamespace(fd)
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	if what, bad := forbidden[id]; bad {
		syscall.Close(fd)
		return nil, fmt.Errorf("its network namespace is %s", what)
	}
	ns, err := enterNetns(fd, path)
	if err != nil {
		return nil, err
	}
	if ok, err := ns.hasAddress(q.ips); err != nil || !ok {
		ns.Close()
		if err == nil {
			err = errNoPodAddrs
		}
		return nil, err
	}
	return ns, nil
}

// parseIPs parses a comma-separated list of IP addresses.
func parseIPs(s string) ([]net.IP, error) {
	var ips []net.IP
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		ip := net.ParseIP(f)
		if ip == nil {
			return nil, fmt.Errorf("%q is not an IP address", f)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}
