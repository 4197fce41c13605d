// One level-triggered pass over a PortForward, shaped as controller-rs shapes one: observe what is,
// decide and act (converge the children), then compose the whole status from what the pass saw and
// did, and write it once. Called with a key only; it never trusts the event that caused it.
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { ownerOf, parseSpec, type Owner, type PortForward, type PortForwardSpec, type PortForwardStatus, type ResolvedTarget } from '../api/index.js';
import type { Config } from '../config.js';
import type { KubeApi } from '../kube/api.js';
import { describeError, isApiError } from '../kube/errors.js';
import type { ClusterCache } from '../kube/caches.js';
import { rfc3339, timeMs } from '../kube/time.js';
import { healthPort, helperPodFor, type HelperSettings } from '../resources/helper-pod.js';
import { ANNOTATIONS, LABELS, MANAGED_SELECTOR, serviceName as serviceNameOf } from '../resources/names.js';
import { endpointSliceFor, serviceFor, type HelperEndpoint } from '../resources/service.js';
import { removeLegacyFinalizer } from './finalizer.js';
import { allHelpers, cachedHelpers, deleteHelpers, ownerSelector } from './helper-pods.js';
import type { EventRecorder } from './events.js';
import { expiresAtMs } from './expiry.js';
import { HELPER_STARTUP_GRACE_MS, helperNotReady, planHelper, queuedReadiness } from './helper-plan.js';
import { isPodFinished, isPodReady } from '../kube/pods.js';
import { eventTypeOf, type Readiness } from './reasons.js';
import { CONFLICT_RETRY_MS, done, failed, notAfter, onPrimary, requeueAfter, resultOfError, type Result } from './result.js';
import { controllerOf, deleteOwnedChildren, isOwnedBy, syncEndpointSlice, syncService } from './service-sync.js';
import { DEFAULT_START_LIMITS, StartLimits, type Reservation } from './start-limit.js';
import { accessFor, portsSummary } from './access.js';
import { composeStatus, readyCondition, sameStatus, targetNodeCondition, type Observed } from './status.js';
import { TARGET_NODE_READY, nodeHealth } from './node-health.js';
import { splitKey } from './keys.js';
import { resolveTarget, type TargetLookup } from './target.js';
import { clientsRefusal } from './clients.js';
import { deleteHelperPolicies, syncHelperPolicy } from './policy-sync.js';
import { helperPolicyFor } from '../resources/network-policy.js';
import { askHelper, checkTraffic, type TunnelProbe } from './traffic-check.js';
import { HelperFailures } from './helper-failures.js';
import { namespaceLimitReadiness, withinNamespaceLimit } from './namespace-limit.js';

export type ReconcilerConfig = Pick<
  Config,
  | 'helperNamespace'
  | 'helperImage'
  | 'helperImagePullPolicy'
  | 'helperDataPath'
  | 'helperPriorityClass'
  | 'maxTtlSeconds'
  | 'helperMaxStartingPerNode'
  | 'maxHelpersPerNamespace'
  | 'readyCheck'
  | 'readySettleMs'
>;

/** What the helper pod builder takes from the operator's settings. */
export function helperSettingsOf(config: ReconcilerConfig): HelperSettings {
  return {
    namespace: config.helperNamespace,
    image: config.helperImage,
    imagePullPolicy: config.helperImagePullPolicy,
    dataPath: config.helperDataPath,
    priorityClassName: config.helperPriorityClass,
  };
}

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

/**
 * How soon a helper waiting for a start slot on its node looks again. Helper pod events on that
 * node wake it first (see PortForwardIndex); this is the fallback for an event that came before
 * the PortForward's queued status reached the cache.
 */
const START_SLOT_RECHECK_MS = 10_000;

/** How soon a Ready PortForward whose helper is outdated looks for a slot to replace it (no event wakes it). */
const REPLACE_RECHECK_MS = 2000;

/** How soon to look again while an old helper still holds the name of its replacement. */
const NAME_FREED_RECHECK_MS = 2000;

