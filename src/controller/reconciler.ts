// One level-triggered pass over a PortForward: read what is, decide what should be, converge, and
// write the status. Called with a key only; it never trusts the event that caused it.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { ownerOf, parseSpec, type Owner, type PortForward, type PortForwardSpec, type PortForwardStatus, type ResolvedTarget } from '../api/index.js';
import type { Config } from '../config.js';
import type { KubeApi } from '../kube/api.js';
import { describeError, isApiError } from '../kube/errors.js';
import type { ClusterCache } from '../kube/informers.js';
import { rfc3339, timeMs } from '../kube/time.js';
import { healthPort, helperPodFor, type HelperSettings } from '../resources/helper-pod.js';
import { proxyServiceName, serviceName as serviceNameOf } from '../resources/names.js';
import { proxyServiceFor } from '../resources/proxy-service.js';
import { endpointSliceFor, serviceFor } from '../resources/service.js';
import { addFinalizer, allHelpers, cachedHelpers, deleteHelpers, hasFinalizer, ownerSelector, removeFinalizer } from './cleanup.js';
import type { EventRecorder, EventType } from './events.js';
import { expiresAtMs } from './expiry.js';
import { HELPER_STARTUP_GRACE_MS, helperReadiness, isPodReady, planHelper, queuedReadiness, startingHelpersOn } from './helper.js';
import { CONFLICT_RETRY_MS, done, failed, notAfter, onPrimary, requeueAfter, resultOfError, type Result } from './result.js';
import { deleteOwnedChildren, syncEndpointSlice, syncProxyService, syncService } from './service-sync.js';
import { accessFor, composeStatus, portsSummary, readyCondition, sameStatus, type Observed, type Readiness } from './status.js';
import { resolveTarget, type TargetLookup } from './target.js';
import { checkTraffic, type TunnelProbe } from './traffic-check.js';
import { DEFAULT_START_LIMITS, StartLimits } from './start-limit.js';

export type ReconcilerConfig = Pick<
  Config,
  'namespace' | 'helperImage' | 'helperImagePullPolicy' | 'helperDataPath' | 'maxTtlSeconds' | 'helperMaxStartingPerNode' | 'readyCheck'
>;

export interface ReconcilerDeps {
  config: ReconcilerConfig;
  cache: ClusterCache;
  api: KubeApi;
  events: EventRecorder;
  /** The network checks behind Ready (config.readyCheck 'traffic'). */
  probe: TunnelProbe;
  now?: () => number;
}

/** How often a PortForward blocked by someone else's Service looks again. */
const CONFLICT_RECHECK_MS = 60_000;

/** How soon a helper waiting for a start slot on its node looks again. */
const START_SLOT_RECHECK_MS = 2000;

/** How soon to look again while an old helper still holds the name of its replacement. */
const NAME_FREED_RECHECK_MS = 2000;

/** Reasons worth a Warning Event even though the phase is not Failed. */
const WARNING_REASONS = new Set(['HelperNotReady', 'HelperCreateFailed', 'TargetPortClosed', 'TunnelCheckFailed']);

type BaseStatus = Pick<Observed, 'generation' | 'ports' | 'expiresAt'>;

/** What one pass has established before it looks at the target. */
interface Pass {
  pf: PortForward;
  owner: Owner;
  spec: PortForwardSpec;
  base: BaseStatus;
  now: number;
  clusterIP: string | undefined;
}

