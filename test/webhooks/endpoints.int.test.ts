/**
 * The webhook endpoints API (beyond OpenAI, so our own `fetch`, not the SDK) against a real server started by
 * the test: create (secret shown once), list (cursor pages, no secrets), deliveries, delete, tenancy, errors.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newWebhookEventId, webhookOutboxStatement } from "../../workers/webhooks/outbox.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { insertJob } from "./fixture.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
});

async function call(method: string, path: string, options: { key?: string; body?: unknown } = {}) {
  const response = await fetch(`${server.baseURL}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${options.key ?? server.apiKey}`,
      ...(options.body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the tests read whatever JSON came back and assert on it.
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe("webhook endpoints API", () => {
  it("creates an endpoint with a whsec_ secret shown only at creation", async () => {
    const { status, body } = await call("POST", "/webhook_endpoints", { body: { url: "https://example.com/hook" } });
    expect(status).toBe(200);
    expect(body).toEqual({
      id: expect.stringMatching(/^whep_/),
      object: "webhook_endpoint",
      url: "https://example.com/hook",
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      created_at: expect.any(Number),
    });
    expect(Math.abs(body.created_at - Date.now() / 1000)).toBeLessThan(60);

    const list = await call("GET", "/webhook_endpoints");
    const listed = list.body.data.find((e: { id: string }) => e.id === body.id);
    expect(listed).toEqual({ id: body.id, object: "webhook_endpoint", url: body.url, created_at: body.created_at });
  });

  it("lists newest first in cursor pages the SDK can walk with after = last id", async () => {
    const tenant = await server.newTenant("paging");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { body } = await call("POST", "/webhook_endpoints", { key: tenant.apiKey, body: { url: `http://h/${i}` } });
      ids.push(body.id);
    }
    const seen: string[] = [];
    let after = "";
    for (;;) {
      const { body } = await call("GET", `/webhook_endpoints?limit=2${after ? `&after=${after}` : ""}`, {
        key: tenant.apiKey,
      });
      expect(body.object).toBe("list");
      seen.push(...body.data.map((e: { id: string }) => e.id));
      for (const e of body.data) expect(e).not.toHaveProperty("secret");
      if (!body.has_more) break;
      after = body.data.at(-1).id;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  it("lists an endpoint's deliveries with status and attempts", async () => {
    const tenant = await server.newTenant("deliveries");
    const { body: endpoint } = await call("POST", "/webhook_endpoints", {
      key: tenant.apiKey,
      body: { url: "http://x/" },
    });
    const db = server.runtime.deps.db;
    const jobId = await insertJob(db, tenant.projectId, "cancelled");
    const eventId = newWebhookEventId();
    await db.batch([
      webhookOutboxStatement(db, {
        jobId,
        type: "fine_tuning.job.cancelled",
        eventId,
        createdAt: 1_800_000_000,
        guard: sql`1 = 1`,
      }),
    ]);

    const { status, body } = await call("GET", `/webhook_endpoints/${endpoint.id}/deliveries`, { key: tenant.apiKey });
    expect(status).toBe(200);
    expect(body).toMatchObject({ object: "list", has_more: false });
    expect(body.data).toEqual([
      {
        id: expect.stringMatching(/^wh_/),
        object: "webhook_delivery",
        endpoint_id: endpoint.id,
        event_id: eventId,
        event_type: "fine_tuning.job.cancelled",
        status: "pending",
        attempts: 0,
        next_attempt_at: 1_800_000_000,
        last_status_code: null,
        last_error: null,
        created_at: 1_800_000_000,
        delivered_at: null,
      },
    ]);

    // Deleting gives up what is pending; the endpoint is then gone for every route.
    const deleted = await call("DELETE", `/webhook_endpoints/${endpoint.id}`, { key: tenant.apiKey });
    expect(deleted).toEqual({ status: 200, body: { id: endpoint.id, object: "webhook_endpoint", deleted: true } });
    const after = await call("GET", `/webhook_endpoints/${endpoint.id}/deliveries`, { key: tenant.apiKey });
    expect(after.status).toBe(404);
    const row = await db.run(sql`SELECT status, last_error FROM webhook_deliveries WHERE event_id = ${eventId}`);
    expect((row as unknown as { rows: unknown[] }).rows).toEqual([
      { status: "failed", last_error: "endpoint deleted" },
    ]);
    const list = await call("GET", "/webhook_endpoints", { key: tenant.apiKey });
    expect(list.body.data).toEqual([]);
    expect((await call("DELETE", `/webhook_endpoints/${endpoint.id}`, { key: tenant.apiKey })).status).toBe(404);
  });

  it("another project's endpoint is a 404 in the OpenAI envelope, and stays untouched", async () => {
    const { body: mine } = await call("POST", "/webhook_endpoints", { body: { url: "http://mine/" } });
    const other = await server.newTenant("intruder");
    const notFound = {
      error: {
        message: `No such WebhookEndpoint object: ${mine.id}`,
        type: "invalid_request_error",
        param: "endpoint_id",
        code: "not_found",
      },
    };
    expect(await call("DELETE", `/webhook_endpoints/${mine.id}`, { key: other.apiKey })).toEqual({
      status: 404,
      body: notFound,
    });
    expect(await call("GET", `/webhook_endpoints/${mine.id}/deliveries`, { key: other.apiKey })).toEqual({
      status: 404,
      body: notFound,
    });
    const theirs = await call("GET", "/webhook_endpoints", { key: other.apiKey });
    expect(theirs.body.data).toEqual([]);
    const still = await call("GET", "/webhook_endpoints");
    expect(still.body.data.map((e: { id: string }) => e.id)).toContain(mine.id);
  });

  it.each([["ftp://example.com/hook"], ["javascript:alert(1)"], ["not a url"], [""], [42]])(
    "rejects url %j with a 400 naming param url",
    async (url) => {
      const { status, body } = await call("POST", "/webhook_endpoints", { body: { url } });
      expect(status).toBe(400);
      expect(body.error).toMatchObject({ type: "invalid_request_error", param: "url", code: "invalid_value" });
      expect(body.error.message).toContain("'url'");
    },
  );

  it("needs an API key", async () => {
    const response = await fetch(`${server.baseURL}/webhook_endpoints`);
    expect(response.status).toBe(401);
  });
});
