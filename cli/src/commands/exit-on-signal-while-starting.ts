/** The shell's exit status for a process ended by a signal: 128 + its number. */
export const SIGNAL_EXIT_STATUS = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Ctrl-C (SIGINT) or SIGTERM while `fedtune coordinator` is still starting — listening already, but loading its
 * model and holdout, so no run has started and no round, checkpoint or report is being written — ends the
 * process at once: one line (`interrupted while WHAT; no run was started`), `cleanup` (e.g. closing the SQLite
 * store), and the shell's status for the signal (130, 143). Node's default would end it too, but silently and
 * without closing the store. The returned function removes the handlers once the run has started: from then on
 * the run's own stop (after the current round) takes over.
 */
export function exitOnSignalWhileStarting(what: string, cleanup: () => void, print: (line: string) => void = (line) => console.error(line)): () => void {
  const handlers = (Object.keys(SIGNAL_EXIT_STATUS) as Array<keyof typeof SIGNAL_EXIT_STATUS>).map((signal) => {
    const handler = () => {
      print(`fedtune: interrupted (${signal}) while ${what}; no run was started`);
      try {
        cleanup();
      } finally {
        process.exit(SIGNAL_EXIT_STATUS[signal]);
      }
    };
    process.once(signal, handler);
    return () => process.off(signal, handler);
  });
  return () => {
    for (const remove of handlers) remove();
  };
}
