// Tunnels move hundreds of MB/s through short-lived Buffers. V8 counts their memory towards the
// old generation's limit, and with the ~30 MB of live objects that client-node alone brings, the
// default limit (about 1.7 times what is live) was reached every 70 ms during a bulk transfer: the
// gateway spent about 40% of its CPU marking a heap that had not changed. A wider limit lets the
// young-generation collections free those buffers instead. Read at each limit computation, so
// setting it at start-up takes effect from the next collection.
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 300;

export function widenHeapGrowth(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
