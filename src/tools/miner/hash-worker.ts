/**
 * Hashing thread: scans nonce ranges and reports nonces meeting the share or network target. Checks the
 * shared abort generation between chunks so a clean_jobs switch stops it within one chunk.
 */
import { parentPort, workerData } from "node:worker_threads";
import { scanNonces } from "../stratum-client/work.ts";
import { SCAN_CHUNK, type FromWorker, type ScanEnd, type ToWorker } from "./protocol.ts";

const port = parentPort;
if (!port) throw new Error("hash-worker must run in a worker thread");
const control = new Int32Array((workerData as { control: SharedArrayBuffer }).control);
const post = (m: FromWorker): void => port.postMessage(m);

port.on("message", (msg: ToWorker) => {
  if (msg.type !== "scan") return;
  const u = msg.unit;
  const work = { header: Buffer.from(u.header), shareTargetLE: Buffer.from(u.shareTargetLE), networkTargetLE: Buffer.from(u.networkTargetLE) };
  let done = 0;
  let end: ScanEnd = "exhausted";
  let unreported = 0;
  let foundTotal = 0;
  while (done < u.count) {
    if (Atomics.load(control, 0) !== u.generation) {
      end = "aborted";
      break;
    }
    const n = Math.min(SCAN_CHUNK, u.count - done);
    const found = scanNonces(work, (u.startNonce + done) >>> 0, n);
    done += n;
    unreported += n;
    if (found.length > 0 || unreported >= SCAN_CHUNK * 4) {
      post({ type: "progress", hashes: unreported });
      unreported = 0;
    }
    if (found.length > 0) {
      const blockAt = u.stopOnBlock ? found.findIndex((f) => f.isBlock) : -1;
      const kept = blockAt >= 0 ? found.slice(0, blockAt + 1) : found;
      post({ type: "found", unitId: u.unitId, nonces: kept.map((f) => f.nonce) });
      if (blockAt >= 0) {
        end = "block";
        break;
      }
      foundTotal += kept.length;
      if (u.stopAfterFound && foundTotal >= u.stopAfterFound) {
        end = "found";
        break;
      }
    }
  }
  post({ type: "done", unitId: u.unitId, hashes: unreported, end });
});
post({ type: "ready" });