/**
 * What a pass has seen and done so far. Each step adds what it established; the status is composed
 * from all of it at the end, so a Service that exists is in the status whatever stopped the pass.
 */
interface Pass {
  pf: PortForward;
  owner: Owner;
  observed: Omit<Observed, 'readiness'>;
}

/** How a pass ends: the Ready condition it decided (none: nothing was established, keep the status) and when to look again. */
interface Verdict {
  readiness?: Readiness;
  result: Result;
}

const retrySoon: Verdict = { result: requeueAfter(CONFLICT_RETRY_MS) };

export class Reconciler {
  private readonly config: ReconcilerConfig;
  private readonly cache: ClusterCache;
  private readonly api: KubeApi;
  private readonly events: EventRecorder;
  private readonly probe: TunnelProbe;
  private readonly startLimits: StartLimits;
  private readonly helperFailures: HelperFailures;
  private readonly now: () => number;
  private readonly helperSettings: HelperSettings;
  private readonly lookup: TargetLookup;
  /** Per PortForward uid: the helper whose endpoint is published ready, and since when. */
  private readonly published = new Map<string, { helper: string; since: number }>();

  constructor(deps: ReconcilerDeps) {
    this.config = deps.config;
    this.cache = deps.cache;
    this.api = deps.api;
    this.events = deps.events;
    this.probe = deps.probe;
    this.now = deps.now ?? Date.now;
    this.startLimits = new StartLimits({ ...DEFAULT_START_LIMITS, ceiling: deps.config.helperMaxStartingPerNode }, this.now);
    this.helperFailures = new HelperFailures(this.now);
    this.helperSettings = helperSettingsOf(deps.config);
    this.lookup = {
      namespace: (name) => this.cache.namespaces.get('', name),
      pod: (namespace, name) => this.cache.pods.get(namespace, name),
      pods: (namespace) => this.cache.pods.list(namespace),
      service: (namespace, name) => this.cache.targetServices.get(namespace, name),
      workload: (kind, namespace, name) => this.cache.workloads[kind].get(namespace, name),
    };
  }

  async reconcile(key: string, log: Logger): Promise<Result> {
    const [namespace, name] = splitKey(key);
    const pf = this.cache.portForwards.get(namespace, name);
    try {
      if (!pf) return await this.cleanUpAfter(namespace, name, log);
      if (pf.metadata.deletionTimestamp) return await this.cleanUpBefore(pf, log);
      return await this.converge(pf, log);
    } catch (err) {
      return resultOfError(err);
    }
  }

  /**
   * A PortForward is gone: no finalizer holds it, so uninstalling never waits on the operator and a
   * namespace always finishes deleting. Its helpers and their policies live in another namespace,
   * beyond garbage collection, so they go here (and in the resync's orphan sweep, for deletions
   * this operator did not see); the Service and EndpointSlice carry ownerReferences as well.
   */
  private async cleanUpAfter(namespace: string, name: string, log: Logger): Promise<Result> {
    const ownerKey = `${namespace}/${name}`;
    // Ask the API server rather than the cache: a helper created a moment ago must not survive.
    const helpers = (await this.api.listPods(this.config.helperNamespace, MANAGED_SELECTOR)).filter(
      (p) => p.metadata?.annotations?.[ANNOTATIONS.owner] === ownerKey,
    );
    const uids = new Set(helpers.map((p) => p.metadata?.labels?.[LABELS.ownerUid]).filter((uid) => uid !== undefined));
    const service = this.cache.services.get(namespace, serviceNameOf(name));
    const serviceOwner = service && controllerOf(service)?.uid;
    if (serviceOwner) uids.add(serviceOwner);
    for (const uid of uids) await this.removeChildren({ namespace, name, uid }, log, helpers);
    return done;
  }

  /** Deleted but held by someone's finalizer (or by the one that versions before 0.2 added). */
  private async cleanUpBefore(pf: PortForward, log: Logger): Promise<Result> {
    const owner = ownerOf(pf);
    await this.removeChildren(owner, log, await this.api.listPods(this.config.helperNamespace, ownerSelector(owner.uid)));
    await onPrimary(removeLegacyFinalizer(this.api, pf));
    return done;
  }

