/** Files API failures: the whole envelope, and nothing left behind (no row, no object) after a rejected upload. */
import { readdirSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { toFile } from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { allFileIds, expectApiError, expectEnvelope, rftJsonl, rftLine, storeKeys } from "./fixtures.ts";

const MIB = 1024 * 1024;

let server: TestServer;
/** Same API with small limits: 1 MiB lines, 4 MiB files. */
let small: TestServer;

beforeAll(async () => {
  [server, small] = await Promise.all([
    startServer(),
    startServer({ RFT_MAX_LINE_BYTES: String(MIB), RFT_MAX_FILE_BYTES: String(4 * MIB) }),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), small?.stop()]);
});

/** Nothing stored: no file rows, no objects, no temp files of the local store. */
async function expectNothingStored(s: TestServer) {
  expect(await allFileIds(s.client)).toEqual([]);
  expect(await storeKeys(s, "files/")).toEqual([]);
  const tmp = join(s.dataDir, "objects", ".rft-tmp");
  let left: string[] = [];
  try {
    left = readdirSync(tmp);
  } catch {}
  expect(left).toEqual([]);
}

afterEach(async () => {
  await expectNothingStored(server);
  await expectNothingStored(small);
});

const post = (s: TestServer, body: BodyInit, contentType: string) =>
  fetch(`${s.baseURL}/files`, {
    method: "POST",
    headers: { authorization: `Bearer ${s.apiKey}`, "content-type": contentType },
    body,
  });

describe("POST /files rejects bad requests", () => {
  it("malformed multipart", async () => {
    const body = '--XYZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n--XYZ\r\nContent-Dispo';
    await expectEnvelope(await post(server, body, "multipart/form-data; boundary=XYZ"), 400, {
      message: /^Malformed multipart\/form-data body: /,
      param: null,
      code: "invalid_multipart",
    });
  });

  it("a body that is not multipart", async () => {
    await expectEnvelope(await post(server, JSON.stringify({ purpose: "fine-tune" }), "application/json"), 400, {
      message: "Expected a multipart/form-data body. Send multipart/form-data with the fields 'file' and 'purpose'.",
      param: null,
      code: "invalid_multipart",
    });
  });

  it("missing purpose", async () => {
    const form = new FormData();
    form.set("file", new Blob([rftJsonl(2)]), "train.jsonl");
    await expectEnvelope(
      await fetch(`${server.baseURL}/files`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.apiKey}` },
        body: form,
      }),
      400,
      {
        message: "Missing required parameter: 'purpose'.",
        param: "purpose",
        code: "missing_required_parameter",
      },
    );
  });

  it("missing file", async () => {
    const form = new FormData();
    form.set("purpose", "fine-tune");
    await expectEnvelope(
      await fetch(`${server.baseURL}/files`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.apiKey}` },
        body: form,
      }),
      400,
      {
        message: "Missing required parameter: 'file'.",
        param: "file",
        code: "missing_required_parameter",
      },
    );
  });

  it("unknown purpose, unknown field, bad expiry", async () => {
    const file = await toFile(Buffer.from(rftJsonl(2)), "train.jsonl");
    await expectApiError(async () => server.client.files.create({ file, purpose: "fine-tuning" as never }), 400, {
      message:
        "Invalid value for 'purpose': expected one of assistants, batch, fine-tune, vision, user_data, evals; got 'fine-tuning'.",
      param: "purpose",
      code: "invalid_value",
    });
    await expectApiError(
      async () => server.client.files.create({ file, purpose: "fine-tune", colour: "red" } as never),
      400,
      {
        message: "Unknown parameter: 'colour'.",
        param: "colour",
        code: "unknown_parameter",
      },
    );
    await expectApiError(
      async () =>
        server.client.files.create({ file, purpose: "batch", expires_after: { anchor: "created_at", seconds: 60 } }),
      400,
      {
        message: /^Invalid value for 'expires_after.seconds': /,
        param: "expires_after.seconds",
        code: "invalid_value",
      },
    );
  });

  it("a field given twice", async () => {
    const form = new FormData();
    form.append("purpose", "user_data");
    form.append("purpose", "fine-tune");
    form.set("file", new Blob(["not json"]), "t.jsonl");
    const response = await fetch(`${server.baseURL}/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.apiKey}` },
      body: form,
    });
    await expectEnvelope(response, 400, {
      message: "Parameter 'purpose' is given more than once.",
      param: "purpose",
      code: "invalid_value",
    });
  });

  it("an empty file, for any purpose", async () => {
    for (const purpose of ["fine-tune", "user_data"] as const) {
      await expectApiError(
        async () => server.client.files.create({ file: await toFile(Buffer.alloc(0), "e.jsonl"), purpose }),
        400,
        {
          message: "The file is empty.",
          param: "file",
          code: "invalid_file",
        },
      );
    }
  });

  it("a file over the size limit", async () => {
    await expectApiError(
      async () =>
        small.client.files.create({
          file: await toFile(Buffer.alloc(12 * MIB, 0x61), "big.bin"),
          purpose: "user_data",
        }),
      400,
      { message: `The 'file' is larger than the limit of ${4 * MIB} bytes.`, param: "file", code: "file_too_large" },
    );
  });
});

