import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { createdAtColumn, idColumn, projectColumn } from "./columns.ts";

/** API keys, stored only as a sha256 hash of the secret. `admin` keys may also create projects. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: idColumn(),
    projectId: projectColumn(),
    hash: text("hash").notNull().unique(),
    /** First characters of the secret, to tell keys apart in listings without storing them. */
    hint: text("hint").notNull(),
    role: text("role", { enum: ["admin", "member"] }).notNull(),
    createdAt: createdAtColumn(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("api_keys_project").on(t.projectId)],
);
