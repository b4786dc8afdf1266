import { FedtuneError } from '../errors.ts';
import { vocabularyHashOf, type ModelTextSection } from '../messages/model-text-section.ts';

/**
 * A site whose texts are token ids already (made with the vocabulary of hash `tokenizedWith`) can train only a
 * model that brings that same vocabulary (the one the run's terms pin as `model.vocabularyHash`): otherwise its
 * ids mean other words. Throws FedtuneError('data') with one line; nothing to check without `tokenizedWith`.
 */
export function checkTokenizedWith(tokenizedWith: string | undefined, text: ModelTextSection | undefined, what: string): void {
  if (tokenizedWith === undefined) return;
  const brought = text ? vocabularyHashOf(text) : undefined;
  if (brought === tokenizedWith) return;
  throw new FedtuneError('data', `${what} was tokenized with vocabulary ${tokenizedWith.slice(0, 16)}…, but the run's model brings ${brought ? `vocabulary ${brought.slice(0, 16)}…` : 'no vocabulary'}: this site cannot train it`, { shareable: true });
}
