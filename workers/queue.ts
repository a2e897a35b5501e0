import { z } from "zod";

/**
 * The queue port: at-least-once delivery of small dispatch messages. Adapters: a table with leases on Node
 * (`queue-table.ts`), Cloudflare Queues on Workers. A lost message is not fatal: the reaper re-sends a nudge
 * for any job stuck in `validating_files` or `queued` without a live run.
 */
export const QueueMessage = z.discriminatedUnion("kind", [
  /** Check the job's files against its method, count its steps, then move it to `queued` and send `dispatch`. */
  z.object({ kind: z.literal("validate"), jobId: z.string() }),
  /** Launch a run of a `queued` job on a runner backend. */
  z.object({ kind: z.literal("dispatch"), jobId: z.string() }),
  /** Deliver pending webhook deliveries for an event. */
  z.object({ kind: z.literal("webhook"), deliveryId: z.string() }),
]);
export type QueueMessage = z.infer<typeof QueueMessage>;

export interface Queue {
  send(message: QueueMessage, options?: { delayMs?: number }): Promise<void>;
}
