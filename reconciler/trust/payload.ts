// Split a raw Git object into the bytes that were signed and the signature.
//
// Commits: git signs the object without its `gpgsig` / `gpgsig-sha256` headers
// (header line plus every continuation line that starts with a space).
// isomorphic-git's own payload only recognises the PGP end marker and is wrong
// for SSH signatures, so we do the stripping on the raw bytes ourselves.
// Tags: the signature is appended to the message; the payload is everything
// before the first line that opens a signature block.

export interface SignedObject {
  /** Exact bytes the signer signed. */
  payload: Buffer;
  /** Armored signature text, or null when the object carries none. */
  signature: string | null;
}

const SIGNATURE_HEADERS = new Set(['gpgsig', 'gpgsig-sha256']);

/** Split a raw commit object (the content after the `commit <len>\0` header). */
export function splitCommit(raw: Uint8Array): SignedObject {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const headerEnd = buf.indexOf('\n\n');
  const headersLen = headerEnd === -1 ? buf.length : headerEnd + 1;
  const kept: Buffer[] = [];
  const sigLines: string[] = [];
  let currentKey = '';
  let pos = 0;
  while (pos < headersLen) {
    const nl = buf.indexOf(0x0a, pos);
    const end = nl === -1 || nl >= headersLen ? headersLen : nl + 1;
    const line = buf.subarray(pos, end);
    pos = end;
    const continuation = line[0] === 0x20;
    let value: Buffer;
    if (continuation) {
      value = line.subarray(1);
    } else {
      const space = line.indexOf(0x20);
      currentKey = space === -1 ? '' : line.toString('utf8', 0, space);
      value = line.subarray(space + 1);
    }
    if (!SIGNATURE_HEADERS.has(currentKey)) {
      kept.push(line);
      continue;
    }
    // Both signature headers leave the payload; only the SHA-1 object
    // format's `gpgsig` is the signature we verify.
    if (currentKey === 'gpgsig') sigLines.push(value.toString('utf8').replace(/\n$/, ''));
  }
  kept.push(buf.subarray(headersLen));
  return {
    payload: Buffer.concat(kept),
    signature: sigLines.length > 0 ? sigLines.join('\n') + '\n' : null,
  };
}

const SIGNATURE_STARTS = [
  '-----BEGIN PGP SIGNATURE-----',
  '-----BEGIN PGP MESSAGE-----',
  '-----BEGIN SSH SIGNATURE-----',
  '-----BEGIN SIGNED MESSAGE-----',
];

/** Split a raw annotated tag object. */
export function splitTag(raw: Uint8Array): SignedObject {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const headerEnd = buf.indexOf('\n\n');
  if (headerEnd === -1) return { payload: buf, signature: null };
  let pos = headerEnd + 2;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    const end = nl === -1 ? buf.length : nl + 1;
    const line = buf.toString('utf8', pos, end);
    if (SIGNATURE_STARTS.some((s) => line.startsWith(s))) {
      return { payload: buf.subarray(0, pos), signature: buf.toString('utf8', pos) };
    }
    pos = end;
  }
  return { payload: buf, signature: null };
}

/** First line of the message, for humans. */
export function commitSubject(raw: Uint8Array): string {
  const text = Buffer.from(raw).toString('utf8');
  const headerEnd = text.indexOf('\n\n');
  if (headerEnd === -1) return '';
  return text.slice(headerEnd + 2).split('\n', 1)[0] ?? '';
}

/** `parent <id>` headers, in order. */
export function commitParents(raw: Uint8Array): string[] {
  const text = Buffer.from(raw).toString('utf8');
  const headerEnd = text.indexOf('\n\n');
  const headers = headerEnd === -1 ? text : text.slice(0, headerEnd);
  const parents: string[] = [];
  for (const line of headers.split('\n')) {
    if (line.startsWith('parent ')) parents.push(line.slice(7).trim());
  }
  return parents;
}
