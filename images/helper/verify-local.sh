#!/bin/sh
# Runs the helper for real outside Kubernetes and checks that bytes move (root, Linux; needs
# mmdebstrap, iproute2, util-linux, python3, curl, iperf3, go). It mimics the helper pod: a Debian trixie root
# built like the image (read-only, with a tmpfs at /run/netns, the host's /proc as with hostPID) in
# its own network namespace, a "target pod" namespace whose servers listen on loopback only and whose
# processes sit in a kubepods-shaped cgroup, and a client namespace joined to the helper by a veth.
# For each data path (splice, netns, unix, exec): TCP over 127.0.0.1 and ::1, UDP echo (including a
# 60 KB datagram), then all target servers killed and restarted, then the same again; and, for
# information, connection latency and one-stream throughput against the target's own loopback.
# Traffic never leaves namespaces this script creates; everything is removed at the end.
#   sh images/helper/verify-local.sh        (HELPER_ROOT=/path reuses or builds the root there;
#                                            MEASURE=0 skips the latency and throughput runs)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${HELPER_ROOT:-/tmp/helper-root}
W=$(mktemp -d /tmp/pf-verify.XXXXXX)
POD_UID=0f4e2a5c-1b2d-4c3e-9f00-aabbccddeeff
if [ -d /sys/fs/cgroup/systemd ]; then CGB=/sys/fs/cgroup/systemd; else CGB=/sys/fs/cgroup; fi # v1 hybrid | v2
CGTOP=$CGB/pf-verify-$$
CG=$CGTOP/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$(echo $POD_UID | tr - _).slice/cri-containerd-0123abcd.scope
A=10.231.77 # helper .1, client .2: addresses inside this script's own namespaces only
fails=0 passes=0

cleanup() {
  set +e
  for f in "$W"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  sleep 1
  for n in target helper client; do ip netns del pfv-$n 2>/dev/null; done
  find "$CGTOP" -depth -type d -exec rmdir {} + 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
check() { # check NAME COMMAND...: record a pass or a failure
  name=$1 && shift
  if out=$("$@" 2>&1); then passes=$((passes + 1)) && echo "PASS $name: $out"; else fails=$((fails + 1)) && echo "FAIL $name: $out"; fi
}

# 1. The image root, as the builder makes it (minbase + socat + rootfs/).
if [ ! -x "$ROOT/usr/bin/socat" ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null)
  . "$HERE/image.env"
  mmdebstrap --variant=minbase --include="$(echo $PACKAGES | tr ' ' ,)" "$SUITE" "$ROOT" "$mirror"
fi
cp -a "$HERE/rootfs/." "$ROOT/"
(cd "$HERE/relay" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ROOT/usr/local/bin/pf-relay" .)
mkdir -p "$ROOT/run/netns"
echo "socat in the image: $(chroot "$ROOT" socat -V | sed -n 's/^socat version \([^ ]*\).*/\1/p')"

# 2. Namespaces and the target pod's servers (each put in the pod's cgroup before it starts).
for n in target helper client; do ip netns add pfv-$n && ip -n pfv-$n link set lo up; done
ip link add pfv-h type veth peer name pfv-c
ip link set pfv-h netns pfv-helper && ip link set pfv-c netns pfv-client
ip -n pfv-helper addr add $A.1/24 dev pfv-h && ip -n pfv-helper link set pfv-h up
ip -n pfv-client addr add $A.2/24 dev pfv-c && ip -n pfv-client link set pfv-c up
mkdir -p "$CG" "$W/www" && echo hello-from-target >"$W/www/index.html"
cat >"$W/udpecho.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    d, peer = s.recvfrom(65535)
    s.sendto(b'echo:' + d, peer)
EOF
cat >"$W/udpclient.py" <<'EOF'
import socket, sys
dst = (sys.argv[1], int(sys.argv[2]))
def sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); return s
# a stream from one client, back to back (boundaries must hold), with a 60 KB datagram
s = sock(); msgs = [b'q%d' % i for i in range(10)] + [b'x' * 60000]
for m in msgs: s.sendto(m, dst)
got = []
try:
    while len(got) < len(msgs): got.append(s.recvfrom(70000)[0])
except socket.timeout: pass
stream = sorted(got) == sorted(b'echo:' + m for m in msgs)
# DNS-style: each query from a new socket (a new client port)
dns = 0
for i in range(10):
    s = sock(); s.sendto(b'd%d' % i, dst)
    try: dns += s.recvfrom(100)[0] == b'echo:d%d' % i
    except socket.timeout: pass
print(f'stream {len(got)}/{len(msgs)} echoed intact, one-shot clients {dns}/10')
sys.exit(0 if stream and dns == 10 else 1)
EOF
start_target() { # start NAME COMMAND...
  name=$1 && shift
  sh -c 'echo $$ >"$1/cgroup.procs" && cd "$2" && shift 2 && exec "$@"' sh "$CG" "$W/www" \
    ip netns exec pfv-target "$@" >/dev/null 2>&1 &
  echo $! >"$W/target-$name.pid"
}
start_targets() {
  start_target http4 python3 -m http.server --bind 127.0.0.1 8080
  start_target http6 python3 -m http.server --bind ::1 8081
  start_target udp4 python3 "$W/udpecho.py" 127.0.0.1 5353
  start_target udp6 python3 "$W/udpecho.py" ::1 5354
  start_target echo python3 "$HERE/../../bench/scripts/echo_server.py" 127.0.0.1 7002
  start_target iperf iperf3 -s -B 127.0.0.1 -p 5201
  i=0
  until [ "$(ip netns exec pfv-target ss -Hlntu | wc -l)" -ge 6 ]; do
    i=$((i + 1)) && [ $i -lt 100 ] || { echo "target servers did not start"; exit 1; }
    sleep 0.1
  done
}
stop_targets() { for s in http4 http6 udp4 udp6 echo iperf; do kill "$(cat "$W/target-$s.pid")"; done; sleep 0.5; }

# 3. The helper, as the container runs it; `probe` runs a command in its mount namespace, like an exec probe.
printf '#!/bin/sh\necho "mount: permission denied (as under AppArmor)" >&2\nexit 32\n' >"$W/nomount"
chmod +x "$W/nomount"
start_helper() { # start_helper DATA_PATH [nomount]
  ip netns exec pfv-helper unshare -m sh -c '
    R=$0 NOMOUNT=$1 && shift; mount --make-rprivate /
    mount --bind $R $R && mount -o remount,bind,ro $R
    mount --bind /proc $R/proc && mount --bind /dev $R/dev
    mount -t tmpfs -o size=1m tmpfs $R/run/netns
    [ -z "$NOMOUNT" ] || mount --bind "$NOMOUNT" $R/usr/bin/mount
    exec chroot $R env -i PATH=/usr/local/bin:/usr/bin:/bin "$@"' "$ROOT" "${2:+$W/nomount}" \
    PF_TARGET_POD_UID=$POD_UID PF_DATA_PATH="$1" PF_PORTS="10080:8080/tcp 10081:8081/tcp 15353:5353/udp 15354:5354/udp 17002:7002/tcp 15201:5201/tcp" \
    /usr/local/bin/pf-helper >"$W/helper-$1.log" 2>&1 &
  echo $! >"$W/helper.pid"
}
probe() { nsenter -t "$(cat "$W/helper.pid")" -m -n -r -w "$@"; }
wait_ready() {
  i=0
  until probe /usr/local/bin/pf-helper ready >/dev/null 2>&1; do
    i=$((i + 1)) && [ $i -lt 50 ] || { cat "$W/helper-$1.log"; return 1; }
    sleep 0.2
  done
  echo ready
}
curl_target() { ip netns exec pfv-client curl -sS -m 5 "http://$A.1:$1/"; }
udp_target() { ip netns exec pfv-client python3 "$W/udpclient.py" $A.1 "$1"; }
traffic() { # traffic LABEL
  check "$1 tcp to 127.0.0.1" curl_target 10080
  check "$1 tcp to ::1" curl_target 10081
  check "$1 udp to 127.0.0.1" udp_target 15353
  check "$1 udp to ::1" udp_target 15354
}

# Information, not checks: 300 short connections (connect, 10 bytes each way, close), and iperf3
# for 3 s, either straight to the target's loopback from inside its namespace or through the helper.
measure() { # measure LABEL NETNS HOST ECHO_PORT IPERF_PORT
  [ "${MEASURE:-1}" != 0 ] || return 0
  lat=$(ip netns exec "$2" python3 "$HERE/../../bench/scripts/latency_client.py" "$3" "$4" 300)
  gbps=$(ip netns exec "$2" iperf3 -c "$3" -p "$5" -t 3 -J 2>/dev/null |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9, 1))' 2>/dev/null)
  echo "MEASURE $1: connect+echo $lat, throughput ${gbps:-?} Gbit/s"
}

