import { defineConfig } from "vitest/config";

// Two projects: `unit` (pure code, no servers) and `integration` (real servers started by the test on loopback:
// the API, S3-compatible servers, the engine). Files are named *.unit.test.ts / *.int.test.ts.
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/**/*.unit.test.ts"], testTimeout: 20_000 } },
      {
        test: {
          name: "integration",
          include: ["test/**/*.int.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          pool: "forks",
        },
      },
    ],
  },
});
