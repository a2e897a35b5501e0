/**
 * The Kubernetes backend without a cluster (none can run here): the rendered Job and Secret are checked against
 * the rules the API server would apply, the calls are made against a FAKE Kubernetes API (./fake-kube-api.ts: a
 * loopback HTTP server that records requests and answers like the real one for these five calls), and the manifests in
 * infra/kubernetes are parsed and cross-checked: every call the backend makes is allowed by rbac.yaml, and the
 * example Deployment's environment passes the workers' own env parser. Where `kubectl` is installed,
 * `kubectl kustomize infra/kubernetes` must render.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  createKubernetesBackend,
  jobState,
  KubernetesBackendConfig,
  k8sName,
  renderRunManifests,
} from "../../workers/backends/kubernetes.ts";
import { parseWorkersEnv } from "../../workers/config.ts";
import { FakeKubeApi } from "./fake-kube-api.ts";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const run = {
  jobId: "ftjob-0mhd5k2x1AbCdEfGhIjKlMnOp",
  runId: "run_0mhd5k2x2QrStUvWxYzAbCdEf",
  token: "rft-run-SECRETtokenValue0123456789abcdefghijkl",
  apiBaseUrl: "http://rft-api.rft.svc.cluster.local:8787",
};
const config = KubernetesBackendConfig.parse({
  image: "ghcr.io/example/rft-runner:0.1.0",
  nodeSelector: { "nvidia.com/gpu.present": "true" },
  activeDeadlineSeconds: 86_400,
  cacheClaim: "rft-model-cache",
});

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form JSON
type Obj = Record<string, any>;

describe("rendered run manifests", () => {
  const { secret, job } = renderRunManifests(config, run) as { secret: Obj; job: Obj };
  const pod = job.spec.template.spec;
  const container = pod.containers[0];

  it("a batch/v1 Job that never retries by itself, cleans up after itself, and asks for the GPU", () => {
    expect(job.apiVersion).toBe("batch/v1");
    expect(job.kind).toBe("Job");
    expect(job.spec.backoffLimit).toBe(0);
    expect(job.spec.ttlSecondsAfterFinished).toBe(3600);
    expect(job.spec.activeDeadlineSeconds).toBe(86_400);
    expect(pod.restartPolicy).toBe("Never");
    expect(container.image).toBe("ghcr.io/example/rft-runner:0.1.0");
    // Extended resources (GPUs) must have requests equal to limits.
    expect(container.resources.limits["nvidia.com/gpu"]).toBe("1");
    expect(container.resources.requests).toEqual(container.resources.limits);
    expect(pod.nodeSelector).toEqual({ "nvidia.com/gpu.present": "true" });
    expect(pod.tolerations).toContainEqual({ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" });
    expect(pod.volumes.map((v: Obj) => v.name)).toEqual(["scratch", "cache", "dshm"]);
    expect(container.volumeMounts.map((m: Obj) => m.mountPath)).toEqual(["/work", "/cache", "/dev/shm"]);
  });

  it("the token lives only in a job-scoped Secret; the pod reads it from there and has no API token of its own", () => {
    expect(secret).toMatchObject({
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      stringData: { RFT_RUN_TOKEN: run.token },
    });
    expect(JSON.stringify(job)).not.toContain(run.token);
    const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e]));
    expect(env.RFT_API_URL.value).toBe(run.apiBaseUrl);
    expect(env.RFT_RUN_TOKEN.valueFrom.secretKeyRef).toEqual({ name: secret.metadata.name, key: "RFT_RUN_TOKEN" });
    expect(env.RFT_CACHE_DIR.value).toBe("/cache");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
  });

  it("names are DNS labels, labels are valid label values, both in the runner namespace", () => {
    for (const m of [job.metadata, secret.metadata]) {
      expect(m.name).toMatch(DNS_LABEL);
      expect(m.name.length).toBeLessThanOrEqual(63);
      expect(m.namespace).toBe("rft-runners");
      for (const v of Object.values(m.labels as Record<string, string>)) {
        expect(v).toMatch(LABEL_VALUE);
        expect(v.length).toBeLessThanOrEqual(63);
      }
    }
    expect(job.spec.template.metadata.labels["app.kubernetes.io/name"]).toBe("rft-runner");
    expect(k8sName("run_ABC_def")).toBe("rft-run-abc-def");
    expect(k8sName(`run_${"x".repeat(80)}`).length).toBeLessThanOrEqual(63);
  });

  it("a CPU-only pool: no GPU request", () => {
    const cpu = renderRunManifests(KubernetesBackendConfig.parse({ image: "img", gpus: 0 }), run).job as Obj;
    expect(cpu.spec.template.spec.containers[0].resources.limits).toEqual({ cpu: "8", memory: "64Gi" });
  });

  it("job states: pending and active are running; complete, failed or gone are exited", () => {
    expect(jobState(undefined)).toBe("running");
    expect(jobState({ active: 1 })).toBe("running");
    expect(jobState({ succeeded: 1 })).toBe("exited");
    expect(jobState({ failed: 1 })).toBe("exited");
    expect(jobState({ conditions: [{ type: "Failed", status: "True" }] })).toBe("exited");
  });
});

describe("the backend against a fake Kubernetes API", () => {
  const api = new FakeKubeApi();
  beforeAll(async () => {
    await api.start();
  });
  afterAll(() => api.stop());

  it("launch: Secret, then Job, then the Secret adopted by the Job; inspect; cancel deletes both", async () => {
    const backend = createKubernetesBackend({ ...config, apiServer: api.url, token: "sa-token" });
    const { ref } = await backend.launch(run);
    const name = k8sName(run.runId);
    expect(ref).toBe(`rft-runners/${name}`);
    expect(api.calls.map((c) => `${c.method} ${c.path}`)).toEqual([
      "POST /api/v1/namespaces/rft-runners/secrets",
      "POST /apis/batch/v1/namespaces/rft-runners/jobs",
      `PATCH /api/v1/namespaces/rft-runners/secrets/${name}`,
    ]);
    expect(api.calls.every((c) => c.auth === "Bearer sa-token")).toBe(true);
    expect(api.calls[2]!.type).toBe("application/merge-patch+json");
    expect(api.objects.get(`secrets/${name}`)!.metadata.ownerReferences).toEqual([
      { apiVersion: "batch/v1", kind: "Job", name, uid: "uid-2", blockOwnerDeletion: false },
    ]);

    expect(await backend.inspect(ref)).toBe("running");
    api.objects.get(`jobs/${name}`)!.status = { failed: 1, conditions: [{ type: "Failed", status: "True" }] };
    expect(await backend.inspect(ref)).toBe("exited");

    await backend.cancel(ref);
    const deletes = api.calls.filter((c) => c.method === "DELETE");
    expect(deletes.map((c) => c.path)).toEqual([
      `/apis/batch/v1/namespaces/rft-runners/jobs/${name}`,
      `/api/v1/namespaces/rft-runners/secrets/${name}`,
    ]);
    expect(deletes[0]!.body).toMatchObject({ propagationPolicy: "Background" });
    expect(await backend.inspect(ref)).toBe("exited"); // gone
    await backend.cancel(ref); // cancelling a gone run is not an error
  });

  it("a refused Job surfaces the API server's message and leaves no Secret behind", async () => {
    api.refuseJobs = true;
    const backend = createKubernetesBackend({ ...config, apiServer: api.url, token: "sa-token" });
    const other = { ...run, runId: "run_0mhd5k2x3refused0000000000" };
    await expect(backend.launch(other)).rejects.toThrow(
      /create Job rft-run-0mhd5k2x3refused0000000000 failed \(HTTP 403\): jobs.batch is forbidden/,
    );
    expect(api.objects.has(`secrets/${k8sName(other.runId)}`)).toBe(false);
    api.refuseJobs = false;
  });

  it("every call the backend made is allowed by infra/kubernetes/rbac.yaml", () => {
    const rbac = docs("rbac.yaml");
    const role = rbac.find((d) => d.kind === "Role")!;
    expect(role.metadata.namespace).toBe(config.namespace);
    const verbOf: Record<string, string> = { POST: "create", GET: "get", PATCH: "patch", DELETE: "delete" };
    for (const call of api.calls) {
      const m = /^\/(api\/v1|apis\/(\w+)\/v1)\/namespaces\/[^/]+\/(\w+)/.exec(call.path)!;
      const group = m[2] ?? "";
      const resource = m[3]!;
      const verb = verbOf[call.method]!;
      const allowed = (role.rules as Obj[]).some(
        (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
      );
      expect(allowed, `${verb} ${group}/${resource}`).toBe(true);
    }
    const binding = rbac.find((d) => d.kind === "RoleBinding")!;
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "rft-api", namespace: "rft" }]);
    expect(binding.roleRef.name).toBe(role.metadata.name);
  });
});

const dir = join(process.cwd(), "infra/kubernetes");
const docs = (file: string) =>
  parseAllDocuments(readFileSync(join(dir, file), "utf8"))
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);

describe("infra/kubernetes manifests", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));

  it("parse, and every object has apiVersion, kind and a DNS-label name", () => {
    for (const file of files) {
      for (const doc of docs(file)) {
        expect(doc.apiVersion, file).toBeTruthy();
        expect(doc.kind, file).toBeTruthy();
        if (doc.kind === "Kustomization") continue;
        expect(doc.metadata.name, file).toMatch(DNS_LABEL);
        if (doc.metadata.namespace) expect(doc.metadata.namespace, file).toMatch(DNS_LABEL);
      }
    }
  });

  it("kustomization.yaml lists files that exist", () => {
    const [k] = docs("kustomization.yaml");
    for (const r of k!.resources as string[]) expect(files).toContain(r);
  });

  it("the example API Deployment: runs as rft-api, its env passes the workers' parser, its selector matches its pods", () => {
    const objects = docs("api.yaml");
    const deployment = objects.find((d) => d.kind === "Deployment")!;
    const pod = deployment.spec.template;
    expect(deployment.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "rft-api" });
    expect(pod.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    expect(pod.spec.serviceAccountName).toBe("rft-api");
    const env = Object.fromEntries((pod.spec.containers[0].env as Obj[]).map((e) => [e.name, String(e.value)]));
    const parsed = parseWorkersEnv(env);
    expect(parsed.RFT_RUNNER_BACKEND).toBe("kubernetes");
    expect(parsed.RFT_K8S_NODE_SELECTOR).toEqual({ "nvidia.com/gpu.present": "true" });
    expect(env.RFT_RUNNER_API_URL).toBe("http://rft-api.rft.svc.cluster.local:8787");
    const service = objects.find((d) => d.kind === "Service")!;
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    // The runner namespace the API launches into has the Role that lets it.
    expect(docs("rbac.yaml").find((d) => d.kind === "Role")!.metadata.namespace).toBe(env.RFT_K8S_NAMESPACE);
  });

  it("the workers' env parser names what a kubernetes setup is missing", () => {
    expect(() => parseWorkersEnv({ RFT_RUNNER_BACKEND: "kubernetes" })).toThrow(
      /RFT_K8S_IMAGE: is required[\s\S]*RFT_RUNNER_API_URL: is required/,
    );
  });

  const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  it.skipIf(kubectl.status !== 0)("kubectl kustomize renders the whole set (only where kubectl is installed)", () => {
    const out = execFileSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
    const kinds = parseAllDocuments(out).map((d) => (d.toJS() as Obj).kind);
    expect(kinds.sort()).toEqual([
      "Deployment",
      "Namespace",
      "Namespace",
      "NetworkPolicy",
      "PersistentVolumeClaim",
      "Role",
      "RoleBinding",
      "Secret",
      "Service",
      "ServiceAccount",
    ]);
  });
});
