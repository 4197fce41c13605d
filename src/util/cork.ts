// Batches a stream's writes per turn of the event loop: what is written in one turn leaves in one
// write (writev), so a fast stream costs a system call, and a wake-up of its reader, per batch.
import type { Writable } from 'node:stream';

const corked = new WeakSet<Writable>();

/** Holds `stream`'s writes until the end of this turn of the event loop (setImmediate). */
export function corkForThisTurn(stream: Writable): void {
  if (corked.has(stream)) return;
  corked.add(stream);
  stream.cork();
  setImmediate(() => {
    corked.delete(stream);
    stream.uncork();
  });
}
