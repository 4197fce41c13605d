// Follows one PortForward: a watch from the resourceVersion last seen, re-listed after errors or
// 410 Gone, restarted with capped backoff, and refreshed every few minutes even when quiet.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type PortForward } from '../api/index.js';
import { apiErrorMessage, getPortForward } from './kube.js';

export interface WatchHandlers {
  /** The latest object; undefined when it was deleted. */
  changed: (pf: PortForward | undefined) => void;
  /** One line about a watch problem (it keeps retrying). */
  warn: (line: string) => void;
}

const WATCH_SECONDS = 240;
const MAX_BACKOFF_MS = 30_000;

export class PortForwardWatch {
  private stopped = false;
  private abort: AbortController | undefined;
  private resourceVersion: string | undefined;
  private sleeping: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(
    private readonly kc: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
    private readonly handlers: WatchHandlers,
  ) {}

  /** Starts following from an object already read. */
  start(initial: PortForward): void {
    this.resourceVersion = initial.metadata.resourceVersion;
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    if (this.sleeping) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.resolve();
    }
  }

  private async loop(): Promise<void> {
    let backoff = 1000;
    while (!this.stopped) {
      let problem: string | undefined;
      try {
        if (this.resourceVersion === undefined) {
          const got = await getPortForward(this.kc, this.namespace, this.name);
          if (this.stopped) return;
          if (!got.found) {
            this.handlers.changed(undefined);
            if (!got.missingType) return;
            problem = got.message;
          } else {
            this.resourceVersion = got.pf.metadata.resourceVersion;
            this.handlers.changed(got.pf);
          }
        }
        if (problem === undefined) problem = await this.watchOnce();
      } catch (err) {
        problem = apiErrorMessage(err);
      }
      if (this.stopped) return;
      if (problem === undefined) {
        backoff = 1000;
        continue;
      }
      this.resourceVersion = undefined;
      this.handlers.warn(`lost the watch on PortForward ${this.namespace}/${this.name} (${problem}); retrying in ${backoff / 1000}s`);
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  /** One watch request; resolves undefined when it ended normally, or with the problem. */
  private watchOnce(): Promise<string | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (problem: string | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        resolve(problem);
      };
      // The server ends the watch after timeoutSeconds; if it goes silent instead, start over.
      const watchdog = setTimeout(() => {
        this.abort?.abort();
        settle(undefined);
      }, (WATCH_SECONDS + 30) * 1000);
      const path = `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(this.namespace)}/${PLURAL}`;
      const query = {
        fieldSelector: `metadata.name=${this.name}`,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: WATCH_SECONDS,
      };
      const onEvent = (type: string, obj: unknown): void => {
        if (this.stopped) return;
        const o = obj as PortForward & { code?: number; message?: string };
        if (type === 'ERROR') {
          // 410 Gone: the resourceVersion is too old; re-read the object and watch from there.
          this.resourceVersion = undefined;
          if (o.code !== 410) this.handlers.warn(`watch on PortForward ${this.namespace}/${this.name}: ${o.message ?? 'error'}`);
          this.abort?.abort();
          settle(undefined);
          return;
        }
        const rv = o.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (type === 'ADDED' || type === 'MODIFIED') this.handlers.changed(o);
        else if (type === 'DELETED') this.handlers.changed(undefined);
      };
      const onDone = (err: unknown): void => {
        if (this.stopped || !err || (err as { name?: string }).name === 'AbortError') settle(undefined);
        else settle(apiErrorMessage(err));
      };
      new Watch(this.kc)
        .watch(path, query, onEvent, onDone)
        .then((abort) => {
          this.abort = abort;
          if (this.stopped || settled) abort.abort();
        })
        .catch((err: unknown) => settle(apiErrorMessage(err)));
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeping = undefined;
        resolve();
      }, ms);
      this.sleeping = { timer, resolve };
    });
  }
}