export function splitKey(key: string): [namespace: string, name: string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

export class Reconciler {
  private readonly config: ReconcilerConfig;
  private readonly cache: ClusterCache;
  private readonly api: KubeApi;
  private readonly events: EventRecorder;
  private readonly probe: TunnelProbe;
  private readonly startLimits: StartLimits;
  private readonly now: () => number;
  private readonly helperSettings: HelperSettings;
  private readonly lookup: TargetLookup;

  constructor(deps: ReconcilerDeps) {
    this.config = deps.config;
    this.cache = deps.cache;
    this.api = deps.api;
    this.events = deps.events;
    this.probe = deps.probe;
    this.now = deps.now ?? Date.now;
    this.startLimits = new StartLimits({ ...DEFAULT_START_LIMITS, ceiling: deps.config.helperMaxStartingPerNode }, this.now);
    this.helperSettings = {
      namespace: deps.config.namespace,
      image: deps.config.helperImage,
      imagePullPolicy: deps.config.helperImagePullPolicy,
      dataPath: deps.config.helperDataPath,
    };
    this.lookup = {
      namespace: (name) => this.cache.namespaces.get('', name),
      pod: (namespace, name) => this.cache.pods.get(namespace, name),
      pods: (namespace) => this.cache.pods.list(namespace),
    };
  }

  async reconcile(key: string, log: Logger): Promise<Result> {
    const [namespace, name] = splitKey(key);
    const pf = this.cache.portForwards.get(namespace, name);
    if (!pf) return done; // gone, and its finalizer already ran
    try {
      if (pf.metadata.deletionTimestamp) return await this.finalize(pf, log);
      return await this.converge(pf, log);
    } catch (err) {
      return resultOfError(err);
    }
  }

  private async finalize(pf: PortForward, log: Logger): Promise<Result> {
    if (!hasFinalizer(pf)) return done;
    const owner = ownerOf(pf);
    // Ask the API server rather than the cache: a helper created a moment ago must not survive.
    const helpers = await this.api.listPods(this.config.namespace, ownerSelector(owner.uid));
    await deleteHelpers(this.api, helpers, log, 'PortForward deleted');
    await deleteOwnedChildren(this.api, this.cache, owner, serviceNameOf(owner.name));
    await this.api.deleteService(this.config.namespace, proxyServiceName(owner.namespace, owner.name));
    await onPrimary(removeFinalizer(this.api, pf));
    this.events.forget(owner.uid);
    log.info('cleaned up after deleted PortForward');
    return done;
  }

  private async converge(cached: PortForward, log: Logger): Promise<Result> {
    const pf = await onPrimary(addFinalizer(this.api, cached));
    const owner = ownerOf(pf);
    const generation = pf.metadata.generation;

    const parsed = parseSpec(pf.spec);
    if (!parsed.ok) {
      await this.removeHelpers(owner, log, 'spec is invalid');
      await this.publish(pf, { generation, readiness: invalidSpec(pf, parsed.message) }, log);
      return done; // terminal until the spec changes, which enqueues it again
    }
    const spec = parsed.spec;

    const now = this.now();
    const expiresAt = expiresAtMs(timeMs(pf.metadata.creationTimestamp) ?? now, spec.ttl, this.config.maxTtlSeconds);
    const base: BaseStatus = {
      generation,
      ports: portsSummary(spec),
      expiresAt: expiresAt === undefined ? undefined : rfc3339(expiresAt),
    };
    if (expiresAt !== undefined && expiresAt <= now) return this.expire(pf, base, log);
    const untilExpiry = expiresAt === undefined ? undefined : expiresAt - now;

    // The Service first: it is the user's stable address, and a name taken by someone else stops everything.
    const service = await syncService(this.api, this.cache.services, owner, serviceFor(owner, spec));
    if (service.kind === 'retry') return requeueAfter(CONFLICT_RETRY_MS);
    if (service.kind === 'conflict') return notAfter(await this.serviceConflict(pf, base, service.message, log), untilExpiry);
    const proxy = await syncProxyService(this.api, this.cache.services, owner, proxyServiceFor(owner, spec, this.helperSettings));
    if (proxy.kind === 'retry') return requeueAfter(CONFLICT_RETRY_MS);
    if (proxy.kind === 'conflict') return notAfter(await this.serviceConflict(pf, base, proxy.message, log), untilExpiry);
    const pass: Pass = { pf, owner, spec, base, now, clusterIP: service.object.spec?.clusterIP };
    return notAfter(await this.syncTunnel(pass, log), untilExpiry);
  }

  /** Target, helper and EndpointSlice, then the status that describes them. */
  private async syncTunnel(pass: Pass, log: Logger): Promise<Result> {
    const { pf, owner, spec, base, now } = pass;
    const serviceName = serviceNameOf(owner.name);
    const service = { namespace: owner.namespace, name: serviceName, clusterIP: pass.clusterIP };
    const at = {
      serviceName,
      serviceNamespace: owner.namespace,
      helperNamespace: this.config.namespace,
      proxyServiceName: proxyServiceName(owner.namespace, owner.name),
    };

    const resolution = resolveTarget(owner.namespace, spec.target, this.lookup, pf.status?.target?.uid);
    if (!resolution.ok) {
      // No target, no tunnel: a helper must not keep relaying into a pod the PortForward may no longer reach.
      await this.removeHelpers(owner, log, resolution.reason);
      const endpoints = await syncEndpointSlice(this.api, this.cache.endpointSlices, owner, endpointSliceFor(owner, spec, undefined));
      if (endpoints.kind === 'retry') return requeueAfter(CONFLICT_RETRY_MS);
      if (endpoints.kind === 'conflict') return this.serviceConflict(pf, base, endpoints.message, log);
      const { phase, reason, message } = resolution;
      const readiness: Readiness = { phase, status: 'False', reason, message };
      await this.publish(pf, { ...base, readiness, service, access: accessFor(spec, { ...at, helperPod: undefined }) }, log);
      return done; // pod and namespace events bring the change that lets it go on
    }
    const target = resolution.target;

    const desired = helperPodFor(owner, spec, target, this.helperSettings);
    const helperName = desired.metadata!.name!;
    const plan = planHelper(cachedHelpers(this.cache.pods, this.config.namespace, owner.uid), desired);
    await deleteHelpers(this.api, plan.remove, log, 'replaced by a helper for the current target and spec');
    // An outdated helper keeps serving until its node has a start slot for the replacement.
    let helper = plan.current;
    if (plan.outdated && this.hasStartSlot(target.node)) {
      await deleteHelpers(this.api, [plan.outdated], log, 'replaced by a helper with the current template');
    } else if (plan.outdated) {
      helper = plan.outdated;
    }
    if (plan.create) {
      if (!this.hasStartSlot(target.node)) {
        await this.publish(pf, { ...base, target, readiness: queuedReadiness(target.node, this.config.helperMaxStartingPerNode) }, log);
        return requeueAfter(START_SLOT_RECHECK_MS);
      }
      const ended = await this.createHelper(pf, desired, target, base, log);
      if (ended) return ended;
    }

    const helperIP = helper?.status?.podIP;
    const endpoint =
      helper && helperIP
        ? { podName: helperName, podNamespace: this.config.namespace, podIP: helperIP, nodeName: target.node, ready: isPodReady(helper) }
        : undefined;
    const endpoints = await syncEndpointSlice(this.api, this.cache.endpointSlices, owner, endpointSliceFor(owner, spec, endpoint));
    if (endpoints.kind === 'retry') return requeueAfter(CONFLICT_RETRY_MS);
    if (endpoints.kind === 'conflict') return this.serviceConflict(pf, base, endpoints.message, log);

    const access = accessFor(spec, { ...at, helperPod: helperName });
    let readiness = helperReadiness(helper, helperName, this.config.namespace, target.node, now);
    let recheckMs: number | undefined;
    if (readiness.status === 'True' && helperIP && this.config.readyCheck === 'traffic') {
      const verdict = await checkTraffic(this.probe, {
        spec,
        target,
        helperName,
        helperIP,
        healthPort: this.helperSettings.dataPath === 'splice' ? healthPort(spec) : undefined,
        clusterIP: pass.clusterIP,
      });
      if (verdict.notReady) [readiness, recheckMs] = [verdict.notReady, verdict.recheckMs];
    }
    if (readiness.status === 'True') readiness = { ...readiness, message: readyMessage(spec, access, target) };
    const helperStatus = { namespace: this.config.namespace, pod: helperName, ...(helperIP ? { podIP: helperIP } : {}) };
    await this.publish(pf, { ...base, readiness, target, helper: helperStatus, service, access }, log);

    if (readiness.status === 'True') return plan.outdated && helper === plan.outdated ? requeueAfter(START_SLOT_RECHECK_MS) : done;
    // Pod events bring most changes; this re-check covers a helper that never turns ready, a target
    // port that opens later, a Service kube-proxy has not programmed yet, and an old helper still
    // holding the name the new one needs.
    return requeueAfter(recheckMs ?? (plan.current || plan.create ? HELPER_STARTUP_GRACE_MS : NAME_FREED_RECHECK_MS));
  }

  /** Whether another helper may start (or be replaced) on node now: see StartLimits. */
  private hasStartSlot(node: string): boolean {
    const helpers = allHelpers(this.cache.pods, this.config.namespace);
    this.startLimits.observe(helpers);
    return startingHelpersOn(helpers, node) < this.startLimits.limitFor(node);
  }

  /** Creates the helper; returns a Result when the pass should end here. */
  private async createHelper(
    pf: PortForward,
    desired: V1Pod,
    target: ResolvedTarget,
    base: BaseStatus,
    log: Logger,
  ): Promise<Result | undefined> {
    const name = desired.metadata!.name!;
    try {
      await this.api.createPod(desired);
    } catch (err) {
      if (isApiError(err, 409)) return requeueAfter(CONFLICT_RETRY_MS); // our cache has not seen it yet
      const reason = describeError(err).message;
      await this.publish(
        pf,
        {
          ...base,
          target,
          readiness: {
            phase: 'Pending',
            status: 'False',
            reason: 'HelperCreateFailed',
            message: `Could not create helper pod ${this.config.namespace}/${name}: ${reason}`,
          },
        },
        log,
      );
      return failed(err);
    }
    log.info('created helper pod', { helper: name, node: target.node, target: `${target.namespace}/${target.pod}` });
    await this.events.record(
      pf,
      'Normal',
      'HelperCreated',
      `Created helper pod ${this.config.namespace}/${name} on node ${target.node} for pod ${target.namespace}/${target.pod}.`,
      log,
    );
    return undefined;
  }

  private async expire(pf: PortForward, base: BaseStatus, log: Logger): Promise<Result> {
    await this.publish(
      pf,
      {
        ...base,
        readiness: {
          phase: 'Expired',
          status: 'False',
          reason: 'Expired',
          message: `The ttl ran out at ${base.expiresAt}; the PortForward is being deleted.`,
        },
      },
      log,
    );
    await onPrimary(this.api.deletePortForward(pf.metadata.namespace!, pf.metadata.name!, pf.metadata.uid!));
    log.info('deleted expired PortForward', { expiresAt: base.expiresAt });
    return done;
  }

  private async serviceConflict(
    pf: PortForward,
    base: BaseStatus,
    message: string,
    log: Logger,
  ): Promise<Result> {
    await this.removeHelpers(ownerOf(pf), log, 'ServiceNameConflict');
    await this.publish(pf, { ...base, readiness: { phase: 'Failed', status: 'False', reason: 'ServiceNameConflict', message } }, log);
    // The other object is outside our caches (they hold only our own), so its removal sends no event: look again.
    return requeueAfter(CONFLICT_RECHECK_MS);
  }

  private async removeHelpers(owner: Owner, log: Logger, why: string): Promise<void> {
    await deleteHelpers(this.api, cachedHelpers(this.cache.pods, this.config.namespace, owner.uid), log, why);
  }

  /** Writes the full status when it changed, and an Event when the Ready reason changed. */
  private async publish(pf: PortForward, observed: Observed, log: Logger): Promise<void> {
    const previous: PortForwardStatus | undefined = pf.status;
    const status = composeStatus(previous, observed, rfc3339(this.now()));
    if (!sameStatus(previous, status)) {
      await onPrimary(this.api.replacePortForwardStatus({ ...pf, status }));
      log.debug('status written', { phase: status.phase, reason: observed.readiness.reason });
    }
    const { readiness } = observed;
    const type: EventType = readiness.phase === 'Failed' || WARNING_REASONS.has(readiness.reason) ? 'Warning' : 'Normal';
    await this.events.transition(pf, readyCondition(previous)?.reason, type, readiness.reason, readiness.message, log);
  }
}

function invalidSpec(pf: PortForward, problems: string): Readiness {
  return {
    phase: 'Failed',
    status: 'False',
    reason: 'InvalidSpec',
    message: `The spec is invalid: ${problems}. Fix it with: kubectl edit portforward ${pf.metadata.name} -n ${pf.metadata.namespace}`,
  };
}

function readyMessage(spec: PortForwardSpec, access: NonNullable<PortForwardStatus['access']>, target: ResolvedTarget): string {
  const where = access.inCluster?.[0] ?? `${spec.ports[0]?.port}`;
  return `The tunnel is up: ${where} reaches pod ${target.namespace}/${target.pod} on node ${target.node}.`;
}
