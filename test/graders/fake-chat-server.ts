/**
 * fake-chat-server: a real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions and embeddings wire
 * format, for testing the model graders' HTTP adapter end to end (no language model can run here).
 *
 * Its limits, stated: it runs no model. The answer is scripted from the request:
 *  - the last message's text may carry `SCORE=<number>` and/or `LABEL=<word>`: the answer is the structured-output
 *    JSON `{"steps": [...], "result": <that>}` (the label when the requested schema has an enum, i.e. label_model),
 *    or the bare value when the request has no response_format;
 *  - the model name picks a behaviour: `fail-<n>-<status>` fails the first n calls per prompt with that status,
 *    `slow-<ms>` waits first, `refuse` returns a refusal, `garbage` returns prose, `no-usage` omits usage;
 *  - embeddings are bag-of-letters vectors (26 counts), so cosine is deterministic.
 * Only non-streaming POST /v1/chat/completions and POST /v1/embeddings exist; usage counts are characters / 4.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

export interface FakeChatServer {
  baseURL: string;
  requests: RecordedRequest[];
  /** Most chat requests for `model` being served at once. */
  peakConcurrency(model: string): number;
  stop(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      data += c;
    });
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content.map((p) => (p && typeof p === "object" && "text" in p ? String(p.text) : "")).join("\n");
  return "";
}

function letters(text: string): number[] {
  const v = new Array<number>(26).fill(0);
  for (const ch of text.toLowerCase()) {
    const i = ch.charCodeAt(0) - 97;
    if (i >= 0 && i < 26) v[i]!++;
  }
  return v;
}

export async function startFakeChatServer(): Promise<FakeChatServer> {
  const requests: RecordedRequest[] = [];
  const failures = new Map<string, number>();
  const active = new Map<string, number>();
  const peaks = new Map<string, number>();
  const server: Server = createServer(async (req, res) => {
    let counted = "";
    try {
      const body = JSON.parse((await readBody(req)) || "{}") as Record<string, unknown>;
      requests.push({ path: req.url ?? "", authorization: req.headers.authorization, body });
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(payload));
      };
      if (req.method !== "POST") return send(405, { error: { message: "POST only", type: "invalid_request_error" } });
      if (req.url === "/v1/embeddings") {
        const inputs = (Array.isArray(body.input) ? body.input : [body.input]) as string[];
        const chars = inputs.join("").length;
        return send(200, {
          object: "list",
          model: body.model,
          data: inputs.map((t, index) => ({ object: "embedding", index, embedding: letters(String(t)) })),
          usage: { prompt_tokens: Math.ceil(chars / 4), total_tokens: Math.ceil(chars / 4) },
        });
      }
      if (req.url !== "/v1/chat/completions")
        return send(404, { error: { message: `no route ${req.url}`, type: "invalid_request_error" } });
      const model = String(body.model ?? "");
      counted = model;
      active.set(model, (active.get(model) ?? 0) + 1);
      peaks.set(model, Math.max(peaks.get(model) ?? 0, active.get(model)!));
      const messages = (body.messages ?? []) as Array<{ role: string; content: unknown }>;
      const prompt = messages.map((m) => textOf(m.content)).join("\n");
      const fail = /^fail-(\d+)-(\d+)$/.exec(model);
      if (fail) {
        const key = `${model}\n${prompt}`;
        const seen = failures.get(key) ?? 0;
        if (seen < Number(fail[1])) {
          failures.set(key, seen + 1);
          return send(
            Number(fail[2]),
            { error: { message: `scripted failure ${seen + 1}`, type: "server_error" } },
            { "retry-after": "0" },
          );
        }
      }
      const slow = /^slow-(\d+)$/.exec(model);
      if (slow) await new Promise((r) => setTimeout(r, Number(slow[1])));
      const last = textOf(messages[messages.length - 1]?.content);
      const score = /SCORE=(-?[\d.]+)/.exec(last)?.[1];
      const label = /LABEL=(\w+)/.exec(last)?.[1];
      // A label_model request constrains `result` to an enum: answer with the label then, else with the score.
      const wantsLabel = JSON.stringify(body.response_format ?? {}).includes('"enum"');
      const result = wantsLabel ? (label ?? null) : score !== undefined ? Number(score) : (label ?? null);
      let content: string | null = body.response_format
        ? JSON.stringify({ steps: [{ description: "read the answer", conclusion: "scripted" }], result })
        : String(result);
      let refusal: string | null = null;
      if (model === "refuse") {
        content = null;
        refusal = "I can't grade that.";
      }
      if (model === "garbage") content = "I think it is pretty good overall.";
      const promptTokens = Math.ceil(prompt.length / 4);
      const completionTokens = Math.ceil((content ?? refusal ?? "").length / 4);
      return send(200, {
        id: "chatcmpl-fake",
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: `${model}-2026-01-01`,
        choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content, refusal } }],
        ...(model === "no-usage"
          ? {}
          : {
              usage: {
                prompt_tokens: promptTokens,
                completion_tokens: completionTokens,
                total_tokens: promptTokens + completionTokens,
                prompt_tokens_details: { cached_tokens: 0 },
              },
            }),
      });
    } catch (err) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: (err as Error).message, type: "server_error" } }));
    } finally {
      if (counted) active.set(counted, active.get(counted)! - 1);
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    peakConcurrency: (model: string) => peaks.get(model) ?? 0,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
