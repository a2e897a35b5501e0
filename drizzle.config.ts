import { defineConfig } from "drizzle-kit";

// Migrations are generated from db/schema with `npm run db:generate` and applied the same way everywhere:
// the Node migrator at start-up, `wrangler d1 migrations apply` on Workers.
export default defineConfig({
  dialect: "sqlite",
  schema: "./db/schema/index.ts",
  out: "./db/migrations",
});
