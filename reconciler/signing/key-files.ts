// The reconciler's ed25519 signing key on disk: PKCS#8 PEM, mode 0600, with the
// public half (SPKI PEM) beside it for distribution to agents.

import { generateKeyPairSync, createPrivateKey, type KeyObject } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { keyIdOf, toPublicKey } from '../../schemas/desired-signature.js';

export class SigningKeyError extends Error {
  constructor(
    readonly code: 'KeyExists' | 'KeyUnreadable' | 'KeyTooOpen' | 'NotEd25519',
    message: string,
    readonly data: { path: string; [k: string]: unknown },
  ) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
  publicKeyPem: string;
}

/**
 * Create a new key pair at `path` (private) and `path + '.pub'` (public).
 * Refuses to overwrite: replacing the key strands every agent that pinned it.
 */
export async function generateSigningKey(path: string): Promise<SigningKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  await writeNew(path, privatePem, 0o600);
  await writeNew(`${path}.pub`, publicPem, 0o644);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), publicKeyPem: publicPem };
}

/** Load the private key; refuses a file readable by group or others. */
export async function loadSigningKey(path: string): Promise<SigningKey> {
  let pem: string;
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o777;
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new SigningKeyError('KeyUnreadable', `cannot read signing key ${path}: ${(err as Error).message}`, { path });
  }
  if (mode & 0o077) {
    throw new SigningKeyError('KeyTooOpen', `signing key ${path} has mode ${mode.toString(8)}; it must be 0600`, { path, mode });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new SigningKeyError('KeyUnreadable', `signing key ${path} is not a PEM private key: ${(err as Error).message}`, { path });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError('NotEd25519', `signing key ${path} is ${privateKey.asymmetricKeyType}, expected ed25519`, { path });
  }
  const publicKey = toPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new SigningKeyError('KeyExists', `${path} already exists; refusing to replace a pinned key`, { path });
    throw err;
  }
  try {
    await fh.writeFile(text);
    await fh.chmod(mode); // open()'s mode is filtered by the umask
    await fh.sync();
  } finally {
    await fh.close();
  }
}
