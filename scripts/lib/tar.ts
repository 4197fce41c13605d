// A .tar.gz of a few regular files, the same bytes for the same files every time: no owners, times
// or order taken from the machine. So one source gives one sha256, which the krew manifest names.
import { gzipSync } from 'node:zlib';

export interface TarEntry {
  name: string;
  mode: number;
  data: Buffer;
}

const BLOCK = 512;

/** A ustar header: numbers in octal, NUL-terminated; the checksum counts its own field as spaces. */
function header(e: TarEntry): Buffer {
  if (Buffer.byteLength(e.name) > 100) throw new Error(`tar: name longer than 100 bytes: ${e.name}`);
  const h = Buffer.alloc(BLOCK);
  const octal = (value: number, at: number, length: number) => h.write(value.toString(8).padStart(length - 1, '0'), at, length - 1, 'ascii');
  h.write(e.name, 0, 100, 'utf8');
  octal(e.mode, 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(e.data.length, 124, 12);
  octal(0, 136, 12); // mtime
  h.write('        ', 148, 8, 'ascii');
  h.write('0', 156, 1, 'ascii'); // a regular file
  h.write('ustar\u000000', 257, 8, 'ascii');
  const sum = h.reduce((total, byte) => total + byte, 0);
  h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return h;
}

export function tarGz(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    blocks.push(header(e), e.data, Buffer.alloc((BLOCK - (e.data.length % BLOCK)) % BLOCK));
  }
  blocks.push(Buffer.alloc(2 * BLOCK)); // the end of the archive
  return gzipSync(Buffer.concat(blocks), { level: 9 });
}
