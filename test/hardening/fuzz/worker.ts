/** Fuzz worker thread: runs the batches the parent posts and posts back each BatchResult. */
import { parentPort } from "node:worker_threads";
import { runBatch } from "./runner.ts";

parentPort!.on("message", (b: { target: string; seed: number; budget: number; hangMs: number }) => {
  parentPort!.postMessage(runBatch(b.target, b.seed, b.budget, b.hangMs));
});
