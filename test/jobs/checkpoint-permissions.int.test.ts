/**
 * Checkpoint permissions through the official `openai` SDK (its `adminAPIKey`): an admin shares one project's
 * checkpoint with another, which can then retrieve it as a model and fine-tune from it; revoking takes that back.
 * The checkpoint is registered straight in the database and store (what a runner would have left), since the runner
 * is not what is tested here.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ID_PREFIX, newId } from "../../api/lib/ids.ts";
import { checkpoints } from "../../db/schema/index.ts";
import { expectApiError } from "../files/fixtures.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { registerStubModel, rftLines, stringCheck, uploadDataset } from "./fixtures.ts";

let server: TestServer;
let admin: OpenAI;
let owner: Awaited<ReturnType<TestServer["newTenant"]>>;
let other: Awaited<ReturnType<TestServer["newTenant"]>>;
let third: Awaited<ReturnType<TestServer["newTenant"]>>;
let ckptName: string;

beforeAll(async () => {
  server = await startServer();
  admin = new OpenAI({ apiKey: server.apiKey, adminAPIKey: server.apiKey, baseURL: server.baseURL, maxRetries: 0 });
  owner = await server.newTenant("owner");
  other = await server.newTenant("other");
  third = await server.newTenant("third");
  await registerStubModel(server, "tiny-test");
  const { db, store } = server.runtime.deps;
  const jobId = newId(ID_PREFIX.job);
  const prefix = `checkpoints/${owner.projectId}/${jobId}/step-4`;
  for (const name of ["merged/config.json", "merged/model.safetensors"]) {
    await store.put(`${prefix}/${name}`, new Blob(["{}"]).stream());
  }
  ckptName = `ft:tiny-test:${owner.projectId}:shared:${jobId}:ckpt-step-4`;
  await db.insert(checkpoints).values({
    id: newId(ID_PREFIX.checkpoint),
    jobId,
    projectId: owner.projectId,
    stepNumber: 4,
    modelName: ckptName,
    metrics: { step: 4 },
    objectPrefix: prefix,
    files: [
      { name: "merged/config.json", bytes: 2 },
      { name: "merged/model.safetensors", bytes: 2 },
    ],
  });
});
afterAll(async () => {
  await server?.stop();
});

const createJob = async (client: OpenAI) => {
  const file = await uploadDataset(server, rftLines(8), "train.jsonl", client);
  return client.fineTuning.jobs.create({
    model: ckptName,
    training_file: file.id,
    method: { type: "reinforcement", reinforcement: { grader: stringCheck } },
  });
};

describe("checkpoint permissions", () => {
  it("keeps a checkpoint to its own project until it is shared", async () => {
    expect((await owner.client.models.retrieve(ckptName)).id).toBe(ckptName);
    await expectApiError(() => other.client.models.retrieve(ckptName), 404, { param: "model", code: "not_found" });
    await expectApiError(() => createJob(other.client), 400, { param: "model", code: "model_not_found" });
    // The owner can fine-tune from its own checkpoint.
    expect((await createJob(owner.client)).model).toBe(ckptName);
  });

  it("shares with the projects named (again is no error), lists them page by page, and revokes", async () => {
    const created = await admin.fineTuning.checkpoints.permissions.create(ckptName, {
      project_ids: [other.projectId, third.projectId],
    });
    const grants = [];
    for await (const p of created) grants.push(p);
    expect(grants.map((p) => p.project_id).sort()).toEqual([other.projectId, third.projectId].sort());
    for (const p of grants) {
      expect(p).toMatchObject({ object: "checkpoint.permission" });
      expect(p.id).toMatch(/^cp_/);
    }
    const again = await admin.fineTuning.checkpoints.permissions.create(ckptName, { project_ids: [other.projectId] });
    expect(again.data.map((p) => p.id)).toEqual(
      grants.filter((p) => p.project_id === other.projectId).map((p) => p.id),
    );

    // The SDK follows `last_id` from page to page (one permission per page here).
    const listed = [];
    for await (const p of admin.fineTuning.checkpoints.permissions.list(ckptName, { limit: 1 })) listed.push(p);
    expect(listed.map((p) => p.id)).toEqual(
      grants
        .map((p) => p.id)
        .sort()
        .reverse(),
    );
    const filtered = await admin.fineTuning.checkpoints.permissions.list(ckptName, { project_id: third.projectId });
    expect(filtered.data.map((p) => p.project_id)).toEqual([third.projectId]);

    // Shared: the other project sees the model and fine-tunes from it.
    expect(await other.client.models.retrieve(ckptName)).toMatchObject({ id: ckptName, owned_by: owner.projectId });
    const job = await createJob(other.client);
    expect(job.model).toBe(ckptName);

    const otherGrant = grants.find((p) => p.project_id === other.projectId);
    const deleted = await admin.fineTuning.checkpoints.permissions.delete(otherGrant?.id as string, {
      fine_tuned_model_checkpoint: ckptName,
    });
    expect(deleted).toEqual({ object: "checkpoint.permission", id: otherGrant?.id, deleted: true });
    await expectApiError(() => other.client.models.retrieve(ckptName), 404, { param: "model", code: "not_found" });
    await expectApiError(() => createJob(other.client), 400, { param: "model", code: "model_not_found" });
    expect((await third.client.models.retrieve(ckptName)).id).toBe(ckptName);
  });

  it("refuses non-admin keys, unknown checkpoints and projects, and a checkpoint delete through /models", async () => {
    const member = new OpenAI({
      apiKey: owner.apiKey,
      adminAPIKey: owner.apiKey,
      baseURL: server.baseURL,
      maxRetries: 0,
    });
    await expectApiError(
      () => member.fineTuning.checkpoints.permissions.create(ckptName, { project_ids: [other.projectId] }),
      403,
      { param: null, code: "admin_key_required", type: "permission_error" },
    );
    await expectApiError(() => member.fineTuning.checkpoints.permissions.list(ckptName), 403, {
      param: null,
      code: "admin_key_required",
      type: "permission_error",
    });
    await expectApiError(
      () => admin.fineTuning.checkpoints.permissions.create("ft:nope:ckpt-step-1", { project_ids: [other.projectId] }),
      404,
      { param: "fine_tuned_model_checkpoint", code: "not_found" },
    );
    await expectApiError(
      () => admin.fineTuning.checkpoints.permissions.create(ckptName, { project_ids: [other.projectId, "proj_nope"] }),
      400,
      { param: "project_ids.1", code: "project_not_found" },
    );
    await expectApiError(() => admin.fineTuning.checkpoints.permissions.create(ckptName, { project_ids: [] }), 400, {
      param: "project_ids",
      code: "invalid_value",
    });
    await expectApiError(
      () =>
        admin.fineTuning.checkpoints.permissions.delete("cp_nope", {
          fine_tuned_model_checkpoint: ckptName,
        }),
      404,
      { param: "permission_id", code: "not_found" },
    );
    await expectApiError(() => owner.client.models.delete(ckptName), 400, { param: "model", code: "invalid_model" });
  });
});