  private async removeChildren(owner: Owner, log: Logger, helpers: readonly V1Pod[]): Promise<void> {
    await deleteHelpers(this.api, helpers.filter((p) => p.metadata?.labels?.[LABELS.ownerUid] === owner.uid), log, 'PortForward deleted');
    await deleteHelperPolicies(this.api, this.config.helperNamespace, owner.uid, log);
    await deleteOwnedChildren(this.api, this.cache, owner, serviceNameOf(owner.name));
    this.events.forget(owner.uid);
    this.helperFailures.forget(owner.uid);
    this.published.delete(owner.uid);
    log.info('cleaned up after deleted PortForward', { uid: owner.uid });
  }

  private async converge(cached: PortForward, log: Logger): Promise<Result> {
    const pf = await onPrimary(removeLegacyFinalizer(this.api, cached));
    const pass: Pass = { pf, owner: ownerOf(pf), observed: { generation: pf.metadata.generation } };
    const verdict = await this.decide(pass, log);
    if (verdict.readiness) await this.publish(pf, { ...pass.observed, readiness: verdict.readiness }, log);
    if (verdict.readiness?.reason === 'Expired') {
      await onPrimary(this.api.deletePortForward(pass.owner.namespace, pass.owner.name, pass.owner.uid));
      log.info('deleted expired PortForward', { expiresAt: pass.observed.expiresAt });
    }
    return verdict.result;
  }

  /** The spec, the ttl and the Services; then the tunnel behind them. */
  private async decide(pass: Pass, log: Logger): Promise<Verdict> {
    const { pf, owner, observed } = pass;
    const parsed = parseSpec(pf.spec);
    if (!parsed.ok) {
      await this.stopTunnel(owner, log, 'spec is invalid');
      return { readiness: invalidSpec(pf, parsed.message), result: done }; // terminal until the spec changes, which enqueues it again
    }
    const spec = parsed.spec;
    observed.ports = portsSummary(spec);

    const now = this.now();
    const expiresAt = expiresAtMs(timeMs(pf.metadata.creationTimestamp) ?? now, spec.ttl, this.config.maxTtlSeconds);
    if (expiresAt !== undefined) observed.expiresAt = rfc3339(expiresAt);
    if (expiresAt !== undefined && expiresAt <= now) {
      return { readiness: { reason: 'Expired', message: `The ttl ran out at ${observed.expiresAt}; the PortForward is being deleted.` }, result: done };
    }
    const untilExpiry = expiresAt === undefined ? undefined : expiresAt - now;

    // The Service first: it is the user's stable address, and a name taken by someone else stops everything.
    const service = await syncService(this.api, this.cache.services, owner, serviceFor(owner, spec));
    if (service.kind === 'retry') return retrySoon;
    if (service.kind === 'conflict') return this.serviceConflict(owner, service.message, untilExpiry, log);
    observed.service = { namespace: owner.namespace, name: service.object.metadata!.name!, clusterIP: service.object.spec?.clusterIP };
    observed.access = accessFor(spec, { serviceName: observed.service.name ?? serviceNameOf(owner.name), namespace: owner.namespace, name: owner.name });

    const verdict = await this.tunnel(pass, spec, log);
    return { ...verdict, result: notAfter(verdict.result, untilExpiry) };
  }

