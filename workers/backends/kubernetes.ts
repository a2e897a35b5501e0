/**
 * Kubernetes runner backend: one `batch/v1` Job per run on a GPU node pool.
 *
 * For each run it creates a Secret holding the run token (`RFT_RUN_TOKEN`), then a Job whose single pod runs the
 * runner image (`gpu-runner/Dockerfile`, entry `remote-main.ts`) with `RFT_API_URL` and the token from that Secret,
 * requests `gpus` of `gpuResource`, never restarts (`backoffLimit: 0`: a retry is a new run, decided by the reaper,
 * which resumes from the last checkpoint) and is deleted `ttlSecondsAfterFinished` after it ends. The Secret is
 * then made a child of the Job (ownerReference), so deleting the Job deletes the token too.
 *
 * It talks to the Kubernetes API with `fetch`, using the pod's service-account token (re-read on every call:
 * projected tokens rotate). The cluster CA is trusted through `NODE_EXTRA_CA_CERTS` (see infra/kubernetes/api.yaml).
 * RBAC it needs: create/get/delete Jobs, create/patch/delete Secrets in the runner namespace (infra/kubernetes/rbac.yaml).
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { RunLaunch, RunnerBackend, RunState } from "./port.ts";

export const KubernetesBackendConfig = z.object({
  /** In a pod: the default. Outside: the cluster's API URL. */
  apiServer: z.url().default("https://kubernetes.default.svc"),
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
    .default("rft-runners"),
  image: z.string().min(1),
  imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).default("IfNotPresent"),
  imagePullSecrets: z.array(z.string()).default([]),
  /** A bearer token for the API; else read from `tokenFile` on every call. */
  token: z.string().optional(),
  tokenFile: z.string().default("/var/run/secrets/kubernetes.io/serviceaccount/token"),
  gpus: z.number().int().nonnegative().default(1),
  gpuResource: z.string().default("nvidia.com/gpu"),
  cpu: z.string().default("8"),
  memory: z.string().default("64Gi"),
  /** Scratch space for the model, data and checkpoints (an emptyDir of this size limit). */
  scratch: z.string().default("200Gi"),
  nodeSelector: z.record(z.string(), z.string()).default({}),
  tolerations: z
    .array(z.record(z.string(), z.unknown()))
    .default([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]),
  /** A PersistentVolumeClaim (ReadWriteMany) shared by runners as the base-model cache; else each pod downloads. */
  cacheClaim: z.string().optional(),
  priorityClassName: z.string().optional(),
  /** Service account of the runner pods: none of the API's rights (default: the namespace's `default`, no token mounted). */
  runnerServiceAccount: z.string().optional(),
  ttlSecondsAfterFinished: z.number().int().nonnegative().default(3600),
  /** Hard cap on one run's wall time; the reaper then resumes the job in a new run. */
  activeDeadlineSeconds: z.number().int().positive().optional(),
  /** Extra environment for the runner (`RFT_DEVICE`, `RFT_DTYPE`, `HF_HUB_OFFLINE`, ...). */
  env: z.record(z.string(), z.string()).default({}),
});
export type KubernetesBackendConfig = z.infer<typeof KubernetesBackendConfig>;
export type KubernetesBackendInput = z.input<typeof KubernetesBackendConfig>;

/** A DNS-1123 label from a run id (`run_0abC…` → `rft-run-0abc…`): Kubernetes names are lower case. */
export function k8sName(runId: string): string {
  return `rft-${runId.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`.slice(0, 63).replace(/-+$/, "");
}

export interface RunManifests {
  secret: Record<string, unknown>;
  job: Record<string, unknown>;
}

/** The Secret and the Job for one run, as plain objects (JSON is what the API takes; tests check them). */
export function renderRunManifests(config: KubernetesBackendConfig, run: RunLaunch): RunManifests {
  const name = k8sName(run.runId);
  const labels = {
    "app.kubernetes.io/name": "rft-runner",
    "app.kubernetes.io/managed-by": "rft-api",
    "rft.dev/run-id": run.runId,
    "rft.dev/job-id": run.jobId,
  };
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: config.namespace, labels },
    type: "Opaque",
    stringData: { RFT_RUN_TOKEN: run.token },
  };
  const resources: Record<string, string> = { cpu: config.cpu, memory: config.memory };
  if (config.gpus > 0) resources[config.gpuResource] = String(config.gpus);
  const volumes: Record<string, unknown>[] = [{ name: "scratch", emptyDir: { sizeLimit: config.scratch } }];
  const mounts: Record<string, unknown>[] = [{ name: "scratch", mountPath: "/work" }];
  if (config.cacheClaim) {
    volumes.push({ name: "cache", persistentVolumeClaim: { claimName: config.cacheClaim } });
    mounts.push({ name: "cache", mountPath: "/cache" });
  }
  const env = [
    { name: "RFT_API_URL", value: run.apiBaseUrl },
    { name: "RFT_RUN_TOKEN", valueFrom: { secretKeyRef: { name, key: "RFT_RUN_TOKEN" } } },
    { name: "RFT_WORK_DIR", value: "/work/run" },
    { name: "RFT_CACHE_DIR", value: config.cacheClaim ? "/cache" : "/work/cache" },
    ...Object.entries(config.env).map(([k, v]) => ({ name: k, value: v })),
  ];
  const job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: config.namespace, labels },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: config.ttlSecondsAfterFinished,
      ...(config.activeDeadlineSeconds ? { activeDeadlineSeconds: config.activeDeadlineSeconds } : {}),
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          // The image runs as uid 10001; fsGroup makes the mounted cache volume writable for it.
          securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 },
          ...(config.runnerServiceAccount ? { serviceAccountName: config.runnerServiceAccount } : {}),
          ...(config.priorityClassName ? { priorityClassName: config.priorityClassName } : {}),
          ...(Object.keys(config.nodeSelector).length ? { nodeSelector: config.nodeSelector } : {}),
          ...(config.tolerations.length ? { tolerations: config.tolerations } : {}),
          ...(config.imagePullSecrets.length
            ? { imagePullSecrets: config.imagePullSecrets.map((n) => ({ name: n })) }
            : {}),
          // The engine's tensors cross processes through shared memory (DataLoader workers, NCCL): 64 MiB is not enough.
          volumes: [...volumes, { name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "16Gi" } }],
          containers: [
            {
              name: "runner",
              image: config.image,
              imagePullPolicy: config.imagePullPolicy,
              env,
              resources: { requests: resources, limits: resources },
              volumeMounts: [...mounts, { name: "dshm", mountPath: "/dev/shm" }],
              securityContext: { allowPrivilegeEscalation: false },
            },
          ],
        },
      },
    },
  };
  return { secret, job };
}

