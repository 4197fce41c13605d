"""Sends BYTES to each client in 1 MiB writes, then closes: the plain bulk download's server.
A C-level sendall of large buffers, so the server is not what limits a path (socat fed by a pipe
moved 8 KiB per read).
  bulk_server.py HOST PORT BYTES"""
import socket
import sys
import threading

host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
chunk = memoryview(bytes(1 << 20))


def send(conn):
    with conn:
        left = total
        try:
            while left > 0:
                n = min(left, len(chunk))
                conn.sendall(chunk[:n])
                left -= n
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client went away


with socket.create_server((host, port), backlog=64) as server:
    while True:
        conn, _ = server.accept()
        threading.Thread(target=send, args=(conn,), daemon=True).start()
