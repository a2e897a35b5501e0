import { setTimeout as sleep } from "node:timers/promises";
import { QueueMessage } from "./queue.ts";
import type { LeasedMessage, TableQueue } from "./queue-table.ts";

/**
 * The queue consumer on Node: leases messages from the table queue, checks each with `QueueMessage`, and hands it
 * to the handler for its kind. A handler that returns acks the message; one that throws gets it back later with
 * exponential backoff; after `maxDeliveries` the message is poison: `onPoison` records why (an error event, a
 * failed job) and the message is dropped. A body that is not a `QueueMessage` is dropped at once.
 */
export type Handlers = {
  [K in QueueMessage["kind"]]?: (message: Extract<QueueMessage, { kind: K }>) => Promise<void>;
};

export interface ConsumerOptions {
  queue: TableQueue;
  handlers: Handlers;
  /** Called once for a message that failed `maxDeliveries` times, before it is dropped. */
  onPoison?: (message: QueueMessage, error: unknown, deliveries: number) => Promise<void>;
  pollMs?: number;
  leaseMs?: number;
  concurrency?: number;
  maxDeliveries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  log?: (line: string) => void;
}

export interface Consumer {
  /** Stops leasing, waits for the messages in hand. */
  stop(): Promise<void>;
}

/** Delay before delivery `deliveries + 1`: base·2^(n−1), capped, with ±20 % jitter so retries spread out. */
export function backoffMs(deliveries: number, baseMs: number, maxMs: number): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, deliveries - 1));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

export function startConsumer(options: ConsumerOptions): Consumer {
  const {
    queue,
    handlers,
    pollMs = 500,
    leaseMs = 60_000,
    concurrency = 4,
    maxDeliveries = 8,
    backoffBaseMs = 1_000,
    backoffMaxMs = 5 * 60_000,
    log = (line: string) => console.error(line),
  } = options;
  const topics = Object.keys(handlers);
  const inflight = new Set<Promise<void>>();
  let running = true;
  let wake: (() => void) | null = null;
  const poke = () => wake?.();
  const unsubscribe = queue.onSend(poke);

  async function handle(leased: LeasedMessage): Promise<void> {
    const parsed = QueueMessage.safeParse(leased.body);
    if (!parsed.success) {
      log(`queue: dropping malformed message ${leased.id} on '${leased.topic}': ${parsed.error.issues[0]?.message}`);
      await queue.ack(leased.id);
      return;
    }
    const message = parsed.data;
    const handler = handlers[message.kind] as ((m: QueueMessage) => Promise<void>) | undefined;
    // Keep the lease while a slow handler works, so nobody else picks the message up meanwhile.
    let leaseUntil: number | null = leased.leaseUntil;
    const keeper = setInterval(
      () => {
        if (leaseUntil === null) return;
        queue.extend(leased.id, leaseUntil, leaseMs).then(
          (next) => {
            leaseUntil = next;
          },
          () => {},
        );
      },
      Math.max(50, Math.floor(leaseMs / 2)),
    );
    try {
      if (!handler) throw new Error(`no handler for '${message.kind}'`);
      await handler(message);
      await queue.ack(leased.id);
    } catch (err) {
      if (leased.deliveries >= maxDeliveries) {
        log(
          `queue: giving up on ${message.kind} ${JSON.stringify(message)} after ${leased.deliveries} deliveries: ${errText(err)}`,
        );
        try {
          await options.onPoison?.(message, err, leased.deliveries);
        } finally {
          await queue.ack(leased.id);
        }
      } else {
        const delay = backoffMs(leased.deliveries, backoffBaseMs, backoffMaxMs);
        log(
          `queue: ${message.kind} ${JSON.stringify(message)} failed (delivery ${leased.deliveries}), retrying in ${delay} ms: ${errText(err)}`,
        );
        await queue.nack(leased.id, delay);
      }
    } finally {
      clearInterval(keeper);
    }
  }

  async function loop(): Promise<void> {
    while (running) {
      const free = concurrency - inflight.size;
      let got = 0;
      if (free > 0) {
        try {
          const batch = await queue.lease(topics, { max: free, leaseMs });
          got = batch.length;
          for (const leased of batch) {
            const task: Promise<void> = handle(leased)
              .catch((err) => log(`queue: handling ${leased.id} failed: ${errText(err)}`))
              .finally(() => {
                inflight.delete(task);
                poke();
              });
            inflight.add(task);
          }
        } catch (err) {
          log(`queue: lease failed: ${errText(err)}`);
        }
      }
      if (got > 0 && inflight.size < concurrency) continue;
      // Sleep until the poll interval passes, a message is sent in this process, or a slot frees up.
      const ac = new AbortController();
      wake = () => ac.abort();
      await sleep(pollMs, undefined, { signal: ac.signal }).catch(() => {});
      wake = null;
    }
  }

  const done = loop();
  return {
    async stop() {
      running = false;
      unsubscribe();
      poke();
      await done;
      await Promise.allSettled([...inflight]);
    },
  };
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
