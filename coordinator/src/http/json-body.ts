import type { FastifyInstance } from 'fastify';
import { FedtuneError } from '@fedtune/shared';

/**
 * Deepest nesting of arrays and objects a JSON body may have. A run configuration is a few levels deep;
 * deeper input only serves to overflow the stack of whatever walks it later (JSON.stringify, validation).
 */
export const MAX_JSON_DEPTH = 32;

/** The deepest nesting of `[`/`{` in JSON text, outside strings; stops counting past `limit`. One pass, no recursion. */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  // Stryker disable next-line EqualityOperator: equivalent: charCodeAt past the end is NaN, which matches no branch
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      // Stryker disable next-line EqualityOperator: equivalent: at depth === max the assignment changes nothing
      if (++depth > max) max = depth;
      if (max > limit) return max;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * Replaces fastify's JSON body parser with one that refuses bodies nested deeper than `maxDepth` (400
 * malformed_payload) before parsing them, then parses as fastify does (secure-json-parse: `__proto__` and
 * `constructor.prototype` keys are refused).
 */
export function registerJsonBodyParser(app: FastifyInstance, maxDepth = MAX_JSON_DEPTH): void {
  // Stryker disable next-line StringLiteral: equivalent: an empty action is secure-json-parse's default, 'error'
  const parse = app.getDefaultJsonParser('error', 'error');
  // fastify lets the default JSON parser be replaced without removing it first.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (jsonDepth(text, maxDepth) > maxDepth) {
      done(new FedtuneError('malformed_payload', `JSON body nested deeper than ${maxDepth} levels`), undefined);
      return;
    }
    parse(request, text, done);
  });
}
