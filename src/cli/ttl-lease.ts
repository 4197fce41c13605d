// The ttl of a PortForward that `forward` created, held as a lease: while the plugin runs it keeps
// pushing spec.ttl forward so the PortForward outlives a long session, and a killed plugin leaves
// it behind for at most about one ttl (the operator deletes it then).
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../api/index.js';
import { apiErrorMessage } from './kube.js';

/** Seconds as the API's duration format, largest units first: 3900 -> 1h5m. */
export function formatDuration(seconds: number): string {
  const units: [string, number][] = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  let left = Math.max(1, Math.ceil(seconds));
  let text = '';
  for (const [unit, size] of units) {
    const n = Math.floor(left / size);
    if (n === 0) continue;
    text += `${n}${unit}`;
    left -= n * size;
  }
  return text;
}

/** Renewed four times per ttl, so at least three quarters of it is always left. */
export function renewEveryMs(ttlSeconds: number): number {
  return Math.min(Math.max((ttlSeconds * 1000) / 4, 10_000), 600_000);
}

export class TtlLease {
  private timer: NodeJS.Timeout | undefined;
  /** Measured here, from when the PortForward was created: the server's clock is not ours. */
  private readonly startedAt = performance.now();

  constructor(
    private readonly kc: KubeConfig,
    private readonly pf: { namespace: string; name: string },
    private readonly ttlSeconds: number,
    private readonly warn: (line: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.renew(), renewEveryMs(this.ttlSeconds));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async renew(): Promise<void> {
    const elapsed = (performance.now() - this.startedAt) / 1000;
    const ttl = formatDuration(elapsed + this.ttlSeconds);
    try {
      await this.kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, plural: PLURAL, ...this.pf, body: { spec: { ttl } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      this.warn(`could not extend the ttl of PortForward ${this.pf.namespace}/${this.pf.name} (${apiErrorMessage(err)}); it expires when its ttl runs out`);
    }
  }
}
