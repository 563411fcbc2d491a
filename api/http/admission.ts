import type { Response } from 'express';

const ADMITTED: Promise<void> = Promise.resolve();

/**
 * The rate limiter's verdict on a request, decided while the request goes on: a route either waits
 * for it before doing anything (the default) or overlaps its own first round trips with it and
 * waits before any side effect. Either way no answer leaves before the verdict, and a refusal wins.
 */
export function setAdmission(res: Response, verdict: Promise<void>): void {
  // Marked as handled here: a request that ends before anyone asked (an unknown route) must not crash the process.
  verdict.catch(() => undefined);
  res.locals['admission'] = verdict;
}

export function admissionOf(res: Response): Promise<void> {
  return (res.locals['admission'] as Promise<void> | undefined) ?? ADMITTED;
}

/** Settles once every check has, and rejects with the first refusal in the order given, whichever finished first. */
export async function firstRefusal(checks: readonly Promise<unknown>[]): Promise<void> {
  for (const outcome of await Promise.allSettled(checks)) if (outcome.status === 'rejected') throw outcome.reason;
}
