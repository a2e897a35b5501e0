/**
 * A self-contained HTML reference rendered from the OpenAPI document: no CDN script, so it works on an offline
 * self-hosted box. Each operation shows its summary and request/response schemas.
 */
type Doc = { info?: { title?: string; version?: string }; paths?: Record<string, Record<string, Operation>> };
type Operation = {
  summary?: string;
  description?: string;
  requestBody?: unknown;
  responses?: unknown;
  parameters?: unknown;
};

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]!);

export function renderReference(doc: Doc): string {
  const ops: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const detail = JSON.stringify(
        { parameters: op.parameters, requestBody: op.requestBody, responses: op.responses },
        null,
        2,
      );
      ops.push(
        `<section><h3><span class="m ${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>` +
          `<p>${esc(op.summary ?? "")}</p><details><summary>schemas</summary><pre>${esc(detail)}</pre></details></section>`,
      );
    }
  }
  const title = esc(doc.info?.title ?? "API");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title><style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}
.m{display:inline-block;min-width:4.5em;font-size:.8em;padding:.1em .4em;border-radius:4px;color:#fff;background:#555}
.get{background:#2b7}.post{background:#27b}.delete{background:#c33}pre{background:#f5f5f5;padding:1em;overflow:auto}
</style></head><body><h1>${title} <small>${esc(doc.info?.version ?? "")}</small></h1>
<p>OpenAPI document: <a href="/openapi.json">/openapi.json</a>. Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>.</p>
${ops.join("\n")}</body></html>`;
}
