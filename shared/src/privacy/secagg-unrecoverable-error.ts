import { FedtuneError } from '../errors.ts';

/**
 * Secure aggregation could not remove some sites' masks although enough of their neighbours answered: the
 * shares they dealt were unusable (sealed so they do not open, not shares, or off the secret they committed
 * to). The attempt's sum cannot be trusted; `owners` (sorted) are the sites to leave out of the next attempt.
 */
export class SecAggUnrecoverableError extends FedtuneError {
  constructor(
    message: string,
    readonly owners: readonly string[],
  ) {
    super('malformed_payload', message);
  }
}
