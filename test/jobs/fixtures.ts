/**
 * Shared fixtures for job tests: datasets in the RFT and supervised formats, a grader, and a registered base
 * model. For API-only tests the model folder holds just a config and a tokenizer file: the registry only needs a
 * Hugging Face folder layout; tests that train use the real tiny model built by make_tiny_model.py.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toFile } from "openai";
import { registerBaseModel } from "../../api/models/node-register.ts";
import type { TestServer } from "../helpers/server.ts";

export const stringCheck = {
  type: "string_check",
  name: "exact answer",
  input: "{{sample.output_text}}",
  reference: "{{item.answer}}",
  operation: "eq",
} as const;

export function rftLines(n: number, offset = 0): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = 10 + ((i + offset) % 37);
    const b = 3 + ((i + offset) % 11);
    lines.push(JSON.stringify({ messages: [{ role: "user", content: `What is ${a}+${b}?` }], answer: String(a + b) }));
  }
  return `${lines.join("\n")}\n`;
}

export function sftLines(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        messages: [
          { role: "user", content: `What is ${i}+1?` },
          { role: "assistant", content: String(i + 1) },
        ],
      }),
    );
  }
  return `${lines.join("\n")}\n`;
}

export async function uploadDataset(server: TestServer, text: string, name = "train.jsonl", client = server.client) {
  const file = await client.files.create({ file: await toFile(Buffer.from(text), name), purpose: "fine-tune" });
  return client.files.waitForProcessing(file.id, { pollInterval: 100 });
}

/** Registers a model folder with only config + tokenizer as base model `name` (enough for API-level tests). */
export async function registerStubModel(server: TestServer, name = "tiny-test") {
  const dir = mkdtempSync(join(tmpdir(), "rft-model-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "llama" }));
  writeFileSync(join(dir, "tokenizer.json"), "{}");
  await registerBaseModel(server.runtime.deps, name, dir);
  return name;
}
