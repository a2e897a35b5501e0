import { describe, expect, it } from "vitest";
import { batchAdvantages, groupAdvantages, mean, std } from "../../gpu-runner/supervisor/advantages.ts";

describe("group-relative advantages", () => {
  it("centres on the group mean and divides by the population std + eps (hand-computed)", () => {
    // rewards 1,0,0,1: mean 0.5, population std 0.5 -> advantages +-0.5/(0.5+1e-6)
    const g = groupAdvantages([1, 0, 0, 1]);
    expect(g.mean).toBe(0.5);
    expect(g.std).toBe(0.5);
    expect(g.zeroVariance).toBe(false);
    const a = 0.5 / (0.5 + 1e-6);
    expect(g.advantages_G).toEqual([a, -a, -a, a]);
  });

  it("handles an uneven group: 1,0,0,0", () => {
    // mean 0.25; var = (0.75^2 + 3*0.25^2)/4 = 0.1875; std = 0.4330127...
    const g = groupAdvantages([1, 0, 0, 0], { eps: 0 });
    expect(g.std).toBeCloseTo(Math.sqrt(0.1875), 12);
    expect(g.advantages_G[0]).toBeCloseTo(0.75 / Math.sqrt(0.1875), 12); // 1.7320508
    expect(g.advantages_G[1]).toBeCloseTo(-0.25 / Math.sqrt(0.1875), 12); // -0.5773503
    expect(g.advantages_G.reduce((s, x) => s + x, 0)).toBeCloseTo(0, 12);
  });

  it("handles graded (non-binary) rewards: 0.2, 0.4, 0.9", () => {
    // mean 0.5; deviations -0.3,-0.1,0.4; var (0.09+0.01+0.16)/3 = 0.08666..; std 0.2943920
    const g = groupAdvantages([0.2, 0.4, 0.9], { eps: 0 });
    expect(g.mean).toBeCloseTo(0.5, 12);
    expect(g.std).toBeCloseTo(0.29439202887759, 10);
    expect(g.advantages_G.map((x) => Number(x.toFixed(6)))).toEqual([-1.019049, -0.339683, 1.358732]);
  });

  it("gives all-equal groups zero advantages without dividing by zero, and counts them", () => {
    for (const rewards of [[1, 1, 1, 1], [0, 0], [0.3, 0.3, 0.3], [7]]) {
      const g = groupAdvantages(rewards);
      expect(g.zeroVariance).toBe(true);
      expect(g.advantages_G).toEqual(rewards.map(() => 0));
      expect(g.advantages_G.every(Number.isFinite)).toBe(true);
    }
    const b = batchAdvantages([
      [1, 1, 1],
      [1, 0, 1],
      [0, 0, 0],
      [0.5, 0.25, 0],
    ]);
    expect(b.zeroVarianceGroups).toBe(2);
    expect(b.fracZeroVariance).toBe(0.5);
    expect(b.groups[1]!.zeroVariance).toBe(false);
    expect(b.groups[3]!.zeroVariance).toBe(false);
  });

  it("can keep advantages only mean-centred", () => {
    expect(groupAdvantages([1, 0], { normalizeStd: false }).advantages_G).toEqual([0.5, -0.5]);
  });

  it("has safe helpers for empty input", () => {
    expect(mean([])).toBe(0);
    expect(std([])).toBe(0);
    expect(batchAdvantages([]).fracZeroVariance).toBe(0);
  });
});