  /** The target, its helper and the EndpointSlice that leads to it, and whether traffic flows. */
  private async tunnel(pass: Pass, spec: PortForwardSpec, log: Logger): Promise<Verdict> {
    const { pf, owner, observed } = pass;
    const resolution = resolveTarget(owner.namespace, spec.target, spec.ports, this.lookup, pf.status?.target?.uid);
    if (!resolution.ok) {
      // No target, no tunnel: a helper must not keep relaying into a pod the PortForward may no longer reach.
      return this.withoutHelper(pass, spec, { reason: resolution.reason, message: resolution.message }, log); // pod and namespace events bring the change
    }
    const target = resolution.target;
    observed.target = { namespace: target.namespace, pod: target.pod, uid: target.uid, node: target.node, chosenBy: target.chosenBy };
    observed.targetNode = nodeHealth(target.node, this.cache.nodes.get('', target.node));
    const refusal = clientsRefusal(spec.clients, owner.namespace, target.namespace, this.lookup.namespace(target.namespace));
    if (refusal) return this.withoutHelper(pass, spec, { reason: 'ClientsNotAllowed', message: refusal }, log); // a namespace event brings the change
    if (!withinNamespaceLimit(pf, this.cache.portForwards.list(owner.namespace), this.config.maxHelpersPerNamespace)) {
      // an older one's deletion brings the change
      return this.withoutHelper(pass, spec, namespaceLimitReadiness(owner.namespace, this.config.maxHelpersPerNamespace), log);
    }
    // The policy before the helper: a helper is never reachable beyond its clients.
    if ((await syncHelperPolicy(this.api, this.cache.networkPolicies, helperPolicyFor(owner, spec, this.config.helperNamespace))) === 'retry') return retrySoon;

    const desired = helperPodFor(owner, spec, target, this.helperSettings);
    const helperName = desired.metadata!.name!;
    const plan = planHelper(cachedHelpers(this.cache.pods, this.config.helperNamespace, owner.uid), desired);
    this.helperFailures.note(owner.uid, plan.remove.filter(isPodFinished));
    await deleteHelpers(this.api, plan.remove, log, 'replaced by a helper for the current target and spec');
    // An outdated helper keeps serving until its node has a start slot for the replacement.
    let helper = plan.current;
    let waitsForSlot = false;
    if (plan.outdated) {
      const slot = this.takeStartSlot(target.node, owner.namespace, 'delete', plan.outdated.metadata?.uid);
      if (slot) await this.withSlot(slot, () => deleteHelpers(this.api, [plan.outdated!], log, 'replaced by a helper with the current template'));
      else [helper, waitsForSlot] = [plan.outdated, true];
    }

    // Ask a running relay directly: its answer puts it in the Service while the kubelet's next
    // readiness probe is still to come, so kube-proxy programs the endpoint meanwhile.
    const helperIP = helper?.status?.podIP;
    const checksTraffic = this.config.readyCheck === 'traffic';
    const health = this.helperSettings.dataPath === 'splice' ? healthPort(spec) : undefined;
    const running = helper?.status?.containerStatuses?.[0]?.state?.running !== undefined;
    const answer =
      checksTraffic && helperIP && running && health !== undefined
        ? { healthPort: health, answer: await askHelper(this.probe, helperIP, health) }
        : undefined;
    const relays = isPodReady(helper) || (answer !== undefined && 'ports' in answer.answer);

    // The slice follows the helper that serves now (none, once the old one is gone): never a deleted helper's IP.
    const endpoint: HelperEndpoint | undefined =
      helper && helperIP
        ? { podName: helper.metadata!.name!, podNamespace: this.config.helperNamespace, podIP: helperIP, nodeName: target.node, ready: relays }
        : undefined;
    const blocked = await this.syncSlice(pass, spec, endpoint, log);
    if (blocked) return blocked;

    if (plan.create) {
      const wait = this.helperFailures.waiting(owner.uid);
      if (wait) return { readiness: wait.readiness, result: requeueAfter(wait.retryInMs) };
      const slot = this.takeStartSlot(target.node, owner.namespace, 'create');
      if (!slot) {
        return { readiness: queuedReadiness(target.node, this.config.helperMaxStartingPerNode), result: requeueAfter(START_SLOT_RECHECK_MS) };
      }
      const failure = await this.withSlot(slot, () => this.createHelper(pf, desired, target, slot, log));
      if (failure) return failure;
    }
    const helperExists = helper !== undefined || plan.create;
    if (helperExists) {
      observed.helper = { namespace: this.config.helperNamespace, pod: helper?.metadata?.name ?? helperName, ...(helperIP ? { podIP: helperIP } : {}) };
    }

    let notReady = relays ? undefined : helperNotReady(helper, helperName, this.config.helperNamespace, target.node, this.now());
    let recheckMs: number | undefined;
    if (!notReady && helperIP && checksTraffic) {
      const verdict = await checkTraffic(this.probe, { spec, target, helperName, helperIP, answer, clusterIP: observed.service?.clusterIP });
      [notReady, recheckMs] = [verdict.notReady, verdict.recheckMs];
    }
    const settleMs = notReady ? 0 : this.settling(pf, helper, relays);
    if (settleMs > 0) {
      const readiness: Readiness = {
        reason: 'WaitingForService',
        message: `The tunnel answers from the operator's node; waiting ${settleMs} ms more for the other nodes' kube-proxy and NetworkPolicy agent to program the new endpoint too.`,
      };
      return { readiness, result: requeueAfter(settleMs) };
    }
    if (!notReady) {
      this.helperFailures.forget(owner.uid);
      const readiness: Readiness = { reason: 'Ready', message: readyMessage(spec, observed.access!, target) };
      return { readiness, result: waitsForSlot ? requeueAfter(REPLACE_RECHECK_MS) : done };
    }
    // Pod events bring most changes; this re-check covers a helper that never turns ready, a target
    // port that opens later, a Service kube-proxy has not programmed yet, and an old helper still
    // holding the name the new one needs.
    return { readiness: notReady, result: requeueAfter(recheckMs ?? (helperExists ? HELPER_STARTUP_GRACE_MS : NAME_FREED_RECHECK_MS)) };
  }

