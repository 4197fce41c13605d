// The port-forward channels (v4.channel.k8s.io) `kubectl pf connect` speaks when the API server does not tunnel SPDY.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PortForwardChannels, portForwardPath } from '../../src/cli/pod-port.js';

describe('port-forward channels (v4.channel.k8s.io)', () => {
  it('drops the 2-byte port prefix of each channel and splits data from errors', () => {
    const data: string[] = [];
    const errors: string[] = [];
    const channels = new PortForwardChannels(
      (d) => data.push(d.toString()),
      (e) => errors.push(e),
    );
    const prefix = Buffer.from([0x50, 0x27]); // 10064, little endian
    channels.receive(Buffer.concat([Buffer.from([0]), prefix]));
    channels.receive(Buffer.concat([Buffer.from([1]), prefix]));
    channels.receive(Buffer.from('\x00hello'));
    channels.receive(Buffer.from('\x01connection refused'));
    channels.receive(Buffer.from('\x07ignored'));
    assert.deepEqual(data, ['hello']);
    assert.deepEqual(errors, ['connection refused']);
  });

  it('also copes with the prefix arriving together with data', () => {
    const data: string[] = [];
    const channels = new PortForwardChannels(
      (d) => data.push(d.toString()),
      () => undefined,
    );
    channels.receive(Buffer.from('\x00\x50\x27hi'));
    assert.deepEqual(data, ['hi']);
  });

  it('asks the API server for the pod port the kubectl way', () => {
    assert.equal(
      portForwardPath({ namespace: 'portforward-helpers', pod: 'pf-team-a-web-1a2b3c4d' }, 10080),
      '/api/v1/namespaces/portforward-helpers/pods/pf-team-a-web-1a2b3c4d/portforward?ports=10080',
    );
  });
});