describe("POST /files rejects bad datasets, naming the line", () => {
  it("non-UTF-8 bytes", async () => {
    const bytes = Buffer.concat([
      Buffer.from(`${rftLine(1)}\n{"messages":"`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}\n'),
    ]);
    await expectApiError(
      async () => server.client.files.create({ file: await toFile(bytes, "train.jsonl"), purpose: "fine-tune" }),
      400,
      {
        message: "Invalid fine-tuning file 'train.jsonl': line 2: not valid UTF-8.",
        param: "file",
        code: "invalid_file",
      },
    );
  });

  it("invalid JSON on line 7 of 100 000", async () => {
    const lines = rftJsonl(100_000).split("\n");
    lines[6] = `${lines[6]?.slice(0, 20)}`;
    const file = await toFile(Buffer.from(lines.join("\n")), "train.jsonl");
    const err = await expectApiError(async () => server.client.files.create({ file, purpose: "fine-tune" }), 400, {
      message: /^Invalid fine-tuning file 'train\.jsonl': line 7: invalid JSON \(.+\)\.$/,
      param: "file",
      code: "invalid_file",
    });
    expect(err.message).not.toMatch(/line 8/);
  });

  it("a wrong message shape and a missing messages array", async () => {
    const text = `${rftLine(1)}\n{"messages":[{"role":"robot","content":"x"}]}\n{"prompt":"x"}\n`;
    await expectApiError(
      async () =>
        server.client.files.create({ file: await toFile(Buffer.from(text), "t.jsonl"), purpose: "fine-tune" }),
      400,
      {
        message:
          "Invalid fine-tuning file 't.jsonl': line 2: messages[0].role must be one of system, developer, user, assistant, tool; got \"robot\"; line 3: missing 'messages' (an array of {role, content} messages).",
        param: "file",
        code: "invalid_file",
      },
    );
  });

  it("a 50 MB single line (limit lowered to 1 MiB), and with purpose sent first", async () => {
    const line = `{"messages":[{"role":"user","content":"${"a".repeat(50 * MIB)}"}]}\n`;
    for (const order of ["file-first", "purpose-first"]) {
      const file = await toFile(Buffer.from(line), "huge.jsonl");
      const params =
        order === "file-first" ? { file, purpose: "fine-tune" as const } : { purpose: "fine-tune" as const, file };
      // The small server's file limit is 4 MiB: lift it for this one with the default server's settings below.
      await expectApiError(async () => small.client.files.create(params), 400, {
        message: `The 'file' is larger than the limit of ${4 * MIB} bytes.`,
        param: "file",
        code: "file_too_large",
      });
    }
    const lowLine = await startServer({ RFT_MAX_LINE_BYTES: String(MIB) });
    try {
      await expectApiError(
        async () =>
          lowLine.client.files.create({ file: await toFile(Buffer.from(line), "huge.jsonl"), purpose: "fine-tune" }),
        400,
        {
          message: `Invalid fine-tuning file 'huge.jsonl': line 1: longer than ${MIB} bytes, the limit for one line.`,
          param: "file",
          code: "invalid_file",
        },
      );
      await expectApiError(
        async () =>
          lowLine.client.files.create({
            purpose: "fine-tune",
            file: await toFile(Buffer.from(line + rftJsonl(3)), "huge.jsonl"),
          }),
        400,
        { message: /line 1: longer than/, param: "file", code: "invalid_file" },
      );
      await expectNothingStored(lowLine);
    } finally {
      await lowLine.stop();
    }
  });

  it("a 50 MB single line at the default line limit (8 MiB)", async () => {
    const line = `{"messages":[{"role":"user","content":"${"b".repeat(50 * MIB)}"}]}`;
    await expectApiError(
      async () =>
        server.client.files.create({ file: await toFile(Buffer.from(line), "huge.jsonl"), purpose: "fine-tune" }),
      400,
      {
        message: `Invalid fine-tuning file 'huge.jsonl': line 1: longer than ${8 * MIB} bytes, the limit for one line.`,
        param: "file",
        code: "invalid_file",
      },
    );
  });

  it("a long line under the limit is fine", async () => {
    const line = `{"messages":[{"role":"user","content":"${"c".repeat(900 * 1024)}"}],"answer":"c"}\n`;
    const file = await small.client.files.create({
      file: await toFile(Buffer.from(line + rftJsonl(2)), "long.jsonl"),
      purpose: "fine-tune",
    });
    expect(file.status).toBe("processed");
    await small.client.files.delete(file.id);
  });
});

