// The tunnel gateway's pure parts: its certificates, its paths, who a request is from, and its caps.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { describe, it } from 'node:test';
import { createCa, createServingCertificate, renewalReason, renewed, serviceDnsNames } from '../../src/gateway/certificates.js';
import { frontProxySettings, identify, withoutIdentityHeaders } from '../../src/gateway/front-proxy.js';
import { rebaseLocation } from '../../src/gateway/proxy.js';
import { route } from '../../src/gateway/routes.js';
import { SERVER_CIPHERS } from '../../src/gateway/server.js';
import { UserTunnels } from '../../src/gateway/user-tunnels.js';

const DAY = 86_400_000;
const names = serviceDnsNames('portforward-gateway', 'portforward-system');

describe('gateway certificates', () => {
  const now = new Date('2026-12-01T00:00:00Z');
  const ca = createCa('test-ca', now);
  const material = createServingCertificate(ca, names, now);

  it('makes a serving certificate for the Service names, signed by its own CA', () => {
    const cert = new X509Certificate(material.cert);
    assert.ok(cert.verify(new X509Certificate(ca.cert).publicKey));
    assert.equal(cert.checkHost('portforward-gateway.portforward-system.svc'), 'portforward-gateway.portforward-system.svc');
    assert.equal(cert.checkHost('other.portforward-system.svc'), undefined);
    assert.equal(renewalReason(material, names, now), undefined);
  });

  it('serves AES-128-GCM to a client that prefers AES-256 (the server picks)', async () => {
    const server = createServer({ cert: material.cert, key: material.key, ciphers: SERVER_CIPHERS }, (s) => s.end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false });
    await once(client, 'secureConnect');
    assert.equal(client.getCipher().standardName, 'TLS_AES_128_GCM_SHA256');
    client.destroy();
    server.close();
  });

  it('asks for new material when a part is missing, foreign, for other names or due', () => {
    assert.equal(renewalReason({}, names, now), 'no CA yet');
    assert.equal(renewalReason({ ...material, cert: undefined }, names, now), 'no serving certificate yet');
    const otherCa = createCa('other', now);
    assert.equal(renewalReason({ ...material, caCert: otherCa.cert, caKey: otherCa.key }, names, now), 'the serving certificate is not signed by the CA');
    assert.equal(renewalReason(material, serviceDnsNames('renamed', 'portforward-system'), now), 'the serving certificate is for other names');
    assert.equal(renewalReason(material, names, new Date(now.getTime() + 250 * DAY)), 'the serving certificate is due for renewal');
  });

  it('keeps a CA that is still good when it renews, so the APIService caBundle stays', () => {
    const later = new Date(now.getTime() + 250 * DAY);
    const next = renewed(material, names, later);
    assert.equal(next.caCert, material.caCert);
    assert.notEqual(next.cert, material.cert);
    assert.equal(renewalReason(next, names, later), undefined);
    const muchLater = new Date(now.getTime() + 3000 * DAY);
    assert.notEqual(renewed(material, names, muchLater).caCert, material.caCert);
  });
});

describe('gateway routes', () => {
  const base = '/apis/connect.portforward.io/v1alpha1';
  it('answers discovery for the group', () => {
    for (const p of ['/apis', '/apis/connect.portforward.io', base, `${base}/`]) assert.equal(route(p).kind, 'discovery', p);
  });

  it('finds the PortForward, the subresource and the port', () => {
    assert.deepEqual(route(`${base}/namespaces/team-a/portforwards/web/portforward`), { kind: 'portforward', namespace: 'team-a', name: 'web' });
    assert.deepEqual(route(`${base}/namespaces/team-a/portforwards/web`), { kind: 'object', namespace: 'team-a', name: 'web' });
    assert.deepEqual(route(`${base}/namespaces/team-a/portforwards/web/proxy/8080/static/app.js`), {
      kind: 'proxy',
      namespace: 'team-a',
      name: 'web',
      port: 8080,
      rest: '/static/app.js',
    });
    assert.deepEqual(route(`${base}/namespaces/team-a/portforwards/web/proxy/8080`), { kind: 'proxy', namespace: 'team-a', name: 'web', port: 8080, rest: '/' });
    assert.equal(route(`${base}/namespaces/team-a/portforwards/web/proxy/`).kind, 'proxy');
    assert.equal((route(`${base}/namespaces/team-a/portforwards/web/proxy/`) as { port?: number }).port, undefined);
  });

  it('serves nothing else', () => {
    for (const p of ['/api/v1/pods', `${base}/namespaces/team-a/pods/web/portforward`, `${base}/namespaces/team-a/portforwards/web/exec`, `${base}/namespaces/%zz/portforwards/web/portforward`]) {
      assert.equal(route(p).kind, 'notFound', p);
    }
  });
});

describe('who a request is from', () => {
  const settings = frontProxySettings({
    data: {
      'requestheader-client-ca-file': '-----BEGIN CERTIFICATE-----\n',
      'requestheader-allowed-names': '["front-proxy-client"]',
      'requestheader-username-headers': '["X-Remote-User"]',
      'requestheader-group-headers': '["X-Remote-Group"]',
      'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
    },
  });
  const request = (authorized: boolean, cn: string, headers: NodeJS.Dict<string[]>) =>
    ({ socket: { authorized, getPeerCertificate: () => ({ subject: { CN: cn } }) }, headersDistinct: headers }) as never;
  const headers = { 'x-remote-user': ['alice'], 'x-remote-group': ['team-a', 'system:authenticated'], 'x-remote-extra-scopes%2fa': ['x'] };

  it('believes the headers only over the front proxy\'s verified certificate with an allowed name', () => {
    const who = identify(request(true, 'front-proxy-client', headers), settings);
    assert.deepEqual(who, { ok: true, user: { name: 'alice', groups: ['team-a', 'system:authenticated'], extra: { 'scopes/a': ['x'] } } });
    const forged = identify(request(false, '', headers), settings);
    assert.equal(forged.ok, false);
    assert.match((forged as { why: string }).why, /front proxy/);
    assert.equal(identify(request(true, 'someone-else', headers), settings).ok, false);
  });

  it('refuses to start without the aggregation layer', () => {
    assert.throws(() => frontProxySettings({ data: {} }), /without the aggregation layer/);
  });

  it('never passes identity headers on to the application', () => {
    const out = withoutIdentityHeaders({ 'x-remote-user': 'alice', 'x-remote-extra-a': 'b', authorization: 'Bearer t', accept: 'text/html' }, settings);
    assert.deepEqual(out, { accept: 'text/html' });
  });
});

describe('gateway limits and redirects', () => {
  it('caps one user\'s open tunnels and frees a slot on release', () => {
    const tunnels = new UserTunnels(2);
    const a = tunnels.take('alice');
    tunnels.take('alice');
    assert.throws(() => tunnels.take('alice'), /already holds 2 tunnels.*MAX_TUNNELS_PER_USER=2/);
    tunnels.take('bob');
    a();
    a(); // a second release frees nothing more
    tunnels.take('alice');
    assert.throws(() => tunnels.take('alice'), /already holds 2/);
    assert.equal(tunnels.total, 3);
  });

  it('keeps a redirect to the application\'s root under the proxy path', () => {
    const base = '/apis/connect.portforward.io/v1alpha1/namespaces/a/portforwards/web/proxy/8080/';
    assert.equal(rebaseLocation('/login?next=/', base), `${base}login?next=/`);
    assert.equal(rebaseLocation('https://example.test/x', base), 'https://example.test/x');
    assert.equal(rebaseLocation('//cdn.test/x', base), '//cdn.test/x');
  });
});
