import { EngineClient, type EngineClientOptions } from "./engine-client.ts";

const HELD_LINES = 2_000;

/**
 * The trainer engine, started before the run needs it: while the runner fetches its spec and downloads its files,
 * or while a warm runner (`remote-main.ts --warm`) waits for a run. It starts with `RFT_ENGINE_PRELOAD=1`, so torch,
 * transformers and peft are imported by the time the loop sends `init` (about 4 s of a small CPU). Its stderr is
 * held until the run's work folder is known (`attach`). The loop takes it with `take()`; a runner that ends without
 * running the loop calls `dispose()`.
 */
export class EarlyEngine {
  private readonly starting: Promise<EngineClient>;
  private sink: ((line: string) => void) | null = null;
  private held: string[] = [];
  private taken = false;

  constructor(private readonly options: EngineClientOptions = {}) {
    this.starting = this.start();
    this.starting.catch(() => {}); // observed by ready() / take()
  }

  /** True once the engine printed its ready line; false if it could not start. */
  ready(): Promise<boolean> {
    return this.starting.then(
      () => true,
      () => false,
    );
  }

  /** Sends the engine's stderr to `sink` from now on, the lines held so far first. */
  attach(sink: (line: string) => void): void {
    this.sink = sink;
    for (const line of this.held.splice(0)) sink(line);
  }

  /** The engine for the loop, which then owns it: the early one if it is still alive, else a fresh one. */
  async take(): Promise<EngineClient> {
    this.taken = true;
    const early = await this.starting.catch(() => null);
    if (early?.alive) return early;
    early?.kill();
    return this.start();
  }

  /** Shuts the engine down unless the loop took it. */
  async dispose(): Promise<void> {
    if (this.taken) return;
    this.taken = true;
    const early = await this.starting.catch(() => null);
    await early?.shutdown();
  }

  private start(): Promise<EngineClient> {
    return EngineClient.start({
      ...this.options,
      env: { ...this.options.env, RFT_ENGINE_PRELOAD: "1" },
      onStderr: (line) => {
        if (this.sink) this.sink(line);
        else {
          this.held.push(line);
          if (this.held.length > HELD_LINES) this.held.shift();
        }
      },
    });
  }
}
