import { Webhook } from "standardwebhooks";

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes (the form OpenAI's dashboard hands out). */
export function newWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

// A type alias, not an interface, so it is assignable to header records (`HeadersInit`, the SDK's `HeadersLike`).
export type WebhookHeaders = {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
};

/**
 * The three Standard Webhooks headers for one send: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by the
 * base64-decoded bytes after `whsec_`. `timestampMs` is rounded down to seconds, as the header carries seconds.
 */
export function signWebhook(secret: string, webhookId: string, timestampMs: number, body: string): WebhookHeaders {
  const seconds = Math.floor(timestampMs / 1000);
  const signature = new Webhook(secret).sign(webhookId, new Date(seconds * 1000), body);
  return { "webhook-id": webhookId, "webhook-timestamp": String(seconds), "webhook-signature": signature };
}
