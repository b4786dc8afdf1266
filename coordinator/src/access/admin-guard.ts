import { isIP } from 'node:net';
import type { AdminTokenStore } from './admin-token-store.ts';
import { clipText } from '@fedtune/shared';
import { bearerToken } from './bearer-token.ts';

export type AdminDecision = { ok: true } | { ok: false; message: string };

/** Decides whether a request may use the control plane (mutating routes, site listings). */
export interface AdminGuard {
  /** Whether an admin token is needed right now (it can change: `fedtune sites add` turns tokens on). */
  required(): boolean;
  /**
   * Checks a request's `Authorization` header. `host` is its `Host` header: where the control plane needs no
   * token (loopback), a request addressed to another name still needs it (a page whose name was made to resolve
   * to 127.0.0.1, DNS rebinding, is same-origin to the browser).
   */
  check(authorization: string | undefined, host?: string): AdminDecision;
}

export interface AdminGuardOptions {
  /** Where the admin token's hash is kept (opened on first use). */
  store: () => AdminTokenStore;
  /** Whether the control plane needs the token (not bound to loopback, or site tokens required). */
  required: () => boolean;
  /** How the operator makes a token, for the refusal messages (e.g. `fedtune admin-token --db runs/fedtune.db`). */
  createCommand?: string;
}

/** The admin check of the HTTP control plane: `Authorization: Bearer TOKEN` against the stored hash. */
export function adminGuard(options: AdminGuardOptions): AdminGuard {
  const create = options.createCommand ?? 'fedtune admin-token';
  return {
    required: options.required,
    check(authorization, host) {
      const name = host === undefined ? undefined : hostName(host);
      const remoteName = name !== undefined && !isLoopbackHost(name);
      if (!options.required() && !remoteName) return { ok: true };
      const verdict = options.store().verify(bearerToken(authorization));
      if (verdict.ok) return { ok: true };
      if (!options.required()) {
        return { ok: false, message: `a request addressed to ${clipText(name, 80)}, not to this machine's loopback: send Authorization: Bearer TOKEN (the token printed by \`${create}\`), or use http://127.0.0.1` };
      }
      if (verdict.reason === 'no admin token') {
        return { ok: false, message: `this coordinator's control plane needs an admin token and none was created: run \`${create}\` on the coordinator, then send Authorization: Bearer TOKEN` };
      }
      if (verdict.reason === 'token required') {
        return { ok: false, message: `admin token required: send Authorization: Bearer TOKEN (the token printed by \`${create}\`)` };
      }
      return { ok: false, message: `invalid admin token: send the token printed by \`${create}\` (or make a new one with --rotate)` };
    },
  };
}

/** The name of a `Host` header (`[::1]:8080` → `::1`, `localhost:8080` → `localhost`). */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(1, end);
  }
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/** True for an address only this machine can reach: 127.0.0.0/8, ::1, localhost. 0.0.0.0 and :: are every interface. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h) || h === '0:0:0:0:0:0:0:1';
  return false;
}
