import { InvalidArgumentError } from 'commander';
import { ConnectionLimits, type ConnectionLimitsInput } from '@fedtune/coordinator';
import { clipText } from '@fedtune/shared';

/** The fields `--connection-limit` may set: every connection limit the coordinator has (their defaults: connection-limits.ts). */
export const CONNECTION_LIMIT_FIELDS = Object.keys(ConnectionLimits.shape) as Array<keyof ConnectionLimitsInput & string>;

/**
 * `--connection-limit KEY=VALUE` (repeatable): one of the coordinator's connection limits (docs/access.md#limits),
 * e.g. `maxUnwelcomedPerAddress=4096` for a gateway holding thousands of sites. Each value is checked against the
 * limit's own schema as it is parsed, so a typo or an out-of-range value is refused with the field's name before
 * anything starts; the defaults stay in the schema.
 */
export function connectionLimitOption(value: string, previous: ConnectionLimitsInput = {}): ConnectionLimitsInput {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected KEY=VALUE, got "${clipText(value, 80)}" (KEY one of ${CONNECTION_LIMIT_FIELDS.join(', ')})`);
  const key = value.slice(0, eq);
  const raw = value.slice(eq + 1);
  if (!(CONNECTION_LIMIT_FIELDS as string[]).includes(key)) throw new InvalidArgumentError(`unknown connection limit "${clipText(key, 80)}": one of ${CONNECTION_LIMIT_FIELDS.join(', ')}`);
  const number = raw.trim() === '' ? NaN : Number(raw);
  const next = { ...previous, [key]: number };
  const parsed = ConnectionLimits.safeParse(next);
  if (!parsed.success) {
    const issue = parsed.error.issues.find((i) => i.path[0] === key) ?? parsed.error.issues[0];
    throw new InvalidArgumentError(`${key}=${clipText(raw, 80)}: ${issue.message}`);
  }
  return next;
}
