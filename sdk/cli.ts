#!/usr/bin/env node
/**
 * `rft`: the command line. Upload datasets, check graders, start and watch jobs with progress bars, download
 * checkpoints. Reads OPENAI_BASE_URL and OPENAI_API_KEY like the `openai` SDK.
 *
 *   npx tsx sdk/cli.ts files upload train.jsonl
 *   npx tsx sdk/cli.ts graders run grader.json --sample '42' --item '{"answer":"42"}'
 *   npx tsx sdk/cli.ts jobs create --model tiny-arith --training-file file-… --validation-file file-… --grader grader.json
 *   npx tsx sdk/cli.ts jobs watch ftjob-…
 *   npx tsx sdk/cli.ts checkpoints download ftckpt_… ./out
 */
import { readFileSync } from "node:fs";
import cliProgress from "cli-progress";
import { Command } from "commander";
import { RftClient } from "./client.ts";

const program = new Command("rft").description("Reinforcement fine-tuning from the command line");
program.option("--base-url <url>", "API base URL (default $OPENAI_BASE_URL or http://127.0.0.1:8787/v1)");
program.option("--api-key <key>", "API key (default $OPENAI_API_KEY)");

const client = () => {
  const o = program.opts<{ baseUrl?: string; apiKey?: string }>();
  return new RftClient({ ...(o.baseUrl ? { baseURL: o.baseUrl } : {}), ...(o.apiKey ? { apiKey: o.apiKey } : {}) });
};
const print = (value: unknown) => console.log(JSON.stringify(value, null, 2));
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function bytesBar(label: string) {
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {done} / {size}`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done: number, total: number) {
      if (!started) bar.start(total, 0, { done: mib(0), size: mib(total) });
      started = true;
      bar.update(done, { done: mib(done), size: mib(total) });
    },
    stop: () => started && bar.stop(),
  };
}

const files = program.command("files").description("datasets");
files
  .command("upload <path>")
  .description(
    "upload a JSONL dataset (large files go through the Uploads API in parts) and wait until it is validated",
  )
  .option("--part-mib <n>", "part size for large files", "64")
  .action(async (path: string, o: { partMib: string }) => {
    const bar = bytesBar("upload");
    try {
      const file = await client().uploadFile(path, "fine-tune", {
        partBytes: Number(o.partMib) * 1024 * 1024,
        onProgress: (d, t) => bar.update(d, t),
      });
      bar.stop();
      print(file);
      if (file.status === "error") process.exitCode = 1;
    } finally {
      bar.stop();
    }
  });
files.command("list").action(async () => {
  for await (const f of client().openai.files.list()) console.log(`${f.id}\t${f.status}\t${f.bytes}\t${f.filename}`);
});

const graders = program.command("graders").description("check a grader before paying for a job");
graders
  .command("validate <grader.json>")
  .action(async (path: string) =>
    print(await client().openai.fineTuning.alpha.graders.validate({ grader: JSON.parse(readFileSync(path, "utf8")) })),
  );
graders
  .command("run <grader.json>")
  .requiredOption("--sample <text>", "the model's output")
  .option("--item <json>", "the dataset line's fields", "{}")
  .action(async (path: string, o: { sample: string; item: string }) =>
    print(
      await client().openai.fineTuning.alpha.graders.run({
        grader: JSON.parse(readFileSync(path, "utf8")),
        model_sample: o.sample,
        item: JSON.parse(o.item),
      }),
    ),
  );

const jobs = program.command("jobs").description("fine-tuning jobs");
jobs
  .command("create")
  .requiredOption("--model <name>")
  .requiredOption("--training-file <id>")
  .option("--validation-file <id>")
  .option("--grader <grader.json>", "reinforcement: the grader; without it the job is supervised")
  .option("--hyperparameters <json>", "e.g. '{\"n_epochs\":2}'", "{}")
  .option("--suffix <suffix>")
  .option("--watch", "then watch it until it finishes")
  .action(
    async (o: {
      model: string;
      trainingFile: string;
      validationFile?: string;
      grader?: string;
      hyperparameters: string;
      suffix?: string;
      watch?: boolean;
    }) => {
      const hyperparameters = JSON.parse(o.hyperparameters);
      const method = o.grader
        ? {
            type: "reinforcement" as const,
            reinforcement: { grader: JSON.parse(readFileSync(o.grader, "utf8")), hyperparameters },
          }
        : { type: "supervised" as const, supervised: { hyperparameters } };
      const job = await client().openai.fineTuning.jobs.create({
        model: o.model,
        training_file: o.trainingFile,
        ...(o.validationFile ? { validation_file: o.validationFile } : {}),
        ...(o.suffix ? { suffix: o.suffix } : {}),
        method,
      });
      console.log(job.id);
      if (o.watch) await watch(job.id);
    },
  );
jobs.command("list").action(async () => {
  for await (const j of client().openai.fineTuning.jobs.list())
    console.log(`${j.id}\t${j.status}\t${j.model}\t${j.fine_tuned_model ?? ""}`);
});
jobs.command("get <id>").action(async (id: string) => print(await client().openai.fineTuning.jobs.retrieve(id)));
for (const action of ["cancel", "pause", "resume"] as const) {
  jobs.command(`${action} <id>`).action(async (id: string) => {
    const job = await client().openai.fineTuning.jobs[action](id);
    console.log(`${job.id}\t${job.status}`);
  });
}
jobs
  .command("watch <id>")
  .description("a progress bar of steps with the rewards, until the job finishes")
  .action((id: string) => watch(id));
jobs.command("checkpoints <id>").action(async (id: string) => {
  for await (const c of client().openai.fineTuning.jobs.checkpoints.list(id)) {
    console.log(`${c.id}\tstep ${c.step_number}\t${c.fine_tuned_model_checkpoint}\t${JSON.stringify(c.metrics)}`);
  }
});

async function watch(jobId: string) {
  const c = client();
  const job = await c.openai.fineTuning.jobs.retrieve(jobId);
  const bar = new cliProgress.SingleBar(
    {
      format: "{status} [{bar}] step {value}/{total} | train reward {train} | valid reward {valid} | {message}",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const state: { status: string; train: string; valid: string; message: string } = {
    status: job.status,
    train: "-",
    valid: "-",
    message: "",
  };
  let total = 0;
  bar.start(1, 0, state);
  const fmt = (v: unknown) => (typeof v === "number" ? v.toFixed(3) : "-");
  for await (const e of c.streamEvents(jobId)) {
    const data = (e.data ?? {}) as Record<string, unknown>;
    if (e.type === "metrics") {
      const scores = (data.scores ?? {}) as Record<string, unknown>;
      total = Number(data.total_steps ?? total);
      if (total) bar.setTotal(total);
      state.train = fmt(scores.train_reward_mean ?? data.train_mean_reward);
      if (scores.valid_reward_mean !== undefined || data.full_valid_mean_reward !== undefined) {
        state.valid = fmt(scores.valid_reward_mean ?? data.full_valid_mean_reward);
      }
      bar.update(Number(data.step ?? 0), state);
    } else {
      if (typeof data.status === "string") state.status = data.status;
      state.message = e.message.slice(0, 60);
      bar.update(state);
    }
    if (e.level === "error") bar.update({ ...state, message: `error: ${e.message.slice(0, 60)}` });
  }
  bar.stop();
  const final = await c.openai.fineTuning.jobs.retrieve(jobId);
  console.log(
    `${final.id} ${final.status}${final.fine_tuned_model ? ` → ${final.fine_tuned_model}` : ""}${final.error?.message ? `: ${final.error.message}` : ""}`,
  );
  if (final.status !== "succeeded") process.exitCode = 1;
}

const checkpoints = program.command("checkpoints").description("fine-tuned weights");
checkpoints.command("files <id>").action(async (id: string) => {
  for (const f of await client().checkpointFiles(id)) console.log(`${f.name}\t${f.bytes}`);
});
checkpoints
  .command("download <id> <dir>")
  .option("--only <regex>", "only files whose name matches, e.g. '^onnx/'")
  .action(async (id: string, dir: string, o: { only?: string }) => {
    const bar = bytesBar("download");
    const paths = await client().downloadCheckpoint(id, dir, {
      ...(o.only ? { only: new RegExp(o.only) } : {}),
      onProgress: (d, t) => bar.update(d, t),
    });
    bar.stop();
    for (const p of paths) console.log(p);
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`rft: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
