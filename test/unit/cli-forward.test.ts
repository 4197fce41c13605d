// `kubectl pf forward`: what TARGET and the ports mean (as kubectl port-forward means them), and
// the whole command against the stand-in tunnel API: create, connect, delete on Ctrl-C.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { V1Pod, V1PodSpec, V1Service } from '@kubernetes/client-node';
import { UsageError } from '../../src/cli/args.js';
import { runForward } from '../../src/cli/forward.js';
import {
  containerPortByName,
  generateNameFor,
  parseForwardArgs,
  parseTarget,
  pickPod,
  selectorOf,
  servicePort,
  tunnelPorts,
} from '../../src/cli/forward-target.js';
import { parseAddresses, parseTargetForwardPort } from '../../src/cli/ports.js';
import { formatDuration, renewEveryMs } from '../../src/cli/ttl-lease.js';
import { HelperPod, NAMESPACE, StandInTunnelApi } from './support/stand-in-tunnel-api.js';

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a UsageError');
}

const service: V1Service = {
  metadata: { name: 'web', namespace: NAMESPACE },
  spec: {
    selector: { app: 'web' },
    ports: [
      { name: 'http', port: 80, targetPort: 8080 },
      { name: 'metrics', port: 9090, targetPort: 'metrics' },
      { name: 'dns', port: 53, targetPort: 5353, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, targetPort: 5354 },
      { name: 'plain', port: 7000 },
    ],
  },
};

const podSpec: V1PodSpec = {
  containers: [
    { name: 'app', ports: [{ name: 'http', containerPort: 8080 }, { name: 'metrics', containerPort: 9100 }] },
    { name: 'dns', ports: [{ name: 'dns', containerPort: 5353, protocol: 'UDP' }] },
  ],
};

describe('forward TARGET, as kubectl port-forward reads it', () => {
  it('a bare name is a pod; pod/, svc/ and service/ name pods and Services', () => {
    assert.deepEqual(parseTarget('nginx'), { kind: 'pod', name: 'nginx' });
    assert.deepEqual(parseTarget('pod/nginx'), { kind: 'pod', name: 'nginx' });
    assert.deepEqual(parseTarget('po/nginx'), { kind: 'pod', name: 'nginx' });
    assert.deepEqual(parseTarget('svc/web'), { kind: 'service', name: 'web' });
    assert.deepEqual(parseTarget('service/web'), { kind: 'service', name: 'web' });
  });

  it('workloads by short name, long name, plural or with their group', () => {
    const cases: [string, string][] = [
      ['deploy/api', 'Deployment'],
      ['deployment/api', 'Deployment'],
      ['deployment.apps/api', 'Deployment'],
      ['Deployment/api', 'Deployment'],
      ['sts/api', 'StatefulSet'],
      ['statefulset/api', 'StatefulSet'],
      ['ds/api', 'DaemonSet'],
      ['daemonset/api', 'DaemonSet'],
      ['rs/api', 'ReplicaSet'],
      ['replicaset/api', 'ReplicaSet'],
    ];
    for (const [text, workload] of cases) assert.deepEqual(parseTarget(text), { kind: 'workload', workload, name: 'api' }, text);
  });

  it('refuses an unknown kind or a bad name, in one line', () => {
    assert.match(usageError(() => parseTarget('job/x')), /^invalid TARGET "job\/x": "job" is not a kind forward knows; use pod\/NAME, svc\/NAME/);
    assert.match(usageError(() => parseTarget('svc/')), /^invalid TARGET "svc\/": "" is not a valid name/);
    assert.match(usageError(() => parseTarget('pod/Web_1')), /"Web_1" is not a valid name/);
  });

  it('-l takes the place of TARGET: every argument is then a port', () => {
    assert.deepEqual(parseForwardArgs(['8080', '53/udp'], 'app=web'), {
      target: { kind: 'selector', selector: { matchLabels: { app: 'web' } } },
      portArgs: ['8080', '53/udp'],
    });
    assert.deepEqual(parseForwardArgs(['svc/web', '8080'], undefined), { target: { kind: 'service', name: 'web' }, portArgs: ['8080'] });
    assert.equal(usageError(() => parseForwardArgs(['svc/web', '8080'], 'app=web')), 'give TARGET or -l/--selector, not both');
    assert.match(usageError(() => parseForwardArgs([], undefined)), /^TARGET is required/);
  });

  it('REMOTE may be a number or a port name; LOCAL stays open until REMOTE is a number', () => {
    assert.deepEqual(parseTargetForwardPort('8080'), { remote: 8080, protocol: 'tcp' });
    assert.deepEqual(parseTargetForwardPort('9000:http'), { local: 9000, remote: 'http', protocol: 'tcp' });
    assert.deepEqual(parseTargetForwardPort(':dns/udp'), { local: 0, remote: 'dns', protocol: 'udp' });
    assert.match(usageError(() => parseTargetForwardPort('8080:Http')), /"Http" is neither a port number nor a port name/);
    assert.match(usageError(() => parseTargetForwardPort('8080:0')), /the remote port must be 1-65535, not 0/);
  });
});

