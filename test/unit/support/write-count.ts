// Counts the writes a stream hands to the kernel (its _write and _writev calls): what corking is
// meant to reduce. Each entry is the number of chunks in one write.
import type { Duplex } from 'node:stream';

type Write = (...args: unknown[]) => void;

export function countWrites(stream: Duplex): number[] {
  const writes: number[] = [];
  const s = stream as unknown as { _write: Write; _writev?: (chunks: unknown[], cb: unknown) => void };
  const write = s._write;
  const writev = s._writev;
  s._write = (...args) => (writes.push(1), write.apply(stream, args));
  if (writev) s._writev = (chunks, cb) => (writes.push(chunks.length), writev.call(stream, chunks, cb));
  return writes;
}
