/**
 * Group-relative advantages (GRPO): for each prompt, the rewards of its n samples are centred on the group
 * mean and divided by the group's standard deviation plus eps. A group whose rewards are all equal carries
 * no learning signal (every advantage would be 0, and the std is 0): it is counted and marked for skipping
 * rather than divided by zero.
 *
 * Shapes: `rewards_G` is one reward per member of one group; `rewards_PG` is prompts by group members.
 */

export type GroupAdvantages = {
  /** One advantage per group member; all zeros for a zero-variance group. */
  advantages_G: number[];
  mean: number;
  /** Population standard deviation (divide by G, not G - 1). */
  std: number;
  /** True when every reward in the group is equal (within `tol`): the group teaches nothing. */
  zeroVariance: boolean;
};

export type BatchAdvantages = {
  groups: GroupAdvantages[];
  /** How many groups had all-equal rewards and were skipped. */
  zeroVarianceGroups: number;
  /** zeroVarianceGroups / groups.length (0 for an empty batch). */
  fracZeroVariance: number;
};

export const DEFAULT_EPS = 1e-6;

/** Mean of a list; 0 for an empty list. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Population standard deviation; 0 for fewer than two values. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / xs.length);
}

/**
 * Advantages for one group: `(r - mean) / (std + eps)`, or all zeros when the rewards are all equal
 * (a group of one sample is always zero-variance).
 */
export function groupAdvantages(
  rewards_G: readonly number[],
  options: { eps?: number; normalizeStd?: boolean; tol?: number } = {},
): GroupAdvantages {
  const eps = options.eps ?? DEFAULT_EPS;
  const tol = options.tol ?? 1e-12;
  const m = mean(rewards_G);
  const s = std(rewards_G);
  const zeroVariance = rewards_G.length < 2 || rewards_G.every((r) => Math.abs(r - rewards_G[0]!) <= tol);
  if (zeroVariance) return { advantages_G: rewards_G.map(() => 0), mean: m, std: s, zeroVariance: true };
  const scale = options.normalizeStd === false ? 1 : s + eps;
  return { advantages_G: rewards_G.map((r) => (r - m) / scale), mean: m, std: s, zeroVariance: false };
}

/** Advantages for a batch of groups, with the count and fraction of zero-variance groups. */
export function batchAdvantages(
  rewards_PG: readonly (readonly number[])[],
  options: { eps?: number; normalizeStd?: boolean } = {},
): BatchAdvantages {
  const groups = rewards_PG.map((g) => groupAdvantages(g, options));
  const zeroVarianceGroups = groups.filter((g) => g.zeroVariance).length;
  return {
    groups,
    zeroVarianceGroups,
    fracZeroVariance: groups.length === 0 ? 0 : zeroVarianceGroups / groups.length,
  };
}