  /**
   * How much longer a PortForward whose check passed waits before Ready: until its helper's
   * endpoint has been published ready for config.readySettleMs (the check saw one node only). A
   * PortForward already Ready with this helper (also after an operator restart) waits no more.
   */
  private settling(pf: PortForward, helper: V1Pod | undefined, relays: boolean): number {
    const uid = pf.metadata.uid!;
    const name = helper?.metadata?.name;
    if (!name || !relays) {
      this.published.delete(uid);
      return 0;
    }
    const now = this.now();
    let entry = this.published.get(uid);
    if (entry?.helper !== name) {
      const alreadyReady = readyCondition(pf.status)?.reason === 'Ready' && pf.status?.helper?.pod === name;
      entry = { helper: name, since: alreadyReady ? -Infinity : now };
      this.published.set(uid, entry);
    }
    return Math.max(0, Math.ceil(entry.since + this.config.readySettleMs - now));
  }

  /** No helper, and an EndpointSlice with no endpoint, for this reason: the pass ends until an event brings a change. */
  private async withoutHelper(pass: Pass, spec: PortForwardSpec, readiness: Readiness, log: Logger): Promise<Verdict> {
    await this.removeHelpers(pass.owner, log, readiness.reason);
    const blocked = await this.syncSlice(pass, spec, undefined, log);
    return blocked ?? { readiness, result: done };
  }

  /** A start slot on node for creating or replacing a helper, if one is free: see StartLimits. */
  private takeStartSlot(node: string, namespace: string, kind: Reservation['kind'], uid?: string): Reservation | undefined {
    return this.startLimits.take(node, allHelpers(this.cache.pods, this.config.helperNamespace), namespace, kind, uid);
  }