describe("forward svc/NAME: a Service port, forwarded to its targetPort", () => {
  it('a numeric targetPort is taken as it is', () => {
    assert.deepEqual(servicePort(service, 80, 'tcp'), { port: 80, targetPort: 8080 });
  });

  it('REMOTE may name the Service port', () => {
    assert.deepEqual(servicePort(service, 'http', 'tcp'), { port: 80, targetPort: 8080 });
  });

  it('a named targetPort is left to look up in a pod; an unset one is the port itself', () => {
    assert.deepEqual(servicePort(service, 9090, 'tcp'), { port: 9090, targetPort: 'metrics' });
    assert.deepEqual(servicePort(service, 7000, 'tcp'), { port: 7000, targetPort: 7000 });
  });

  it('the protocol picks between ports of the same number', () => {
    assert.deepEqual(servicePort(service, 53, 'udp'), { port: 53, targetPort: 5353 });
    assert.deepEqual(servicePort(service, 53, 'tcp'), { port: 53, targetPort: 5354 });
    assert.equal(usageError(() => servicePort(service, 'dns', 'tcp')), 'service/web has no TCP port named "dns"; it is UDP: write dns/udp');
  });

  it('a port the Service does not have is refused with its ports listed', () => {
    assert.equal(
      usageError(() => servicePort(service, 8080, 'tcp')),
      'service/web has no port 8080; its ports are 80 (http), 9090 (metrics), 53/UDP (dns), 53 (dns-tcp), 7000 (plain)',
    );
  });

  it('a named targetPort resolves against the container ports, by protocol', () => {
    assert.equal(containerPortByName(podSpec, 'metrics', 'tcp', 'pod/web-1'), 9100);
    assert.equal(containerPortByName(podSpec, 'dns', 'udp', 'pod/web-1'), 5353);
    assert.equal(
      usageError(() => containerPortByName(podSpec, 'grpc', 'tcp', 'pod/web-1')),
      'pod/web-1 has no container port named "grpc"; its named ports are 8080 (http), 9100 (metrics), 5353/UDP (dns)',
    );
  });

  it('the pod to read named ports from is a running, ready one, as kubectl picks', () => {
    const pod = (name: string, ready: boolean, phase = 'Running'): V1Pod => ({
      metadata: { name },
      status: { phase, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    });
    assert.equal(pickPod([pod('a', false), pod('c', true), pod('b', true)])?.metadata?.name, 'b');
    assert.equal(pickPod([pod('a', false), pod('b', true, 'Pending')])?.metadata?.name, 'a');
    assert.equal(pickPod([pod('a', true, 'Succeeded')]), undefined);
  });

  it("a Service's or workload's selector becomes the PortForward's; an empty one is refused", () => {
    assert.deepEqual(selectorOf({ matchLabels: { app: 'web' } }, 'service/web'), { matchLabels: { app: 'web' } });
    assert.deepEqual(selectorOf({ matchLabels: {}, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] }, 'deployment/api'), {
      matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }],
    });
    assert.match(usageError(() => selectorOf({ matchLabels: undefined }, 'service/external')), /^service\/external has no selector/);
  });

  it("the PortForward's ports: one per target port and protocol, listening on the same number", () => {
    assert.deepEqual(
      tunnelPorts([
        { local: 80, remote: 8080, protocol: 'tcp' },
        { local: 8081, remote: 8080, protocol: 'tcp' },
        { local: 53, remote: 5353, protocol: 'udp' },
      ]),
      [
        { port: 8080, protocol: 'TCP' },
        { port: 5353, protocol: 'UDP' },
      ],
    );
  });

  it('its name: forward-<target name>-, kept short', () => {
    assert.equal(generateNameFor({ kind: 'service', name: 'web' }), 'forward-web-');
    assert.equal(generateNameFor({ kind: 'selector', selector: { matchLabels: { app: 'web' } } }), 'forward-selector-');
    assert.equal(generateNameFor({ kind: 'pod', name: `a.b-${'x'.repeat(60)}` }).length, 'forward-'.length + 40 + 1);
  });

  it('its ttl is renewed every quarter ttl (10 s to 10 min), in the API duration format', () => {
    assert.equal(formatDuration(3900), '1h5m');
    assert.equal(formatDuration(90061), '1d1h1m1s');
    assert.equal(renewEveryMs(60), 15_000);
    assert.equal(renewEveryMs(20), 10_000);
    assert.equal(renewEveryMs(3600), 600_000);
  });
});

