/**
 * The runner backend port: launch, cancel and inspect one run of a job. A run gets only the API base URL and a
 * job-scoped token; everything else comes over the runner protocol (`api/routes/runner.ts`), so any container
 * host can be a backend. Adapters: `local.ts` (child process, the embedded default), `kubernetes.ts` (a batch/v1
 * Job on a GPU node pool).
 */
export interface RunLaunch {
  jobId: string;
  runId: string;
  /** The run's bearer token. Backends hand it to the runner out of band (env var, Secret), never in a log. */
  token: string;
  /** Where the runner reaches the API, e.g. `http://10.0.0.5:8787` (the runner appends `/runner/v1/...`). */
  apiBaseUrl: string;
}

/** What a backend knows about a run's process: `unknown` when it cannot tell (API restarted, cluster unreachable). */
export type RunState = "running" | "exited" | "unknown";

export interface RunnerBackend {
  readonly name: string;
  /** Starts the run; resolves once the backend accepted it (not when it finished). `ref` is stored on the run row. */
  launch(run: RunLaunch): Promise<{ ref: string }>;
  /** Stops the run if it still exists; stopping a gone run is not an error. */
  cancel(ref: string): Promise<void>;
  inspect(ref: string): Promise<RunState>;
  /** Releases what the backend holds in this process (the local backend kills the children it started). */
  close?(): Promise<void>;
}
