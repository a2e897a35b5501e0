/**
 * When a failed delivery is tried again. The delay after the n-th failed attempt is `RETRY_SCHEDULE_S[n-1]`
 * (the last entry repeats), times a jitter factor in [0.8, 1.2) so endpoints that failed together (an outage)
 * do not come back in lockstep:
 *
 *   attempt:    1 ──5 s──▶ 2 ──30 s──▶ 3 ──2 min──▶ 4 ──10 min──▶ 5 ──1 h──▶ 6 ──6 h──▶ 7 ──12 h──▶ 8 ──24 h──▶ …
 *
 * Roughly ×6 per step until an hour, then stretched to a day; with the default 8 attempts a delivery is retried
 * for about 19 hours before it is marked failed. (Standard Webhooks' reference senders use a similar curve.)
 */
export const RETRY_SCHEDULE_S = [5, 30, 120, 600, 3_600, 6 * 3_600, 12 * 3_600, 24 * 3_600] as const;

export const DEFAULT_MAX_ATTEMPTS = 8;

/** Milliseconds to wait after `failedAttempts` (≥ 1) failures; `random` is injectable for tests. */
export function retryDelayMs(failedAttempts: number, random: () => number = Math.random): number {
  const index = Math.min(Math.max(failedAttempts, 1), RETRY_SCHEDULE_S.length) - 1;
  const baseS = RETRY_SCHEDULE_S[index] ?? 86_400;
  return Math.round(baseS * 1000 * (0.8 + 0.4 * random()));
}
