/**
 * `Authorization: Bearer TOKEN` (RFC 6750 §2.1; the scheme is case-insensitive): 1–512 visible ASCII
 * characters, surrounding whitespace ignored. Tokens are 43 characters, so the bound only keeps a hostile
 * header from being hashed at length.
 */
const BEARER = /^Bearer ([\x21-\x7e]{1,512})$/i;

/** The token of an `Authorization` header, or undefined when there is none or it is not a bearer token. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return authorization === undefined ? undefined : BEARER.exec(authorization.trim())?.[1];
}
