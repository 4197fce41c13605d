package main

// Giving up every privilege once the relay is set up. Entering the target's namespace needs
// CAP_SYS_ADMIN and CAP_SYS_PTRACE; relaying afterwards needs none: the listeners are bound, the
// namespace's thread already lives in the target's namespace, and making sockets there is not
// privileged. So after setup the relay switches every thread to an unprivileged user (which clears
// the permitted, effective and ambient sets), clears the inheritable set, and sets
// no-new-privileges, then checks in /proc that no thread kept anything.
//
// Credentials and capabilities belong to a thread, not to a process: Go's syscall.Setresuid and
// friends change every thread of the process (since Go 1.16), and syscall.AllThreadsSyscall does
// the same for capset and prctl (it needs a binary without cgo, which pf-relay is).

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const (
	linuxCapabilityVersion3 = 0x20080522
	prSetNoNewPrivs         = 38
)

type capHeader struct {
	version uint32
	pid     int32
}

type capData struct{ effective, permitted, inheritable uint32 }

// parseUser parses UID:GID, both non-zero.
func parseUser(s string) (uid, gid int, err error) {
	u, g, ok := strings.Cut(s, ":")
	uid, uerr := strconv.Atoi(u)
	gid, gerr := strconv.Atoi(g)
	if !ok || uerr != nil || gerr != nil || uid <= 0 || gid <= 0 {
		return 0, 0, fmt.Errorf("%q is not UID:GID with both above 0", s)
	}
	return uid, gid, nil
}

// dropPrivileges makes every thread of this process user uid, group gid, with no supplementary
// groups, no capabilities in any set and no-new-privileges; it fails unless /proc confirms that.
func dropPrivileges(uid, gid int) error {
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("setgroups: %w (is CAP_SETGID granted?)", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return fmt.Errorf("setresgid %d: %w (is CAP_SETGID granted?)", gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return fmt.Errorf("setresuid %d: %w (is CAP_SETUID granted?)", uid, err)
	}
	// Leaving uid 0 cleared the permitted, effective and ambient sets; the inheritable set stays
	// unless cleared (lowering capabilities needs no privilege).
	hdr := capHeader{version: linuxCapabilityVersion3}
	var data [2]capData
	if _, _, errno := syscall.AllThreadsSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); errno != 0 {
		return fmt.Errorf("capset: %w", errno)
	}
	if _, _, errno := syscall.AllThreadsSyscall(syscall.SYS_PRCTL, prSetNoNewPrivs, 1, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", errno)
	}
	return checkUnprivileged("/proc/self/task")
}

// checkUnprivileged reads every thread's status under dir (/proc/self/task) and fails if one has
// uid 0 or any capability in its effective, permitted, inheritable or ambient set, or lacks
// no-new-privileges.
func checkUnprivileged(dir string) error {
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		status, err := os.ReadFile(filepath.Join(dir, t.Name(), "status"))
		if err != nil {
			return err
		}
		if err := checkStatus(string(status)); err != nil {
			return fmt.Errorf("thread %s: %v", t.Name(), err)
		}
	}
	return nil
}

// checkStatus checks one /proc/PID/status file's credentials, as checkUnprivileged says.
func checkStatus(status string) error {
	seen := 0
	for _, line := range strings.Split(status, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch key {
		case "Uid", "Gid":
			seen++
			for _, id := range strings.Fields(value) {
				if id == "0" {
					return fmt.Errorf("%s still has 0 in %q", key, value)
				}
			}
		case "CapInh", "CapPrm", "CapEff", "CapAmb":
			seen++
			if n, err := strconv.ParseUint(value, 16, 64); err != nil || n != 0 {
				return fmt.Errorf("%s is %s, not empty", key, value)
			}
		case "NoNewPrivs":
			seen++
			if value != "1" {
				return fmt.Errorf("NoNewPrivs is %s", value)
			}
		}
	}
	if seen != 7 {
		return fmt.Errorf("unexpected status format (%d of 7 fields found)", seen)
	}
	return nil
}
