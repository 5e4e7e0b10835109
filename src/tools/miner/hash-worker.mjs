// Worker-thread entry for the CPU miner. Worker threads do not inherit tsx's programmatic registration
// (bin/tbg calls register() in the main thread only), so register it here, then load the TypeScript worker.
// Registering again under `node --import tsx` (the test runner) is harmless.
import { register } from "tsx/esm/api";

register();
await import("./hash-worker.ts");
