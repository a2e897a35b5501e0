/** Shared bits of the files/uploads tests: datasets, the error-envelope assertion, store inspection. */
import OpenAI from "openai";
import { expect } from "vitest";
import type { TestServer } from "../helpers/server.ts";

/** One RFT line (ends with a user message; `answer` is grader data). */
export const rftLine = (i: number) =>
  JSON.stringify({ messages: [{ role: "user", content: `What is ${i} + ${i}?` }], answer: String(i + i) });

export const sftLine = (i: number) =>
  JSON.stringify({
    messages: [
      { role: "user", content: `What is ${i} + ${i}?` },
      { role: "assistant", content: String(i + i) },
    ],
  });

/** `n` RFT lines, newline-terminated. */
export const rftJsonl = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `${rftLine(i + from)}\n`).join("");

/** Runs `call`, expects an OpenAI API error with `status` and exactly the envelope fields given. */
export async function expectApiError(
  call: () => Promise<unknown>,
  status: number,
  envelope: { message?: string | RegExp; type?: string; param: string | null; code: string | null },
): Promise<InstanceType<typeof OpenAI.APIError>> {
  let caught: unknown;
  try {
    await call();
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected the call to fail").toBeInstanceOf(OpenAI.APIError);
  const err = caught as InstanceType<typeof OpenAI.APIError>;
  expect(err.status).toBe(status);
  const body = err.error as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.param).toBe(envelope.param);
  expect(body.code).toBe(envelope.code);
  expect(body.type).toBe(envelope.type ?? (status === 401 ? "authentication_error" : "invalid_request_error"));
  if (envelope.message instanceof RegExp) expect(body.message).toMatch(envelope.message);
  else if (envelope.message !== undefined) expect(body.message).toBe(envelope.message);
  expect(err.requestID).toMatch(/^req_/);
  return err;
}

/** Same, for a raw fetch Response. */
export async function expectEnvelope(
  response: Response,
  status: number,
  envelope: { message?: string | RegExp; param: string | null; code: string | null; type?: string },
): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get("x-request-id")).toMatch(/^req_/);
  const body = (await response.json()) as { error: Record<string, unknown> };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error.param).toBe(envelope.param);
  expect(body.error.code).toBe(envelope.code);
  expect(body.error.type).toBe(envelope.type ?? (status === 401 ? "authentication_error" : "invalid_request_error"));
  if (envelope.message instanceof RegExp) expect(body.error.message).toMatch(envelope.message);
  else if (envelope.message !== undefined) expect(body.error.message).toBe(envelope.message);
}

/** Every key in the server's object store under `prefix`. */
export async function storeKeys(server: TestServer, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of server.runtime.deps.store.list(prefix)) keys.push(info.key);
  return keys;
}

/** Every file id the client's project can list. */
export async function allFileIds(client: OpenAI): Promise<string[]> {
  const ids: string[] = [];
  for await (const file of client.files.list()) ids.push(file.id);
  return ids;
}

/** Environment that points `startServer` at an S3 server. */
export const s3Env = (s3: {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}) => ({
  S3_ENDPOINT: s3.endpoint,
  S3_BUCKET: s3.bucket,
  S3_ACCESS_KEY_ID: s3.accessKeyId,
  S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
  S3_REGION: s3.region,
  S3_FORCE_PATH_STYLE: "true",
});