/** Kubernetes API failure, with the Status message the API server sent. */
export class KubernetesApiError extends Error {
  override readonly name = "KubernetesApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createKubernetesBackend(input: KubernetesBackendInput, fetchImpl: typeof fetch = fetch): RunnerBackend {
  const config = KubernetesBackendConfig.parse(input);
  const api = config.apiServer.replace(/\/+$/, "");
  const ns = config.namespace;

  async function call(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<Response> {
    const token = config.token ?? (await readFile(config.tokenFile, "utf8").catch(() => "")).trim();
    const res = await fetchImpl(`${api}${path}`, {
      method,
      headers: {
        accept: "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": contentType } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    return res;
  }

  async function expectOk(res: Response, what: string, allow: number[] = []): Promise<Record<string, unknown> | null> {
    if (allow.includes(res.status)) return null;
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not a Status object
      }
      throw new KubernetesApiError(res.status, `kubernetes: ${what} failed (HTTP ${res.status}): ${message}`);
    }
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }

  return {
    name: "kubernetes",

    async launch(run) {
      const { secret, job } = renderRunManifests(config, run);
      const name = k8sName(run.runId);
      await expectOk(await call("POST", `/api/v1/namespaces/${ns}/secrets`, secret), `create Secret ${name}`);
      let created: Record<string, unknown> | null;
      try {
        created = await expectOk(await call("POST", `/apis/batch/v1/namespaces/${ns}/jobs`, job), `create Job ${name}`);
      } catch (err) {
        await call("DELETE", `/api/v1/namespaces/${ns}/secrets/${name}`).catch(() => {});
        throw err;
      }
      const uid = (created?.metadata as { uid?: string } | undefined)?.uid;
      if (uid) {
        const owner = { apiVersion: "batch/v1", kind: "Job", name, uid, blockOwnerDeletion: false };
        await call(
          "PATCH",
          `/api/v1/namespaces/${ns}/secrets/${name}`,
          { metadata: { ownerReferences: [owner] } },
          "application/merge-patch+json",
        )
          .then((res) => expectOk(res, `adopt Secret ${name}`))
          .catch(() => {
            // Not fatal: cancel() deletes the Secret by name too.
          });
      }
      return { ref: `${ns}/${name}` };
    },

    async cancel(ref) {
      const [namespace, name] = ref.split("/");
      if (!namespace || !name) return;
      await expectOk(
        await call("DELETE", `/apis/batch/v1/namespaces/${namespace}/jobs/${name}`, {
          kind: "DeleteOptions",
          apiVersion: "v1",
          propagationPolicy: "Background",
        }),
        `delete Job ${name}`,
        [404],
      );
      await expectOk(
        await call("DELETE", `/api/v1/namespaces/${namespace}/secrets/${name}`),
        `delete Secret ${name}`,
        [404],
      );
    },

    async inspect(ref): Promise<RunState> {
      const [namespace, name] = ref.split("/");
      if (!namespace || !name) return "unknown";
      try {
        const res = await call("GET", `/apis/batch/v1/namespaces/${namespace}/jobs/${name}`);
        if (res.status === 404) return "exited";
        const job = await expectOk(res, `get Job ${name}`);
        return jobState(job?.status as JobStatus | undefined);
      } catch {
        return "unknown";
      }
    },
  };
}

type JobStatus = {
  active?: number;
  succeeded?: number;
  failed?: number;
  conditions?: { type: string; status: string }[];
};

/** A Job that is pending or has an active pod is `running` (the start timeout covers one stuck pending). */
export function jobState(status: JobStatus | undefined): RunState {
  if (!status) return "running";
  const done = status.conditions?.some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
  if (done || (status.succeeded ?? 0) > 0 || (status.failed ?? 0) > 0) return "exited";
  return "running";
}
