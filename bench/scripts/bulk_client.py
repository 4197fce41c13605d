# Reads one connection to its end and reports the rate: a plain bulk download, the transfer that
# `kubectl port-forward` survives (iperf3's reset at the end of a test kills its session).
#   bulk_client.py HOST PORT
import json, socket, sys, time

host, port = sys.argv[1], int(sys.argv[2])
buf = bytearray(1 << 20)
view = memoryview(buf)
total = 0
start = time.perf_counter()
with socket.create_connection((host, port), timeout=60) as s:
    while True:
        n = s.recv_into(view)
        if n == 0:
            break
        total += n
seconds = time.perf_counter() - start
print(json.dumps({"bytes": total, "seconds": seconds, "gbps": total * 8 / seconds / 1e9}))
