// Prometheus metrics, served on /metrics by health.ts.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { PHASES, type Phase } from '../api/index.js';

/** PortForwards per phase (Unknown: no status yet), of one namespace. */
export type PhaseCounts = Partial<Record<Phase | 'Unknown', number>>;

export interface MetricSources {
  /** PortForwards per namespace and phase, read from the cache at scrape time. */
  phases: () => Record<string, PhaseCounts>;
  queueDepth: () => number;
}

export class Metrics {
  readonly registry = new Registry();
  private sources: MetricSources = { phases: () => ({}), queueDepth: () => 0 };

  private readonly reconciles = new Counter({
    name: 'portforward_reconcile_total',
    help: 'Reconcile passes, by result (done, requeue, error: failed, retried with backoff).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'portforward_reconcile_duration_seconds',
    help: 'Time spent in one reconcile pass.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly apiCalls = new Counter({
    name: 'portforward_api_requests_total',
    help: 'Requests the reconciler made to the API server (informers add one list and watch per kind), by call.',
    labelNames: ['call'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const self = this;
    new Gauge({
      name: 'portforward_resources',
      help: 'PortForwards, by namespace and phase (Unknown: no status yet). Every phase of a namespace with any PortForward is present, 0 or more.',
      labelNames: ['namespace', 'phase'] as const,
      registers: [this.registry],
      collect() {
        const byNamespace = self.sources.phases();
        this.reset(); // a namespace whose last PortForward is gone disappears
        for (const [namespace, counts] of Object.entries(byNamespace)) {
          for (const phase of [...PHASES, 'Unknown'] as const) this.set({ namespace, phase }, counts[phase] ?? 0);
        }
      },
    });
    new Gauge({
      name: 'portforward_queue_depth',
      help: 'Keys waiting in the work queue.',
      registers: [this.registry],
      collect() {
        this.set(self.sources.queueDepth());
      },
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  setSources(sources: MetricSources): void {
    this.sources = sources;
  }

  /** The same object, counting every call of its methods in portforward_api_requests_total. */
  countCalls<T extends object>(target: T): T {
    const wrapped = {} as Record<string, unknown>;
    for (const [name, fn] of Object.entries(target)) {
      wrapped[name] =
        typeof fn === 'function'
          ? (...args: unknown[]) => {
              this.apiCalls.inc({ call: name });
              return fn.apply(target, args);
            }
          : fn;
    }
    return wrapped as T;
  }

  /** One finished reconcile: how it ended (done, requeue or error) and how long it took. */
  observeReconcile(outcome: 'done' | 'requeue' | 'error', seconds: number): void {
    this.reconciles.inc({ result: outcome });
    this.duration.observe(seconds);
  }
}
