// Worker-thread entry for the fuzz runner. Worker threads do not inherit tsx's registration from the
// main thread, so register it here, then load the TypeScript worker (same pattern as src/tools/miner).
import { register } from "tsx/esm/api";

register();
await import("./worker.ts");