start_targets
measure direct pfv-target 127.0.0.1 7002 5201
for dp in splice netns unix exec; do
  start_helper $dp
  check "$dp helper ready" wait_ready $dp
  traffic "$dp"
  measure "$dp" pfv-client $A.1 17002 15201
  stop_targets && start_targets # like a restart of the target container: new processes, same pod
  traffic "$dp after target restart"
  kill -TERM "$(cat "$W/helper.pid")"
  rc=0 && wait "$(cat "$W/helper.pid")" || rc=$?
  check "$dp helper stops on SIGTERM" sh -c "test $rc = 0 && echo 'exit 0,' \$(tail -1 '$W/helper-$dp.log')"
  echo "--- helper log ($dp):" && grep -E '^pf-(helper|relay)' "$W/helper-$dp.log"
  rm "$W/helper.pid"
  # socat's UDP children outlive their parent for up to -T seconds and keep their port bound; end
  # them so that the next data path can bind (in a pod, the container's end kills them all).
  for p in $(ip netns pids pfv-helper); do kill "$p" 2>/dev/null; done
  sleep 0.5
done

# Where mounts are denied (AppArmor), the helper names the namespace with a symlink: it works, and
# when that process exits the helper exits non-zero so that the restart finds a live one.
start_helper splice nomount
check "no-mount helper ready" wait_ready splice
check "no-mount fallback logged" grep -h 'using a symlink' "$W/helper-splice.log"
traffic "no-mount"
stop_targets && start_targets
rc=0 && wait "$(cat "$W/helper.pid")" || rc=$?
check "no-mount helper exits 1 when its PID is gone" sh -c "test $rc = 1 && grep -h 'is gone' '$W/helper-splice.log'"
start_helper splice nomount
check "no-mount helper ready again" wait_ready splice
traffic "no-mount after helper restart"
kill -TERM "$(cat "$W/helper.pid")" && wait "$(cat "$W/helper.pid")" || true
rm "$W/helper.pid"
echo "$passes passed, $fails failed"
[ $fails = 0 ]
