// Reader for the SSH wire encoding (RFC 4251 §5): uint32, string, mpint.
// Throws SshWireError on truncation so a malformed blob becomes a refusal,
// never an out-of-bounds read.

export class SshWireError extends Error {
  readonly code = 'SshWireMalformed';
}

export class SshReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  uint32(): number {
    if (this.pos + 4 > this.buf.length) throw new SshWireError('truncated uint32');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  string(): Buffer {
    const len = this.uint32();
    if (this.pos + len > this.buf.length) throw new SshWireError('truncated string');
    const v = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return v;
  }

  text(): string {
    return this.string().toString('utf8');
  }

  /** An mpint as unsigned big-endian bytes, leading zero bytes removed. */
  mpint(): Buffer {
    const raw = this.string();
    let i = 0;
    while (i < raw.length - 1 && raw[i] === 0) i++;
    return raw.subarray(i);
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new SshWireError('truncated bytes');
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  get done(): boolean {
    return this.pos === this.buf.length;
  }
}

export function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}
