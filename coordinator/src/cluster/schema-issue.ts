import type { ZodError } from 'zod';

/** Where and why a cluster message failed its schema: the first issue's path (dotted, '(root)' for the message itself) and message. */
export function firstIssue(error: ZodError): string {
  // A failed parse has at least one issue.
  const issue = error.issues[0];
  return `${issue.path.join('.') || '(root)'}: ${issue.message}`;
}
