import { chmodSync, existsSync, linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { FedtuneError } from '@fedtune/shared';
import { ensureDirectory } from '../persistence/ensure-directory.ts';
import { ed25519PublicKeyHex } from './ed25519-public-key.ts';
import { z } from 'zod';

/** The file, in the coordinator's runs directory, that holds its identity (mode 0600). */
export const IDENTITY_FILE = 'identity.json';

const IdentityFile = z.object({
  kind: z.literal('fedtune-coordinator-identity'),
  algorithm: z.literal('ed25519'),
  publicKey: z.string().regex(/^[0-9a-f]{64}$/),
  secretKey: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * The coordinator's identity (docs/site-policy.md#coordinator-identity): an Ed25519 key pair that signs every
 * run's terms. Sites pin its public key (SitePolicy.coordinators). Created once, kept in the runs directory.
 */
export class CoordinatorIdentity {
  private constructor(
    /** Public key, 64 lowercase hex digits. */
    readonly publicKey: string,
    private readonly secretKey: Uint8Array,
  ) {}

  /** A fresh identity held only in memory (tests, a coordinator without a runs directory). */
  static generate(): CoordinatorIdentity {
    const secretKey = ed25519.utils.randomSecretKey();
    return new CoordinatorIdentity(ed25519PublicKeyHex(secretKey), secretKey);
  }

  /**
   * The identity in `dir`/identity.json, created (mode 0600) when there is none. A file that is not an
   * identity, or whose public key is not its secret key's, is refused ('config'), never overwritten.
   */
  static loadOrCreate(dir: string): CoordinatorIdentity {
    const path = join(dir, IDENTITY_FILE);
    if (existsSync(path)) return CoordinatorIdentity.load(path);
    const identity = CoordinatorIdentity.generate();
    ensureDirectory(dir, 'runs directory');
    const body = { kind: 'fedtune-coordinator-identity', algorithm: 'ed25519', publicKey: identity.publicKey, secretKey: bytesToHex(identity.secretKey) };
    // Created exclusively: two coordinators starting together on one runs directory must end with one identity.
    // A rename would let the later one replace the file after the earlier one had signed terms with its own key
    // (and that run could not be resumed: its sites would see the terms change). The loser loads the winner's.
    let published: boolean;
    try {
      published = publishIdentityFile(path, `${JSON.stringify(body, null, 2)}\n`);
    } catch (cause) {
      throw new FedtuneError('persistence', `cannot write the coordinator identity ${path}: ${(cause as Error).message}`, { cause });
    }
    return published ? identity : CoordinatorIdentity.load(path);
  }

  /** The identity in the file at `path`; 'config' when it is not one or its keys do not match. */
  private static load(path: string): CoordinatorIdentity {
    let parsed: z.output<typeof IdentityFile>;
    try {
      parsed = IdentityFile.parse(JSON.parse(readFileSync(path, 'utf8')));
    } catch {
      throw new FedtuneError('config', `${path} is not a coordinator identity (expected fields kind, algorithm, publicKey, secretKey): move it away to create a new identity`);
    }
    const secretKey = hexToBytes(parsed.secretKey);
    if (ed25519PublicKeyHex(secretKey) !== parsed.publicKey) throw new FedtuneError('config', `${path}: its public key does not belong to its secret key`);
    return new CoordinatorIdentity(parsed.publicKey, secretKey);
  }

  /** Ed25519 signature (hex, 128 digits) of the 32 bytes of a sha-256 hash given as hex. */
  signHash(hashHex: string): string {
    return bytesToHex(ed25519.sign(hexToBytes(hashHex), this.secretKey));
  }
}

/**
 * Writes `text` to `path` (mode 0600) only if no file is there: whole (written to a temporary file first, then
 * hard-linked, which fails when the name exists) and never replacing one. False when another file was there.
 */
export function publishIdentityFile(path: string, text: string): boolean {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  try {
    chmodSync(tmp, 0o600);
    linkSync(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}
