/**
 * A found block: assembled and sent to EVERY node in parallel (§4). `null` and "duplicate"
 * count as accepted; a rejection is double-checked with getblockheader (in the main
 * chain, confirmations ≥ 1), since a node may answer "inconclusive" or time out for a block it did take.
 */
import { coinbaseTxWithWitness } from "../bitcoin/coinbase.ts";
import { serializeBlock } from "../bitcoin/block.ts";
import type { RpcClient } from "../bitcoind/rpc-client.ts";
import type { BlockCandidate } from "./block-candidate.ts";
import { errorText } from "../../util/errors.ts";

export interface SubmitResult {
  node: string;
  accepted: boolean;
  /** The node's answer: null (accepted), "duplicate", a rejection reason, or the error text. */
  result: string | null;
  latencyMs: number;
}

/** The block's serialisation as submitblock takes it (hex). */
export function assembleBlockHex(c: BlockCandidate): string {
  const coinbase = c.job.template.witnessCommitmentScript ? coinbaseTxWithWitness(c.coinbase) : c.coinbase;
  return serializeBlock(c.header, coinbase, c.job.template.txDataHex as string[]);
}

export async function submitToAll(nodes: RpcClient[], blockHex: string, blockHashHex: string): Promise<SubmitResult[]> {
  return Promise.all(
    nodes.map(async (rpc): Promise<SubmitResult> => {
      const t0 = performance.now();
      let result: string | null;
      let accepted: boolean;
      try {
        result = await rpc.submitBlock(blockHex);
        accepted = result === null || result === "duplicate";
      } catch (err) {
        result = errorText(err);
        accepted = false;
      }
      if (!accepted) {
        try {
          // In the node's main chain, even if another block already extended it (a tip check would say no).
          if ((await rpc.getBlockHeader(blockHashHex)).confirmations >= 1) accepted = true;
        } catch {
          // keep the original verdict
        }
      }
      return { node: rpc.name, accepted, result, latencyMs: performance.now() - t0 };
    }),
  );
}
