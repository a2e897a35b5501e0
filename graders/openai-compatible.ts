/**
 * Chat-completions and embeddings adapters for any OpenAI-compatible endpoint, over `fetch` (Node, workerd, the
 * runner). Retries 408/409/429/5xx and network failures with exponential backoff and jitter (honouring
 * `retry-after`), each attempt bounded by a timeout; failures come back as values, never thrown.
 */
import type { ChatModel, ChatOutcome, ChatRequest, Embeddings, EmbedOutcome } from "./ports.ts";
import type { TokenUsage } from "./result.ts";

export interface EndpointOptions {
  /** e.g. https://api.openai.com/v1 */
  baseURL: string;
  apiKey?: string;
  /** Per attempt. Default 60 s. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 3. */
  maxRetries?: number;
  /** First backoff; doubles per retry, capped at 8 s, with ±25% jitter. Default 500 ms. */
  backoffMs?: number;
  fetch?: typeof fetch;
}

type Attempt =
  | { ok: true; body: unknown }
  | { ok: false; kind: "server" | "timeout"; message: string; retry: boolean; retryAfterMs?: number };

const RETRY_STATUS = new Set([408, 409, 429]);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function attempt(opts: EndpointOptions, path: string, body: unknown, signal?: AbortSignal): Promise<Attempt> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    const res = await (opts.fetch ?? fetch)(`${opts.baseURL.replace(/\/+$/, "")}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
      },
      body: JSON.stringify(body),
      signal: combined,
    });
    const text = await res.text();
    if (!res.ok) {
      let detail = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: { message?: string } };
        if (parsed.error?.message) detail = parsed.error.message;
      } catch {}
      const retryAfter = Number(res.headers.get("retry-after"));
      return {
        ok: false,
        kind: "server",
        message: `${res.status} from ${path}: ${detail}`,
        retry: RETRY_STATUS.has(res.status) || res.status >= 500,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      };
    }
    try {
      return { ok: true, body: JSON.parse(text) };
    } catch {
      return { ok: false, kind: "server", message: `${path} answered with a body that is not JSON`, retry: false };
    }
  } catch (err) {
    if (signal?.aborted) return { ok: false, kind: "timeout", message: "cancelled", retry: false };
    if (timeout.aborted)
      return { ok: false, kind: "timeout", message: `${path} did not answer within ${timeoutMs} ms`, retry: true };
    return { ok: false, kind: "server", message: `${path} unreachable: ${(err as Error).message}`, retry: true };
  }
}

/** POSTs with retries; the last failure when every attempt failed. */
export async function postWithRetries(
  opts: EndpointOptions,
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<{ ok: true; body: unknown } | { ok: false; kind: "server" | "timeout"; message: string }> {
  const maxRetries = opts.maxRetries ?? 3;
  let backoff = opts.backoffMs ?? 500;
  for (let n = 0; ; n++) {
    const r = await attempt(opts, path, body, signal);
    if (r.ok) return r;
    if (!r.retry || n >= maxRetries || signal?.aborted) {
      return { ok: false, kind: r.kind, message: n > 0 ? `${r.message} (after ${n + 1} attempts)` : r.message };
    }
    const jitter = backoff * (0.75 + Math.random() * 0.5);
    await sleep(Math.min(r.retryAfterMs ?? jitter, 30_000), signal);
    backoff = Math.min(backoff * 2, 8_000);
  }
}

function usageOf(raw: unknown): TokenUsage | null {
  if (!raw || typeof raw !== "object") return null;
  const u = raw as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  const details = (u.prompt_tokens_details ?? {}) as Record<string, unknown>;
  return {
    prompt_tokens: num(u.prompt_tokens),
    completion_tokens: num(u.completion_tokens),
    total_tokens: num(u.total_tokens) || num(u.prompt_tokens) + num(u.completion_tokens),
    cached_tokens: num(details.cached_tokens),
  };
}

/** A `ChatModel` for an OpenAI-compatible `/chat/completions`. */
export function openAICompatibleChat(opts: EndpointOptions): ChatModel {
  return {
    async complete(request: ChatRequest, options = {}): Promise<ChatOutcome> {
      const r = await postWithRetries(opts, "/chat/completions", request, options.signal);
      if (!r.ok) return r;
      const body = r.body as {
        model?: unknown;
        choices?: Array<{ message?: { content?: unknown; refusal?: unknown } }>;
        usage?: unknown;
      };
      const message = body.choices?.[0]?.message;
      if (!message) return { ok: false, kind: "server", message: "chat completion has no choices[0].message" };
      return {
        ok: true,
        content: typeof message.content === "string" ? message.content : null,
        refusal: typeof message.refusal === "string" ? message.refusal : null,
        model: typeof body.model === "string" ? body.model : request.model,
        usage: usageOf(body.usage),
      };
    },
  };
}

/** `Embeddings` for an OpenAI-compatible `/embeddings`. */
export function openAICompatibleEmbeddings(opts: EndpointOptions): Embeddings {
  return {
    async embed(model, inputs, options = {}): Promise<EmbedOutcome> {
      const r = await postWithRetries(opts, "/embeddings", { model, input: inputs }, options.signal);
      if (!r.ok) return { ok: false, message: r.message };
      const body = r.body as { data?: Array<{ index?: number; embedding?: unknown }>; usage?: unknown };
      const vectors: number[][] = new Array(inputs.length);
      for (const [i, d] of (body.data ?? []).entries()) {
        const idx = typeof d.index === "number" ? d.index : i;
        if (!Array.isArray(d.embedding)) return { ok: false, message: "embedding is not an array of numbers" };
        vectors[idx] = d.embedding as number[];
      }
      for (let i = 0; i < inputs.length; i++) {
        if (!vectors[i]) return { ok: false, message: `no embedding returned for input ${i}` };
      }
      return { ok: true, vectors, usage: usageOf(body.usage) };
    },
  };
}
