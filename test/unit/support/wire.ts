// Small pieces the plugin's tests share: a local client exchange, and reading SPDY header blocks.
import assert from 'node:assert/strict';
import net from 'node:net';

/** Opens a local connection, sends `text`, half-closes, and returns everything that came back. */
export function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => (got += d.toString()));
    // A reset after the forward failed is a close too; other errors are failures.
    c.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    c.on('close', () => resolve(got));
    c.end(text);
  });
}

/** Decodes a SPDY name/value header block (already inflated): count, then length-prefixed pairs. */
export function readHeaderBlock(block: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 4;
  for (let i = 0; i < block.readUInt32BE(0); i++) {
    const nameLength = block.readUInt32BE(at);
    const name = block.subarray(at + 4, at + 4 + nameLength).toString();
    at += 4 + nameLength;
    const valueLength = block.readUInt32BE(at);
    out[name] = block.subarray(at + 4, at + 4 + valueLength).toString();
    at += 4 + valueLength;
  }
  assert.equal(at, block.length, 'nothing after the last pair');
  return out;
}
