import { createRoute } from "@hono/zod-openapi";
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  findWebhookEndpoint,
  listWebhookDeliveries,
  listWebhookEndpoints,
  type WebhookDeliveryRow,
  type WebhookEndpointRow,
} from "../../workers/webhooks/endpoints.ts";
import type { AppDeps } from "../deps.ts";
import { notFound } from "../errors.ts";
import { PageQuery, toPage } from "../lib/pagination.ts";
import { newRouter } from "../router.ts";
import {
  CreateWebhookEndpointRequest,
  type WebhookDelivery,
  WebhookDeliveryList,
  type WebhookEndpoint,
  WebhookEndpointDeleted,
  WebhookEndpointIdParam,
  WebhookEndpointList,
  WebhookEndpointWithSecret,
} from "../schemas/webhooks.ts";

const DEFAULT_LIMIT = 20;
const json = <T>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

export const toWebhookEndpoint = (row: WebhookEndpointRow): WebhookEndpoint => ({
  id: row.id,
  object: "webhook_endpoint",
  url: row.url,
  created_at: row.createdAt,
});

export const toWebhookDelivery = (row: WebhookDeliveryRow): WebhookDelivery => ({
  id: row.id,
  object: "webhook_delivery",
  endpoint_id: row.endpointId,
  event_id: row.eventId,
  event_type: row.eventType,
  status: row.status,
  attempts: row.attempts,
  next_attempt_at: row.status === "pending" ? row.nextAttemptAt : null,
  last_status_code: row.lastStatusCode,
  last_error: row.lastError,
  created_at: row.createdAt,
  delivered_at: row.deliveredAt,
});

/**
 * Beyond OpenAI, which configures webhook endpoints in its dashboard: register, list and delete a project's
 * endpoints and inspect their deliveries. Deliveries are signed with Standard Webhooks exactly as OpenAI signs
 * its own, so `client.webhooks.unwrap(body, headers, secret)` verifies them. Another project's endpoint is a 404.
 */
export function webhooksRoutes(deps: AppDeps) {
  const app = newRouter();

  app.openapi(
    createRoute({
      method: "post",
      path: "/webhook_endpoints",
      summary: "Register a webhook endpoint for fine_tuning.job.* events (its secret is shown only here)",
      request: { body: { content: { "application/json": { schema: CreateWebhookEndpointRequest } }, required: true } },
      responses: { 200: json(WebhookEndpointWithSecret, "The endpoint, with its signing secret") },
    }),
    async (c) => {
      const { url } = c.req.valid("json");
      const row = await createWebhookEndpoint(deps.db, c.get("projectId"), url);
      return c.json({ ...toWebhookEndpoint(row), secret: row.secret }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhook_endpoints",
      summary: "List webhook endpoints, newest first",
      request: { query: PageQuery },
      responses: { 200: json(WebhookEndpointList, "A cursor page of endpoints (no secrets)") },
    }),
    async (c) => {
      const { after, limit = DEFAULT_LIMIT } = c.req.valid("query");
      const rows = await listWebhookEndpoints(deps.db, c.get("projectId"), { after, limit });
      return c.json(toPage(rows, limit, toWebhookEndpoint), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/webhook_endpoints/{endpoint_id}",
      summary: "Delete a webhook endpoint; its pending deliveries are given up",
      request: { params: WebhookEndpointIdParam },
      responses: { 200: json(WebhookEndpointDeleted, "Deleted") },
    }),
    async (c) => {
      const { endpoint_id } = c.req.valid("param");
      if (!(await deleteWebhookEndpoint(deps.db, c.get("projectId"), endpoint_id))) {
        throw notFound("WebhookEndpoint", endpoint_id, "endpoint_id");
      }
      return c.json({ id: endpoint_id, object: "webhook_endpoint" as const, deleted: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhook_endpoints/{endpoint_id}/deliveries",
      summary: "List an endpoint's deliveries, newest first, with status, attempts and the last status code",
      request: { params: WebhookEndpointIdParam, query: PageQuery },
      responses: { 200: json(WebhookDeliveryList, "A cursor page of deliveries") },
    }),
    async (c) => {
      const { endpoint_id } = c.req.valid("param");
      const { after, limit = DEFAULT_LIMIT } = c.req.valid("query");
      const endpoint = await findWebhookEndpoint(deps.db, c.get("projectId"), endpoint_id);
      if (!endpoint) throw notFound("WebhookEndpoint", endpoint_id, "endpoint_id");
      const rows = await listWebhookDeliveries(deps.db, endpoint.id, { after, limit });
      return c.json(toPage(rows, limit, toWebhookDelivery), 200);
    },
  );

  return app;
}
