import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { webhookEventTypeFor, webhookPayload } from "../../workers/webhooks/outbox.ts";
import { RETRY_SCHEDULE_S, retryDelayMs } from "../../workers/webhooks/retry.ts";
import { newWebhookSecret, signWebhook } from "../../workers/webhooks/signature.ts";

describe("Standard Webhooks signature", () => {
  it("matches OpenAI's test vector (openai-node tests/lib/webhooks.test.ts)", () => {
    const body =
      '{"id": "evt_685c059ae3a481909bdc86819b066fb6", "object": "event", "created_at": 1750861210, "type": "response.completed", "data": {"id": "resp_123"}}';
    const headers = signWebhook(
      "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=",
      "wh_685c059ae39c8190af8c71ed1022a24d",
      1750861210 * 1000,
      body,
    );
    expect(headers).toEqual({
      "webhook-id": "wh_685c059ae39c8190af8c71ed1022a24d",
      "webhook-timestamp": "1750861210",
      "webhook-signature": "v1,gUAg4R2hWouRZqRQG4uJypNS8YK885G838+EHb4nKBY=",
    });
  });

  it("matches the Standard Webhooks specification's vector", () => {
    const headers = signWebhook(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330_999,
      '{"test": 2432232314}',
    );
    expect(headers["webhook-timestamp"]).toBe("1614265330");
    expect(headers["webhook-signature"]).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("a fresh secret is whsec_ + 32 base64 bytes, and the openai SDK's unwrap accepts what we sign", async () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(newWebhookSecret()).not.toBe(secret);
    const body = webhookPayload({
      eventId: "evt_1",
      type: "fine_tuning.job.cancelled",
      createdAt: 1_750_000_000,
      jobId: "ftjob-1",
    });
    const client = new OpenAI({ apiKey: "unused" });
    const event = await client.webhooks.unwrap(body, signWebhook(secret, "wh_1", Date.now(), body), secret);
    expect(event).toEqual({
      id: "evt_1",
      object: "event",
      type: "fine_tuning.job.cancelled",
      created_at: 1_750_000_000,
      data: { id: "ftjob-1" },
    });
    await expect(
      client.webhooks.unwrap(body, signWebhook(newWebhookSecret(), "wh_1", Date.now(), body), secret),
    ).rejects.toThrow(/signature/);
  });
});

describe("events and retry schedule", () => {
  it("only terminal statuses emit an event", () => {
    expect(webhookEventTypeFor("succeeded")).toBe("fine_tuning.job.succeeded");
    expect(webhookEventTypeFor("failed")).toBe("fine_tuning.job.failed");
    expect(webhookEventTypeFor("cancelled")).toBe("fine_tuning.job.cancelled");
    expect(webhookEventTypeFor("paused")).toBeNull();
    expect(webhookEventTypeFor("running")).toBeNull();
  });

  it("delays follow the schedule within ±20% jitter, and the last step repeats", () => {
    expect(RETRY_SCHEDULE_S.slice(0, 5)).toEqual([5, 30, 120, 600, 3600]);
    expect(retryDelayMs(1, () => 0.5)).toBe(5_000);
    expect(retryDelayMs(1, () => 0)).toBe(4_000);
    expect(retryDelayMs(2, () => 0.999_999)).toBeLessThanOrEqual(36_000);
    expect(retryDelayMs(4, () => 0.5)).toBe(600_000);
    expect(retryDelayMs(50, () => 0.5)).toBe(86_400_000);
  });
});
