/** Builds the contract target for the S3 adapter on a test server, counting what reaches the server. */

import { createS3Store, type S3Store, type S3StoreOptions } from "../../storage/s3.ts";
import type { S3TestServer } from "../helpers/s3-servers.ts";
import type { ContractTarget } from "./store-contract.ts";

const MIB = 1024 * 1024;

export interface S3Probe {
  store: S3Store;
  /** Bytes of PutObject / UploadPart bodies the server has acknowledged. */
  landedBytes(): number;
  /** Every command sent, by name, in order. */
  commands: string[];
}

/** An S3 store on `server` (5 MiB parts, 2 in flight, to keep tests quick) with counters on its client. */
export function probedS3Store(server: S3TestServer, options: Partial<S3StoreOptions> = {}): S3Probe {
  const store = createS3Store({ ...server, forcePathStyle: true, partSizeBytes: 5 * MIB, queueSize: 2, ...options });
  let landed = 0;
  const commands: string[] = [];
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      commands.push(context.commandName ?? "?");
      const result = await next(args);
      const body = (args.input as { Body?: unknown }).Body;
      if (body instanceof Uint8Array) landed += body.byteLength;
      return result;
    },
    { step: "initialize", name: "contractProbe" },
  );
  return { store, landedBytes: () => landed, commands };
}

export function s3ContractTarget(
  server: S3TestServer,
  backend: {
    listOrder: "bytes" | "unordered";
    presign: "unchecked" | "checked";
    storeOptions?: Partial<S3StoreOptions>;
  },
): ContractTarget {
  const probe = probedS3Store(server, backend.storeOptions);
  return {
    store: probe.store,
    keepsContentType: true,
    landedBytes: probe.landedBytes,
    // queueSize parts in flight, one part being filled, and a few 64 KiB chunks in the pipes.
    maxBufferedBytes: 3 * 5 * MIB + MIB,
    listOrder: backend.listOrder,
    presign: backend.presign,
    stop: async () => {
      probe.store.client.destroy();
      await server.stop();
    },
  };
}
