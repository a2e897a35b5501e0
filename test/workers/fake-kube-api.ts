/**
 * fake-kube-api: a FAKE Kubernetes API server on 127.0.0.1, for the Kubernetes runner backend
 * (workers/backends/kubernetes.ts) where no cluster can run. It records every request (method, path,
 * Authorization, Content-Type, JSON body) and answers like the real API server for the five calls the backend
 * makes: create a Secret or a Job (201, a `uid` added; 409 if the name exists), get one (200 or 404), merge-patch
 * a Secret's metadata, delete either (200 Status, or 404).
 *
 * Its limits: objects live in one map keyed `<resource>/<name>` (namespaces are recorded in the path, not kept
 * apart); nothing is validated against the API's schemas, admission or RBAC; no controller runs, so a Job never
 * starts a pod or gets a `status` unless a test sets one on the stored object; a Job deletion does not cascade
 * to its Secret (the backend deletes both by name); `refuseJobs` answers job creation with a 403 Status.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form JSON
export type KubeObject = Record<string, any>;

export interface KubeCall {
  method: string;
  path: string;
  auth: string | undefined;
  type: string | undefined;
  body: KubeObject | null;
}

const COLLECTION = /^\/(api\/v1|apis\/batch\/v1)\/namespaces\/([^/]+)\/(secrets|jobs)$/;
const ITEM = /^\/(api\/v1|apis\/batch\/v1)\/namespaces\/([^/]+)\/(secrets|jobs)\/([^/]+)$/;

export class FakeKubeApi {
  calls: KubeCall[] = [];
  /** What the fake holds, keyed `secrets/<name>` or `jobs/<name>`. */
  objects = new Map<string, KubeObject>();
  refuseJobs = false;
  url = "";
  private server: Server | null = null;

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    const server = this.server;
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  /** The stored object of `resource` (`secrets` or `jobs`) whose labels carry `label: value`, if any. */
  findByLabel(resource: "secrets" | "jobs", label: string, value: string): KubeObject | undefined {
    for (const [key, obj] of this.objects) {
      if (key.startsWith(`${resource}/`) && obj.metadata?.labels?.[label] === value) return obj;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    let text = "";
    for await (const chunk of req) text += chunk;
    const body = text ? (JSON.parse(text) as KubeObject) : null;
    const path = req.url ?? "";
    this.calls.push({
      method: req.method ?? "",
      path,
      auth: req.headers.authorization,
      type: req.headers["content-type"],
      body,
    });
    const send = (status: number, obj: KubeObject) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(obj));
    };
    const status = (code: number, message: string) =>
      send(code, { kind: "Status", apiVersion: "v1", status: "Failure", message, code });
    const collection = COLLECTION.exec(path);
    const item = ITEM.exec(path);
    if (req.method === "POST" && collection && body) {
      const resource = collection[3];
      if (resource === "jobs" && this.refuseJobs) {
        return status(
          403,
          'jobs.batch is forbidden: User "system:serviceaccount:rft:rft-api" cannot create resource "jobs"',
        );
      }
      const key = `${resource}/${body.metadata.name}`;
      if (this.objects.has(key)) return status(409, `${resource} "${body.metadata.name}" already exists`);
      const created = { ...body, metadata: { ...body.metadata, uid: `uid-${this.objects.size + 1}` } };
      this.objects.set(key, created);
      return send(201, created);
    }
    if (item) {
      const key = `${item[3]}/${item[4]}`;
      const obj = this.objects.get(key);
      if (!obj) return status(404, `${item[3]} "${item[4]}" not found`);
      if (req.method === "GET") return send(200, obj);
      if (req.method === "PATCH" && body) {
        obj.metadata = { ...obj.metadata, ...body.metadata };
        return send(200, obj);
      }
      if (req.method === "DELETE") {
        this.objects.delete(key);
        return send(200, { kind: "Status", status: "Success" });
      }
    }
    return status(404, "the server could not find the requested resource");
  }
}
