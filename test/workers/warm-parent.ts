/**
 * A stand-in for the API process in the warm-pool test: a local backend keeping one warm runner. Prints `warm` once
 * the runner's engine is up, then idles until it is killed (the test kills it with SIGKILL, as a crash would).
 */
import { createLocalBackend } from "../../workers/backends/local.ts";

// What keeps an API process alive is its server; here a timer (the warm runner itself does not hold this process).
setInterval(() => {}, 60_000);
const backend = createLocalBackend({
  dataDir: process.argv[2]!,
  warmRunners: 1,
  env: { RFT_DEVICE: "cpu", RFT_ENGINE_THREADS: "1" },
});
await backend.whenWarm();
process.stdout.write("warm\n");
