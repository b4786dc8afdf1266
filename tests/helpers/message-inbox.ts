/**
 * What a hand-driven connection in a test received, in order, and `next`: the first not-yet-consumed message of an
 * event (waiting for it up to `timeoutMs`). Shared by the raw sites and peers of the access, hostile and site-routing
 * tests.
 */
export interface MessageInbox<M extends { event: string; payload: unknown }> {
  readonly messages: M[];
  /** Records a message and wakes whatever waits for one. */
  push(message: M): void;
  next(event: string, timeoutMs: number): Promise<M['payload']>;
}

export function messageInbox<M extends { event: string; payload: unknown }>(): MessageInbox<M> {
  const messages: M[] = [];
  const waiters: Array<() => void> = [];
  let seen = 0;
  return {
    messages,
    push(message) {
      messages.push(message);
      for (const w of waiters.splice(0)) w();
    },
    next: (event, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms; got ${messages.map((m) => m.event).join(', ')}`)), timeoutMs);
        const check = () => {
          const i = messages.findIndex((m, k) => k >= seen && m.event === event);
          if (i < 0) return void waiters.push(check);
          seen = i + 1;
          clearTimeout(timer);
          resolve(messages[i].payload);
        };
        check();
      }),
  };
}
