/**
 * Shared pieces of the webhook tests: a migrated SQLite file in a temp folder, rows inserted directly, and a
 * real HTTP receiver on 127.0.0.1 whose answers the test scripts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { newId } from "../../api/lib/ids.ts";
import type { Db } from "../../db/client.ts";
import { openNodeDb } from "../../db/node.ts";
import { jobs, webhookDeliveries, webhookEndpoints } from "../../db/schema/index.ts";
import { newWebhookSecret } from "../../workers/webhooks/signature.ts";

export async function openTestDb(): Promise<{ db: Db; file: string; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "rft-webhooks-"));
  const file = join(dir, "rft.db");
  const { db, close } = await openNodeDb(file);
  return {
    db,
    file,
    close: () => {
      close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function insertJob(db: Db, projectId: string, status: typeof jobs.$inferInsert.status = "running") {
  const id = newId("ftjob-");
  await db.insert(jobs).values({
    id,
    projectId,
    model: "tiny",
    trainingFile: "file-x",
    seed: 1,
    method: { type: "reinforcement" },
    resolved: {},
    status,
    resultFiles: [],
    updatedAt: Date.now(),
  });
  return id;
}

export async function insertEndpoint(db: Db, projectId: string, url: string, options: { disabled?: boolean } = {}) {
  const row = {
    id: newId("whep_"),
    projectId,
    url,
    secret: newWebhookSecret(),
    createdAt: Math.floor(Date.now() / 1000),
    disabledAt: options.disabled ? Math.floor(Date.now() / 1000) : null,
  };
  await db.insert(webhookEndpoints).values(row);
  return row;
}

export const deliveriesOf = (db: Db, endpointId: string) =>
  db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpointId));

export interface Received {
  headers: IncomingMessage["headers"];
  body: string;
  at: number;
}

/** A real receiver; `answer` decides each response (return null to never answer). */
export async function startReceiver(answer: (req: Received, index: number) => number | null = () => 200) {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const entry = { headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() };
      received.push(entry);
      const status = answer(entry, received.length - 1);
      if (status === null) return; // hang: the sender's timeout must fire
      res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : `receiver says ${status}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
