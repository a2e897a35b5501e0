/**
 * Real S3-compatible servers for tests, each started in this process on 127.0.0.1 with an ephemeral port and a
 * bucket already created. Both are npm packages (no MinIO can be installed here); they fail differently, so
 * test S3 code against both:
 *
 * - fauxqs 1.9.2: checks no signatures; holds objects in memory; rejects request bodies over 11 MiB (so
 *   single PUTs and multipart parts must stay under that); has no UploadPartCopy (it treats one as an
 *   UploadPart without a body and answers without a CopyPartResult).
 * - s3rver 3.7.1: checks signatures (keys S3RVER/S3RVER); stores on disk in a temp folder; corrupts streamed
 *   PutObjects unless the client sets `requestChecksumCalculation: "WHEN_REQUIRED"`; answers UploadPartCopy with
 *   501 NotImplemented; answers `Range: bytes=0-0` with the whole object.
 *
 * Use `forcePathStyle: true` with both.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";

export interface S3TestServer {
  /** `http://127.0.0.1:<port>`; use with `forcePathStyle: true`. */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** Stops the server and removes whatever it stored. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The bucket to create (default "rft-test"). */
  bucket?: string;
}

export type FauxqsOptions = StartOptions;

const REGION = "us-east-1";

/** Starts fauxqs (in memory, no signature checks) with `bucket` created. */
export async function startFauxqs(options: FauxqsOptions = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? "rft-test";
  // startFauxqs() listens on 0.0.0.0; buildApp lets us bind loopback only.
  const { buildApp } = await import("fauxqs");
  const app = buildApp({ logger: false });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  const server: S3TestServer = {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: "test",
    secretAccessKey: "test",
    region: REGION,
    stop: async () => {
      await app.close();
    },
  };
  try {
    await createBucket(server);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: { closeAllConnections(): void };
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

/** Starts s3rver (on disk in a temp folder, signatures checked) with `bucket` created. */
export async function startS3rver(options: StartOptions = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? "rft-test";
  // s3rver is CommonJS without type declarations.
  const S3rver = createRequire(import.meta.url)("s3rver") as S3rverConstructor;
  const directory = await mkdtemp(path.join(tmpdir(), "s3rver-"));
  const instance = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  let port: number;
  try {
    ({ port } = await instance.run());
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    region: REGION,
    stop: async () => {
      // close() alone waits for idle keep-alive connections from the SDK's agent.
      instance.httpServer?.closeAllConnections();
      await instance.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

async function createBucket(server: S3TestServer): Promise<void> {
  const client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: server.bucket }));
  } finally {
    client.destroy();
  }
}
