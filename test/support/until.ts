/** Polling for what a test waits on, with a deadline that names what never came. */

/**
 * Polls `probe` every `everyMs` until it returns something other than undefined or false, and resolves
 * with that; rejects after `ms`, naming `what` (and the last error the probe threw, if any).
 */
export async function until<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
