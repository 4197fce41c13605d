// Bytes received in arbitrary chunks, read back in the sizes a frame format asks for. Shared by
// the WebSocket and SPDY frame parsers, whose frames span and split chunks freely.
export class ByteQueue {
  private chunks: Buffer[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The first n bytes without consuming them, or undefined while fewer have arrived. */
  peek(n: number): Buffer | undefined {
    if (this.size < n) return undefined;
    if ((this.chunks[0] as Buffer).length < n) this.chunks = [Buffer.concat(this.chunks)];
    return (this.chunks[0] as Buffer).subarray(0, n);
  }

  /** Consumes n bytes (the caller checked they are there); the result may share memory with the input. */
  take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.peek(n) as Buffer;
    const head = this.chunks[0] as Buffer;
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.size -= n;
    return first;
  }
}
