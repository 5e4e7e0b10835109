/** `p`'s value, or undefined once `ms` passed first (the timer never outlives the race). */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((resolve) => (t = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(t);
  }
}