describe("files that are not there", () => {
  it("another project's file is 404 for every route", async () => {
    const file = await server.client.files.create({
      file: await toFile(Buffer.from(rftJsonl(2)), "t.jsonl"),
      purpose: "fine-tune",
    });
    const other = await server.newTenant();
    const envelope = { message: `No such File object: ${file.id}`, param: "id", code: "not_found" };
    await expectApiError(() => other.client.files.retrieve(file.id), 404, envelope);
    await expectApiError(() => other.client.files.content(file.id), 404, envelope);
    await expectApiError(() => other.client.files.delete(file.id), 404, envelope);
    expect(await allFileIds(other.client)).toEqual([]);
    await server.client.files.delete(file.id);
  });

  it("a deleted file is 404 for every route", async () => {
    const file = await server.client.files.create({
      file: await toFile(Buffer.from(rftJsonl(2)), "t.jsonl"),
      purpose: "fine-tune",
    });
    await server.client.files.delete(file.id);
    const envelope = { message: `No such File object: ${file.id}`, param: "id", code: "not_found" };
    await expectApiError(async () => server.client.files.retrieve(file.id), 404, envelope);
    await expectApiError(async () => server.client.files.content(file.id), 404, envelope);
    await expectApiError(async () => server.client.files.delete(file.id), 404, envelope);
  });

  it("an unknown id and a bad list query", async () => {
    await expectApiError(async () => server.client.files.retrieve("file-nope"), 404, {
      message: "No such File object: file-nope",
      param: "id",
      code: "not_found",
    });
    await expectApiError(async () => server.client.files.list({ order: "sideways" as never }), 400, {
      param: "order",
      code: "invalid_value",
    });
  });
});

describe("an interrupted upload", () => {
  it("leaves no row and no object when the client aborts mid-body", async () => {
    const boundary = "----rft-test-boundary";
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="t.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const url = new URL(`${server.baseURL}/files`);
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: "POST",
      headers: {
        authorization: `Bearer ${server.apiKey}`,
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": String(20 * MIB),
      },
    });
    req.on("error", () => {});
    req.write(head);
    const chunk = Buffer.from(rftJsonl(1000));
    let sent = 0;
    while (sent < 3 * MIB) {
      req.write(chunk);
      sent += chunk.length;
    }
    // Wait until the server is demonstrably storing (a temp object exists), then cut the connection.
    const tmp = join(server.dataDir, "objects", ".rft-tmp");
    const deadline = Date.now() + 10_000;
    for (;;) {
      let entries: string[] = [];
      try {
        entries = readdirSync(tmp);
      } catch {}
      if (entries.length > 0) break;
      if (Date.now() > deadline) throw new Error("the server never started storing");
      await new Promise((r) => setTimeout(r, 20));
    }
    req.destroy();
    // The afterEach check waits for nothing: poll here until the temp object is gone.
    const gone = Date.now() + 10_000;
    while (readdirSync(tmp).length > 0 && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
    await expectNothingStored(server);
  });
});
