/**
 * The object store: the port, its config schema, and the one factory the wiring module calls at start-up.
 * Adapters are imported lazily so that importing this module pulls in neither node:fs (the local adapter) nor
 * the AWS SDK until a store of that kind is built.
 */

import { z } from "zod";
import type { ObjectStore } from "./port.ts";

export { ObjectStoreError, type ObjectStoreErrorCode } from "./errors.ts";
export type { GetResult, ObjectInfo, ObjectStore, PutOptions, PutResult } from "./port.ts";
export type { S3Store, S3StoreOptions } from "./s3.ts";

const MIB = 1024 * 1024;

export const LocalObjectStoreConfig = z.object({
  kind: z.literal("local"),
  /** The directory that holds the objects; created on first write. */
  dir: z.string().min(1),
});

export const S3ObjectStoreConfig = z.object({
  kind: z.literal("s3"),
  /** Leave out for AWS S3; set for R2, MinIO and other S3-compatible services. */
  endpoint: z.url().optional(),
  region: z.string().min(1),
  bucket: z.string().min(1),
  /** Both or neither; without them the AWS SDK's default credential chain (IAM roles included) is used. */
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
  forcePathStyle: z.boolean().default(false),
  partSizeBytes: z
    .number()
    .int()
    .min(5 * MIB)
    .max(5 * 1024 * MIB)
    .optional(),
  queueSize: z.number().int().min(1).max(64).optional(),
});

export const ObjectStoreConfig = z.discriminatedUnion("kind", [LocalObjectStoreConfig, S3ObjectStoreConfig]);
export type ObjectStoreConfig = z.infer<typeof ObjectStoreConfig>;

/** Builds the object store that `config` (already parsed by `ObjectStoreConfig`) describes. */
export async function createObjectStore(config: ObjectStoreConfig): Promise<ObjectStore> {
  switch (config.kind) {
    case "local": {
      const { createLocalStore } = await import("./local.ts");
      return createLocalStore(config.dir);
    }
    case "s3": {
      const { createS3Store } = await import("./s3.ts");
      const { kind: _kind, ...options } = config;
      return createS3Store(options);
    }
  }
}
