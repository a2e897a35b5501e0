import { type Queue, QueueMessage } from "./queue.ts";

/** The subset of a Cloudflare Queues producer binding we use. */
export interface QueueProducerLike {
  send(body: unknown, options?: { delaySeconds?: number }): Promise<void>;
}

/** The queue port over Cloudflare Queues (Workers entry); messages are checked before they leave. */
export function createCloudflareQueue(producer: QueueProducerLike): Queue {
  return {
    async send(message, options = {}) {
      const body = QueueMessage.parse(message);
      const delaySeconds = options.delayMs ? Math.ceil(options.delayMs / 1000) : 0;
      await producer.send(body, delaySeconds ? { delaySeconds } : {});
    },
  };
}
