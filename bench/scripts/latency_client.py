"""Times N short TCP connections (connect, 10 bytes each way, close); prints JSON percentiles in ms."""
import json
import socket
import sys
import time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
payload = b"0123456789"
samples, errors = [], 0
deadline = time.monotonic() + 60  # bounded in time as well as in count
for _ in range(count):
    if time.monotonic() > deadline:
        break
    start = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = s.recv(64)
                if not chunk:
                    raise ConnectionError("closed early")
                got += chunk
        samples.append((time.perf_counter() - start) * 1000)
    except OSError:
        errors += 1
samples.sort()


def pct(p):
    return round(samples[min(len(samples) - 1, int(p / 100 * len(samples)))], 3) if samples else None


print(json.dumps({"count": len(samples), "errors": errors, "p50": pct(50), "p99": pct(99)}))
