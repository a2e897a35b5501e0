/**
 * Our own client: the official `openai` SDK for everything OpenAI defines, plus the routes beyond it (the live
 * event stream, checkpoint files, webhook endpoints). Streams everywhere: uploads read the file in parts,
 * downloads write to disk as bytes arrive.
 */
import { createReadStream, createWriteStream, statSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import OpenAI, { toFile } from "openai";

export interface RftClientOptions {
  baseURL?: string;
  apiKey?: string;
}

export type Progress = (done: number, total: number) => void;

export interface JobEvent {
  id: string;
  created_at: number;
  level: string;
  message: string;
  type: "message" | "metrics";
  data: Record<string, unknown> | null;
}

export class RftClient {
  readonly openai: OpenAI;
  readonly baseURL: string;
  private readonly apiKey: string;

  constructor(options: RftClientOptions = {}) {
    this.baseURL = (options.baseURL ?? process.env.OPENAI_BASE_URL ?? "http://127.0.0.1:8787/v1").replace(/\/$/, "");
    this.apiKey = options.apiKey ?? process.env.OPENAI_API_KEY ?? "";
    if (!this.apiKey) throw new Error("No API key: set OPENAI_API_KEY or pass --api-key");
    this.openai = new OpenAI({ baseURL: this.baseURL, apiKey: this.apiKey });
  }

  private headers() {
    return { authorization: `Bearer ${this.apiKey}` };
  }

  /**
   * Uploads a file: one request up to `partBytes`, else the Uploads API in parts (sent `parallel` at a time),
   * reporting bytes sent. Waits until the file is processed (datasets are validated after upload).
   */
  async uploadFile(
    path: string,
    purpose: "fine-tune" = "fine-tune",
    options: { partBytes?: number; parallel?: number; onProgress?: Progress } = {},
  ) {
    const size = statSync(path).size;
    const partBytes = options.partBytes ?? 64 * 1024 * 1024;
    const name = basename(path);
    let file: OpenAI.FileObject;
    if (size <= partBytes) {
      file = await this.openai.files.create({ file: await toFile(createReadStream(path), name), purpose });
      options.onProgress?.(size, size);
    } else {
      const upload = await this.openai.uploads.create({
        bytes: size,
        filename: name,
        mime_type: "application/jsonl",
        purpose,
      });
      const count = Math.ceil(size / partBytes);
      const ids = new Array<string>(count);
      let sent = 0;
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const i = next++;
          const start = i * partBytes;
          const end = Math.min(size, start + partBytes) - 1;
          const part = await this.openai.uploads.parts.create(upload.id, {
            data: await toFile(createReadStream(path, { start, end }), `${name}.part${i}`),
          });
          ids[i] = part.id;
          sent += end - start + 1;
          options.onProgress?.(sent, size);
        }
      };
      try {
        await Promise.all(Array.from({ length: Math.min(count, options.parallel ?? 3) }, worker));
      } catch (err) {
        await this.openai.uploads.cancel(upload.id).catch(() => {});
        throw err;
      }
      const done = await this.openai.uploads.complete(upload.id, { part_ids: ids });
      if (!done.file) throw new Error(`upload ${upload.id} completed without a file`);
      file = done.file;
    }
    return this.openai.files.waitForProcessing(file.id, { pollInterval: 500 });
  }

  /**
   * The job's events, oldest first, as they happen (server-sent events); ends when the job is finished.
   *
   * Like a browser's EventSource, it reconnects when the connection drops or the API answers 5xx (an API restart, a
   * proxy cutting a long request), resuming after the last event it yielded, so no event is lost or repeated. It
   * gives up, throwing the last error, after `retries` failed connections in a row (backing off from `retryMs` to
   * 5 s); a connection that delivered anything, even the server's keep-alive comment, resets the count. Other HTTP
   * errors (a wrong key, an unknown job) throw at once.
   */
  async *streamEvents(
    jobId: string,
    after?: string,
    options: { retries?: number; retryMs?: number } = {},
  ): AsyncGenerator<JobEvent> {
    const retries = options.retries ?? 8;
    const retryMs = options.retryMs ?? 250;
    let cursor = after;
    let failures = 0;
    const failed = async (err: unknown) => {
      if (++failures > retries) throw err;
      await new Promise((r) => setTimeout(r, Math.min(5000, retryMs * 2 ** (failures - 1))));
    };
    for (;;) {
      const url = `${this.baseURL}/fine_tuning/jobs/${jobId}/events/stream${cursor ? `?after=${encodeURIComponent(cursor)}` : ""}`;
      let res: Response;
      try {
        res = await fetch(url, { headers: { ...this.headers(), accept: "text/event-stream" } });
      } catch (err) {
        await failed(err);
        continue;
      }
      if (!res.ok || !res.body) {
        const err = new Error(`event stream: HTTP ${res.status} ${await res.text().catch(() => "")}`);
        if (res.status < 500) throw err;
        await failed(err);
        continue;
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      try {
        for (;;) {
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader.read();
          } catch (err) {
            await failed(err);
            break;
          }
          if (chunk.done) {
            // Closed without the `end` event: the server went away between polls.
            await failed(new Error("event stream: the connection closed before the job finished"));
            break;
          }
          failures = 0;
          buffer += decoder.decode(chunk.value, { stream: true });
          let cut = buffer.indexOf("\n\n");
          while (cut >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            cut = buffer.indexOf("\n\n");
            const fields: Record<string, string> = {};
            for (const line of frame.split("\n")) {
              const colon = line.indexOf(":");
              if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
            }
            if (fields.event === "end") return;
            if (fields.data) {
              const event = JSON.parse(fields.data) as JobEvent;
              cursor = fields.id || event.id;
              yield event;
            }
          }
        }
      } finally {
        await reader.cancel().catch(() => {});
      }
    }
  }

  async checkpointFiles(checkpointId: string) {
    const res = await fetch(`${this.baseURL}/fine_tuning/checkpoints/${checkpointId}/files`, {
      headers: this.headers(),
    });
    if (!res.ok) throw new Error(`checkpoint files: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as { data: { name: string; bytes: number; download_url: string }[] }).data;
  }

  /** Downloads every file of a checkpoint (or those matching `only`) into `dir`, each written to a temp name first. */
  async downloadCheckpoint(checkpointId: string, dir: string, options: { only?: RegExp; onProgress?: Progress } = {}) {
    const files = (await this.checkpointFiles(checkpointId)).filter((f) => !options.only || options.only.test(f.name));
    const total = files.reduce((n, f) => n + f.bytes, 0);
    let done = 0;
    for (const f of files) {
      const target = join(dir, f.name);
      await mkdir(dirname(target), { recursive: true });
      const sameOrigin = f.download_url.startsWith(new URL(this.baseURL).origin);
      const res = await fetch(f.download_url, sameOrigin ? { headers: this.headers() } : {});
      if (!res.ok || !res.body) throw new Error(`download ${f.name}: HTTP ${res.status}`);
      const counted = Readable.fromWeb(res.body as never).on("data", (b: Buffer) => {
        done += b.length;
        options.onProgress?.(done, total);
      });
      await pipeline(counted, createWriteStream(`${target}.partial`));
      await rename(`${target}.partial`, target);
    }
    return files.map((f) => join(dir, f.name));
  }
}
