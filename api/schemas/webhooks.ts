import { z } from "@hono/zod-openapi";
import { pageSchema } from "../lib/pagination.ts";

/** Beyond OpenAI (which configures endpoints in its dashboard): where a project's job webhooks go. */
export const CreateWebhookEndpointRequest = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: "must be an absolute http:// or https:// URL" })
      .max(2048)
      .openapi({ example: "https://example.com/hooks/fine-tuning" }),
  })
  .strict()
  .openapi("CreateWebhookEndpointRequest");
export type CreateWebhookEndpointRequest = z.infer<typeof CreateWebhookEndpointRequest>;

export const WebhookEndpoint = z
  .object({
    id: z.string().openapi({ example: "whep_0mgx3k2a1b7Qk3fZp9sLr2XyWv" }),
    object: z.literal("webhook_endpoint"),
    url: z.string(),
    created_at: z.number().int().openapi({ description: "Unix seconds" }),
  })
  .openapi("WebhookEndpoint");
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

export const WebhookEndpointWithSecret = WebhookEndpoint.extend({
  secret: z.string().openapi({
    description:
      "Standard Webhooks signing secret (`whsec_…`). Shown only in this response; pass it to `client.webhooks.unwrap`.",
  }),
}).openapi("WebhookEndpointWithSecret");
export type WebhookEndpointWithSecret = z.infer<typeof WebhookEndpointWithSecret>;

export const WebhookEndpointDeleted = z
  .object({ id: z.string(), object: z.literal("webhook_endpoint"), deleted: z.literal(true) })
  .openapi("WebhookEndpointDeleted");
export type WebhookEndpointDeleted = z.infer<typeof WebhookEndpointDeleted>;

export const WebhookDelivery = z
  .object({
    id: z.string().openapi({ description: "Also the `webhook-id` header of every attempt" }),
    object: z.literal("webhook_delivery"),
    endpoint_id: z.string(),
    event_id: z.string().openapi({ description: "The payload's `id` (`evt_…`), shared by every endpoint" }),
    event_type: z.string().openapi({ example: "fine_tuning.job.succeeded" }),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    next_attempt_at: z.number().int().nullable().openapi({ description: "Unix seconds; null unless pending" }),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    created_at: z.number().int(),
    delivered_at: z.number().int().nullable(),
  })
  .openapi("WebhookDelivery");
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const WebhookEndpointList = pageSchema(WebhookEndpoint, "WebhookEndpointList");
export const WebhookDeliveryList = pageSchema(WebhookDelivery, "WebhookDeliveryList");

export const WebhookEndpointIdParam = z.object({
  endpoint_id: z.string().openapi({ param: { name: "endpoint_id", in: "path" } }),
});
