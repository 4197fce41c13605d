// Events on the PortForward (kubectl describe pf), written when something changes: a new Ready
// reason, a helper created, an expiry. Never one per pass. Best effort: a failed Event is logged,
// not retried, and never fails a reconcile.
import { randomBytes } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { API_VERSION, KIND, type PortForward } from '../api/index.js';
import type { KubeApi } from '../kube/api.js';
import { describeError } from '../kube/errors.js';
import type { EventType } from './reasons.js';

export const COMPONENT = 'portforward-operator';


/** The same Event again within this long bumps the first one's count, as client-go's correlator does. */
const AGGREGATE_WITHIN_MS = 10 * 60_000;
const MAX_REMEMBERED = 1000;

export class EventRecorder {
  /** Last reason announced per PortForward uid and condition: the status in the cache can lag our own writes. */
  private readonly announced = new Map<string, Map<string, string>>();
  /** Recent Events by what they say, to count repeats on one object instead of writing new ones. */
  private readonly recent = new Map<string, CoreV1Event>();

  constructor(
    private readonly api: KubeApi,
    private readonly instance: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Records an Event when `reason` differs from the last one announced (or, after a restart, from `previousReason`). */
  async transition(pf: PortForward, previousReason: string | undefined, type: EventType, reason: string, message: string, log: Logger, condition = 'Ready') {
    const uid = pf.metadata.uid ?? '';
    let byCondition = this.announced.get(uid);
    if (!byCondition) this.announced.set(uid, (byCondition = new Map()));
    const last = byCondition.get(condition) ?? previousReason;
    if (last === reason) return;
    byCondition.set(condition, reason);
    await this.record(pf, type, reason, message, log);
  }

  async record(pf: PortForward, type: EventType, reason: string, message: string, log: Logger): Promise<void> {
    const now = this.now();
    const key = [pf.metadata.uid, type, reason, message].join('\n');
    const previous = this.recent.get(key);
    if (previous && now.getTime() - new Date(previous.lastTimestamp ?? 0).getTime() < AGGREGATE_WITHIN_MS) {
      const bumped = { ...previous, count: (previous.count ?? 1) + 1, lastTimestamp: now };
      try {
        if (await this.api.replaceEvent(bumped)) {
          this.remember(key, bumped);
          log.info('event', { type, reason, message, count: bumped.count });
          return;
        }
      } catch (err) {
        log.warn('could not update event', { reason, error: describeError(err) });
        return;
      }
    }
    const event: CoreV1Event = {
      metadata: { name: `${pf.metadata.name}.${now.getTime().toString(16)}${randomBytes(2).toString('hex')}`, namespace: pf.metadata.namespace },
      involvedObject: {
        apiVersion: API_VERSION,
        kind: KIND,
        name: pf.metadata.name,
        namespace: pf.metadata.namespace,
        uid: pf.metadata.uid,
        resourceVersion: pf.metadata.resourceVersion,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.api.createEvent(event);
      this.remember(key, event);
      log.info('event', { type, reason, message });
    } catch (err) {
      log.warn('could not record event', { reason, error: describeError(err) });
    }
  }

  /** Forget a deleted PortForward. */
  forget(uid: string | undefined): void {
    if (uid) this.announced.delete(uid);
  }

  private remember(key: string, event: CoreV1Event): void {
    this.recent.delete(key); // re-inserted last: the map's order is the order of use
    this.recent.set(key, event);
    if (this.recent.size > MAX_REMEMBERED) this.recent.delete(this.recent.keys().next().value!);
  }
}
