// A list+watch cache (client-node's makeInformer) that does not die: client-node stops an informer
// for good on a failed list or watch; this one restarts it with backoff (0.8 s -> 30 s, jitter),
// resuming from the last resourceVersion (client-node relists by itself on 410 Gone).
import {
  ListWatch,
  Watch,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ListPromise,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { WATCH_BACKOFF, backoffDelay } from '../util/backoff.js';
import { describeError, isApiError } from './errors.js';

/** Read access to cached objects; cluster-scoped objects use namespace ''. */
export interface Store<T> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): readonly T[];
}

export type ChangeHandler<T> = (obj: T) => void;

/** A store that also tells of its changes: what the controller watches. */
export interface WatchedStore<T> extends Store<T> {
  /** Called on add, update and delete (with the last known state). */
  onChange(handler: ChangeHandler<T>): void;
}

/** What the cache keeps of each object: a projection to the fields the operator reads. */
export type Projection<T> = (obj: T) => T;

/** A Watch that hands every event's object through a projection before the cache sees it. */
class ProjectingWatch<T> extends Watch {
  constructor(
    kubeConfig: KubeConfig,
    private readonly project: Projection<T>,
  ) {
    super(kubeConfig);
  }

  override watch(...[path, params, callback, done]: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
    // ERROR events carry a Status, not an object of the kind watched
    return super.watch(path, params, (phase, obj, raw) => callback(phase, phase === 'ERROR' ? obj : this.project(obj as T), raw), done);
  }
}

/** After this long without errors a failure counts as the first again. */
const HEALTHY_RESET_MS = 60_000;

export class ResilientInformer<T extends KubernetesObject> implements WatchedStore<T> {
  readonly synced: Promise<void>;
  private markSynced!: () => void;
  private isSynced = false;
  private readonly informer: Informer<T> & ObjectCache<T>;
  private stopped = true;
  private failures = 0;
  private lastFailureAt = 0;
  private errorsThisStart = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly resource: string,
    kubeConfig: KubeConfig,
    path: string,
    list: ListPromise<T>,
    private readonly log: Logger,
    labelSelector?: string,
    project?: Projection<T>,
  ) {
    this.synced = new Promise((resolve) => (this.markSynced = resolve));
    // makeInformer, with the projection applied to what the list and the watch deliver
    const watch = project ? new ProjectingWatch(kubeConfig, project) : new Watch(kubeConfig);
    const projectedList: ListPromise<T> = project ? async () => {
      const listed = await list();
      return { ...listed, items: listed.items.map(project) };
    } : list;
    this.informer = new ListWatch<T>(path, watch, projectedList, false, labelSelector);
    this.informer.on('error', (err) => this.onError(err));
  }

  get hasSynced(): boolean {
    return this.isSynced;
  }

  /** Called on add, update and delete (with the last known state). */
  onChange(handler: ChangeHandler<T>): void {
    this.informer.on('add', handler);
    this.informer.on('update', handler);
    this.informer.on('delete', handler);
  }

  get(namespace: string, name: string): T | undefined {
    return this.informer.get(name, namespace || undefined);
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  start(): void {
    this.stopped = false;
    void this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  private async attempt(): Promise<void> {
    this.errorsThisStart = 0;
    try {
      await this.informer.start(); // resolves once listed and watching, or after reporting an error
    } catch (err) {
      this.onError(err);
      return;
    }
    if (this.errorsThisStart === 0 && !this.stopped && !this.isSynced) {
      this.isSynced = true;
      this.log.info('informer synced', { resource: this.resource, objects: this.informer.list().length });
      this.markSynced();
    }
  }

  private onError(err: unknown): void {
    this.errorsThisStart++;
    if (this.stopped) return; // stop() aborts the watch, which reports as an error
    const now = Date.now();
    if (now - this.lastFailureAt > HEALTHY_RESET_MS) this.failures = 0;
    this.lastFailureAt = now;
    this.failures++;
    const delay = backoffDelay(WATCH_BACKOFF, this.failures);
    const hint = isApiError(err, 404) ? { hint: `the API server does not serve ${this.resource}: is its CRD installed?` } : {};
    this.log.warn('watch failed, restarting', { resource: this.resource, retryInMs: delay, error: describeError(err), ...hint });
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (!this.stopped) void this.attempt();
    }, delay);
    this.restartTimer.unref();
  }
}
