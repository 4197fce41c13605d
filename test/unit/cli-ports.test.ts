// The port and address syntax of `kubectl pf`, as a kubectl user types it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { hostPort, parseAddresses, parseForwardPort, parseTunnelPort } from '../../src/cli/ports.js';

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), 'the message is one line');
    return err.message;
  }
  assert.fail('expected a UsageError');
}

describe('connect ports: [LOCAL:]REMOTE exactly as kubectl port-forward, plus /udp', () => {
  it('5000 listens on local 5000 and forwards to 5000', () => {
    assert.deepEqual(parseForwardPort('5000'), { local: 5000, remote: 5000, protocol: 'tcp' });
  });

  it('8888:5000 listens on local 8888 and forwards to 5000', () => {
    assert.deepEqual(parseForwardPort('8888:5000'), { local: 8888, remote: 5000, protocol: 'tcp' });
  });

  it(':5000 and 0:5000 let the OS pick a free local port', () => {
    assert.deepEqual(parseForwardPort(':5000'), { local: 0, remote: 5000, protocol: 'tcp' });
    assert.deepEqual(parseForwardPort('0:5000'), { local: 0, remote: 5000, protocol: 'tcp' });
  });

  it('the extremes 1 and 65535 are ports', () => {
    assert.deepEqual(parseForwardPort('1:65535'), { local: 1, remote: 65535, protocol: 'tcp' });
  });

  it('rejects a word, saying it is not a number and showing the syntax', () => {
    assert.equal(usageError(() => parseForwardPort('abc')), 'invalid port "abc": "abc" is not a number; use [LOCAL:]REMOTE[/udp], e.g. 5000, 8888:5000, :5000 or 5353/udp');
  });

  it('rejects 0 alone: there is no remote port 0', () => {
    assert.equal(usageError(() => parseForwardPort('0')), 'invalid port "0": the port must be 1-65535, not 0');
  });

  it('rejects 70000 as out of range', () => {
    assert.equal(usageError(() => parseForwardPort('70000')), 'invalid port "70000": the port must be 1-65535, not 70000');
    assert.equal(usageError(() => parseForwardPort('70000:80')), 'invalid port "70000:80": the local port must be 0-65535 (0 picks a free port), not 70000');
    assert.equal(usageError(() => parseForwardPort('80:0')), 'invalid port "80:0": the remote port must be 1-65535, not 0');
  });

  it('rejects 1:2:3', () => {
    assert.equal(usageError(() => parseForwardPort('1:2:3')), 'invalid port "1:2:3": too many \':\'; use [LOCAL:]REMOTE[/udp], e.g. 5000, 8888:5000, :5000 or 5353/udp');
  });

  it('a /udp or /tcp suffix picks the protocol, in any case', () => {
    assert.deepEqual(parseForwardPort('5353/udp'), { local: 5353, remote: 5353, protocol: 'udp' });
    assert.deepEqual(parseForwardPort('10053:53/UDP'), { local: 10053, remote: 53, protocol: 'udp' });
    assert.deepEqual(parseForwardPort(':53/udp'), { local: 0, remote: 53, protocol: 'udp' });
    assert.deepEqual(parseForwardPort('8080/tcp'), { local: 8080, remote: 8080, protocol: 'tcp' });
  });

  it('rejects another protocol, or a missing port before /udp', () => {
    assert.equal(usageError(() => parseForwardPort('80/sctp')), 'invalid port "80/sctp": protocol must be tcp or udp, not "sctp"');
    assert.match(usageError(() => parseForwardPort('/udp')), /^invalid port "\/udp": the port is missing/);
    assert.match(usageError(() => parseForwardPort('53:/udp')), /^invalid port "53:\/udp": the remote port is missing/);
  });

  it('rejects -5, an empty argument and a lone colon', () => {
    assert.match(usageError(() => parseForwardPort('-5')), /^invalid port "-5": "-5" is not a number/);
    assert.match(usageError(() => parseForwardPort('')), /^invalid port "": empty/);
    assert.match(usageError(() => parseForwardPort(':')), /^invalid port ":": the remote port is missing/);
    assert.match(usageError(() => parseForwardPort('8080:')), /^invalid port "8080:": the remote port is missing/);
    assert.match(usageError(() => parseForwardPort('1.5')), /"1.5" is not a number/);
  });
});

