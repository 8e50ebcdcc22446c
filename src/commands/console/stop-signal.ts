/** Waits for the end of a run: SIGINT, SIGTERM, a duration, or an abort from inside. */
export interface StopConditions {
  durationSeconds?: number;
  signal?: AbortSignal;
}

export function waitForStop(conditions: StopConditions): Promise<string> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (why: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (timer) clearTimeout(timer);
      // A second Ctrl-C while stopping means "now".
      process.once('SIGINT', () => process.exit(130));
      resolve(why);
    };
    const onInt = () => finish('SIGINT');
    const onTerm = () => finish('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    if (conditions.durationSeconds !== undefined) {
      timer = setTimeout(() => finish('duration'), conditions.durationSeconds * 1000);
    }
    if (conditions.signal) {
      if (conditions.signal.aborted) finish('aborted');
      else conditions.signal.addEventListener('abort', () => finish('aborted'), { once: true });
    }
  });
}
