/**
 * Rejects (with `expired()`, by default a plain Error) when `work` has not settled within `ms`;
 * the work itself is not cancelled, only no longer awaited.
 */
export function within<T>(
  work: Promise<T>,
  ms: number,
  expired: () => Error = () => new Error(`no answer within ${ms} ms`),
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(expired()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