describe('create --port: [PORT:]TARGETPORT[/tcp|/udp]', () => {
  it('8080 makes the tunnel listen on 8080 and reach 8080 in the target', () => {
    assert.deepEqual(parseTunnelPort('8080'), { port: 8080, protocol: 'TCP' });
  });

  it('10080:80 makes the tunnel listen on 10080 and reach 80 in the target', () => {
    assert.deepEqual(parseTunnelPort('10080:80'), { port: 10080, targetPort: 80, protocol: 'TCP' });
  });

  it('a /udp or /tcp suffix picks the protocol, in any case', () => {
    assert.deepEqual(parseTunnelPort('5353/udp'), { port: 5353, protocol: 'UDP' });
    assert.deepEqual(parseTunnelPort('10053:53/UDP'), { port: 10053, targetPort: 53, protocol: 'UDP' });
    assert.deepEqual(parseTunnelPort('80/tcp'), { port: 80, protocol: 'TCP' });
  });

  it('8080:8080 is the same as 8080', () => {
    assert.deepEqual(parseTunnelPort('8080:8080'), { port: 8080, protocol: 'TCP' });
  });

  it('rejects bad forms with one line each', () => {
    assert.match(usageError(() => parseTunnelPort('abc')), /^invalid --port "abc": "abc" is not a number; use \[PORT:\]TARGETPORT/);
    assert.equal(usageError(() => parseTunnelPort('0')), 'invalid --port "0": the port must be 1-65535, not 0');
    assert.equal(usageError(() => parseTunnelPort('70000')), 'invalid --port "70000": the port must be 1-65535, not 70000');
    assert.match(usageError(() => parseTunnelPort('1:2:3')), /^invalid --port "1:2:3": too many ':'/);
    assert.match(usageError(() => parseTunnelPort('-5')), /"-5" is not a number/);
    assert.match(usageError(() => parseTunnelPort('')), /^invalid --port "": empty/);
    assert.match(usageError(() => parseTunnelPort(':')), /the port is missing/);
    assert.match(usageError(() => parseTunnelPort(':80')), /^invalid --port ":80": the port is missing/);
    assert.equal(usageError(() => parseTunnelPort('80/sctp')), 'invalid --port "80/sctp": protocol must be tcp or udp, not "sctp"');
  });
});

describe('--address', () => {
  it('defaults to localhost: 127.0.0.1 and ::1, either may be missing on the host', () => {
    assert.deepEqual(parseAddresses([]), [
      { host: '127.0.0.1', family: 4, required: false },
      { host: '::1', family: 6, required: false },
    ]);
  });

  it('takes IP addresses, comma-separated or repeated, without duplicates', () => {
    assert.deepEqual(parseAddresses(['0.0.0.0', '::', '0.0.0.0']), [
      { host: '0.0.0.0', family: 4, required: true },
      { host: '::', family: 6, required: true },
    ]);
  });

  it('mixes localhost with an explicit address, which must then work', () => {
    assert.deepEqual(parseAddresses(['localhost', '127.0.0.1']), [
      { host: '127.0.0.1', family: 4, required: true },
      { host: '::1', family: 6, required: false },
    ]);
  });

  it('accepts a bracketed IPv6 address', () => {
    assert.deepEqual(parseAddresses(['[::1]']), [{ host: '::1', family: 6, required: true }]);
  });

  it('rejects host names other than localhost', () => {
    assert.equal(
      usageError(() => parseAddresses(['example.com'])),
      'invalid --address "example.com": use localhost or IP addresses, e.g. --address 127.0.0.1,::1 or --address 0.0.0.0',
    );
  });

  it('prints addresses the way kubectl does', () => {
    assert.equal(hostPort('127.0.0.1', 8888), '127.0.0.1:8888');
    assert.equal(hostPort('::1', 8888), '[::1]:8888');
  });
});