/** Opens a connection, sends `text`, half-closes, and returns everything that came back. */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => (got += d.toString()));
    c.on('error', reject);
    c.on('close', () => resolve(got));
    c.end(text);
  });
}

describe('kubectl pf forward svc/web against the tunnel API', () => {
  const api = new StandInTunnelApi();

  before(async () => {
    await api.start();
    api.helpers.set('helper-1', await HelperPod.start('helper-1'));
    api.services.set('web', service);
    api.pods.set('web-1', { metadata: { name: 'web-1', labels: { app: 'web' } }, spec: podSpec, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
  });

  after(() => {
    api.stop();
    for (const h of api.helpers.values()) h.stop();
  });

  it('creates a PortForward to the Service (its ports by the Service ports that lead to them), connects to it, and deletes it on Ctrl-C', { timeout: 15_000 }, async () => {
    const out: string[] = [];
    const err: string[] = [];
    let stop = (): void => undefined;
    const stopSignal = new Promise<void>((r) => (stop = r));
    const exit = runForward({
      kc: api.kubeConfig(),
      namespace: NAMESPACE,
      target: { kind: 'service', name: 'web' },
      ports: [parseTargetForwardPort(':80'), parseTargetForwardPort(':metrics')],
      ttl: '1h',
      keep: false,
      addresses: parseAddresses(['127.0.0.1']),
      readyTimeoutMs: 10_000,
      io: { out: (l) => out.push(l), err: (l) => err.push(l) },
      stopSignal,
    });
    const deadline = Date.now() + 5000;
    while (api.created.length === 0 || !api.watching) {
      assert.ok(Date.now() < deadline, `no PortForward created and watched: ${err.join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(api.created[0], {
      apiVersion: 'portforward.io/v1alpha1',
      kind: 'PortForward',
      metadata: { generateName: 'forward-web-', namespace: NAMESPACE, labels: { 'portforward.io/created-by': 'kubectl-pf-forward' } },
      spec: {
        target: { service: 'web' },
        ports: [
          { port: 8080, targetPort: 80, protocol: 'TCP' },
          { port: 9100, targetPort: 9090, protocol: 'TCP' },
        ],
        ttl: '1h',
      },
    });
    assert.equal(out[0], 'portforward.portforward.io/forward-web-x7k2p created for service/web (deleted on exit)');
    // The operator makes it Ready.
    api.change((pf) => {
      pf.status = {
        phase: 'Ready',
        conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'tunnel is up', lastTransitionTime: '2025-01-01T00:00:00Z' }],
        helper: { namespace: 'portforward-helpers', pod: 'helper-1', podIP: '10.0.0.9' },
      };
    });
    const line = await (async () => {
      for (;;) {
        const m = out.map((l) => /^Forwarding from 127\.0\.0\.1:(\d+) -> 8080$/.exec(l)).find((x) => x !== null);
        if (m) return m;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    assert.ok(out.some((l) => /^Forwarding from 127\.0\.0\.1:\d+ -> 9100$/.test(l)), out.join('\n'));
    assert.equal(await exchange(Number(line[1]), 'via the service'), 'helper-1:via the service');
    assert.deepEqual(
      api.tunnels.map((t) => [t.port, t.protocol]),
      [[8080, 'tcp']],
    );
    stop();
    assert.equal(await exit, 0, err.join('\n'));
    assert.deepEqual(api.deleted, ['forward-web-x7k2p']);
    assert.equal(out.at(-1), 'portforward.portforward.io/forward-web-x7k2p deleted');
    assert.deepEqual(err, []);
  });
});