  /** Runs the write the slot was taken for; a write that failed gives the slot back. */
  private async withSlot<T>(slot: Reservation, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      this.startLimits.release(slot);
      throw err;
    }
  }

  /** Creates the helper; returns the Verdict when that failed. */
  private async createHelper(
    pf: PortForward,
    desired: ReturnType<typeof helperPodFor>,
    target: ResolvedTarget,
    slot: Reservation,
    log: Logger,
  ): Promise<Verdict | undefined> {
    const name = desired.metadata!.name!;
    try {
      slot.uid = (await this.api.createPod(desired)).metadata?.uid;
    } catch (err) {
      this.startLimits.release(slot);
      if (isApiError(err, 409)) return retrySoon; // our cache has not seen it yet
      const message = `Could not create helper pod ${this.config.helperNamespace}/${name}: ${describeError(err).message}`;
      return { readiness: { reason: 'HelperCreateFailed', message }, result: failed(err) };
    }
    log.info('created helper pod', { helper: name, node: target.node, target: `${target.namespace}/${target.pod}` });
    await this.events.record(
      pf,
      'Normal',
      'HelperCreated',
      `Created helper pod ${this.config.helperNamespace}/${name} on node ${target.node} for pod ${target.namespace}/${target.pod}.`,
      log,
    );
    return undefined;
  }

  /** Writes the EndpointSlice; returns the Verdict when the pass cannot go on (retry, or someone else's slice). */
  private async syncSlice(pass: Pass, spec: PortForwardSpec, endpoint: HelperEndpoint | undefined, log: Logger): Promise<Verdict | undefined> {
    const slice = await syncEndpointSlice(this.api, this.cache.endpointSlices, pass.owner, endpointSliceFor(pass.owner, spec, endpoint));
    if (slice.kind === 'retry') return retrySoon;
    if (slice.kind === 'conflict') return this.serviceConflict(pass.owner, slice.message, undefined, log);
    return undefined;
  }

  private async serviceConflict(owner: Owner, message: string, untilExpiry: number | undefined, log: Logger): Promise<Verdict> {
    await this.stopTunnel(owner, log, 'ServiceNameConflict');
    // The other object is outside our caches (they hold only our own), so its removal sends no event: look again.
    return { readiness: { reason: 'ServiceNameConflict', message }, result: notAfter(requeueAfter(CONFLICT_RECHECK_MS), untilExpiry) };
  }

  /** No helper, and no endpoint left in our EndpointSlice: a deleted helper's IP may soon be another pod's. */
  private async stopTunnel(owner: Owner, log: Logger, why: string): Promise<void> {
    await this.removeHelpers(owner, log, why);
    const name = serviceNameOf(owner.name);
    const slice = this.cache.endpointSlices.get(owner.namespace, name);
    if (slice?.endpoints?.length && isOwnedBy(slice, owner.uid)) {
      await this.api.replaceEndpointSlice({ ...slice, endpoints: [] });
    }
  }

  private async removeHelpers(owner: Owner, log: Logger, why: string): Promise<void> {
    await deleteHelpers(this.api, cachedHelpers(this.cache.pods, this.config.helperNamespace, owner.uid), log, why);
  }

  /** Writes the full status when it changed, and an Event when the Ready reason changed. */
  private async publish(pf: PortForward, observed: Observed, log: Logger): Promise<void> {
    const previous: PortForwardStatus | undefined = pf.status;
    const status = composeStatus(previous, observed, rfc3339(this.now()));
    if (!sameStatus(previous, status)) {
      await onPrimary(this.api.replacePortForwardStatus({ ...pf, status }));
      log.debug('status written', { phase: status.phase, reason: observed.readiness.reason });
    }
    const { reason, message } = observed.readiness;
    await this.events.transition(pf, readyCondition(previous)?.reason, eventTypeOf(reason), reason, message, log);
    const node = observed.targetNode;
    if (node) await this.events.transition(pf, targetNodeCondition(previous)?.reason ?? 'NodeReady', node.ok ? 'Normal' : 'Warning', node.reason, node.message, log, TARGET_NODE_READY);
  }
}

function invalidSpec(pf: PortForward, problems: string): Readiness {
  return {
    reason: 'InvalidSpec',
    message: `The spec is invalid: ${problems}. Fix it with: kubectl edit portforward ${pf.metadata.name} -n ${pf.metadata.namespace}`,
  };
}

function readyMessage(spec: PortForwardSpec, access: NonNullable<PortForwardStatus['access']>, target: ResolvedTarget): string {
  const where = access.inCluster?.[0] ?? `${spec.ports[0]?.port}`;
  return `The tunnel is up: ${where} reaches pod ${target.namespace}/${target.pod} on node ${target.node}.`;
}
