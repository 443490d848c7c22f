// Waiting with a time limit: shutdown waits for commands to finish and for shells to exit, but
// never longer than it said it would.

/** Settles when `promise` settles (as it does) or resolves after `ms`, whichever comes first. */
export async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([promise, timeout]);
  clearTimeout(timer);
}
