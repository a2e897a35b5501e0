import { and, eq, isNull } from "drizzle-orm";
import { newSecret, sha256Hex } from "../../api/lib/hash.ts";
import { ID_PREFIX, newId } from "../../api/lib/ids.ts";
import type { Db } from "../client.ts";
import { apiKeys, projects } from "../schema/index.ts";

export type KeyRole = "admin" | "member";

export async function findActiveKey(db: Db, secret: string) {
  const hash = await sha256Hex(secret);
  const rows = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)))
    .limit(1);
  return rows[0] ?? null;
}

/** Creates a project and its first key in one atomic batch; returns the secret, which is never stored. */
export async function createProjectWithKey(db: Db, name: string, role: KeyRole = "member", secret = newSecret()) {
  const projectId = newId(ID_PREFIX.project);
  const keyId = newId(ID_PREFIX.apiKey);
  await db.batch([
    db.insert(projects).values({ id: projectId, name }),
    db.insert(apiKeys).values({ id: keyId, projectId, hash: await sha256Hex(secret), hint: secret.slice(0, 10), role }),
  ]);
  return { projectId, keyId, secret };
}

/**
 * The start-up key. With `RFT_API_KEY` set, that key is made to exist (admin of the default project). Without it,
 * a key is created only when the database has none, and returned so the server can print it once.
 */
export async function ensureBootstrapKey(db: Db, configured?: string): Promise<{ created: boolean; secret?: string }> {
  if (configured) {
    if (await findActiveKey(db, configured)) return { created: false };
    const existing = await db.select().from(projects).where(eq(projects.name, "default")).limit(1);
    const project = existing[0];
    if (!project) {
      await createProjectWithKey(db, "default", "admin", configured);
    } else {
      const hash = await sha256Hex(configured);
      await db.insert(apiKeys).values({
        id: newId(ID_PREFIX.apiKey),
        projectId: project.id,
        hash,
        hint: configured.slice(0, 10),
        role: "admin",
      });
    }
    return { created: true };
  }
  const any = await db.select({ id: apiKeys.id }).from(apiKeys).limit(1);
  if (any.length) return { created: false };
  const { secret } = await createProjectWithKey(db, "default", "admin");
  return { created: true, secret };
}
