/**
 * Runs JSON-RPC requests through bcoin's RPC and makes the answers look like Bitcoin Core's
 * for the methods a pool uses. Differences found in bcoin 1.0.2 and what is done about them:
 *
 * - submitblock: bcoin answers `"rejected: <reason>"`; Core answers `"<reason>"` (BIP22). Prefix stripped.
 *   bcoin's orphan answer "bad-prevblk" becomes Core's "prev-blk-not-found". bcoin answers null for a
 *   valid block that did not become the tip (side chain); Core answers "inconclusive".
 * - getblockheader: bcoin sends `bits` as a number (Core: 8 hex chars), `previousblockhash`/`nextblockhash`
 *   as null (Core omits them), no `nonce`, and positive confirmations for side-chain blocks (Core: -1).
 *   "Block not found" has code -1 in bcoin, -5 in Core.
 * - validateaddress: bcoin sends ismine/iswatchonly (wallet fields Core removed in 0.18) and lacks
 *   isscript/iswitness/witness_version/witness_program. Rewritten to Core's shape.
 *   bcoin 1.0.2 predates BIP350 (bech32m): P2TR (`bcrt1p…`) addresses are reported invalid.
 * - getblockchaininfo: bcoin lacks `initialblockdownload`; added (`!chain.synced`).
 * - getblocktemplate: bcoin caches its template for 10 s while only the mempool changes (Core: 5 s);
 *   the embedded node refreshes it explicitly when it adds transactions. With rules ["segwit"] bcoin
 *   sends `default_witness_commitment` and `rules: ["csv", "!segwit"]` like Core.
 */
import { createHash } from "node:crypto";
import { loadBcoin, type BcoinFullNode } from "./bcoin.ts";
import { errorReply, type RpcHandler, type RpcReply } from "./rpc-server.ts";

/** Bitcoin Core RPC_INVALID_ADDRESS_OR_KEY (src/rpc/protocol.h). */
const RPC_INVALID_ADDRESS_OR_KEY = -5;

/** Display-order hash of a serialized block (double SHA-256 of the 80-byte header, reversed). */
function blockHashFromHex(blockHex: string): string | undefined {
  if (blockHex.length < 160) return undefined;
  const header = Buffer.from(blockHex.slice(0, 160), "hex");
  const once = createHash("sha256").update(header).digest();
  return Buffer.from(createHash("sha256").update(once).digest()).reverse().toString("hex");
}

function revHex(hex: string): string {
  return Buffer.from(hex, "hex").reverse().toString("hex");
}

/** Builds the RPC handler for `node`: bcoin's RPC plus the Core-compatibility shims above. */
export function bitcoindCompatHandler(node: BcoinFullNode): RpcHandler {
  const bcoin = loadBcoin();

  async function call(method: string, params: unknown[], id: unknown): Promise<RpcReply> {
    return (await node.rpc.call({ method, params, id }, {})) as RpcReply;
  }

  const shims: Record<string, (reply: RpcReply, params: unknown[]) => Promise<RpcReply> | RpcReply> = {
    async submitblock(reply, params) {
      if (reply.error) return reply;
      if (typeof reply.result === "string") {
        let reason = reply.result.replace(/^rejected: /, "");
        if (reason === "bad-prevblk") reason = "prev-blk-not-found";
        return { ...reply, result: reason };
      }
      const hash = typeof params[0] === "string" ? blockHashFromHex(params[0]) : undefined;
      if (hash !== undefined && node.chain.tip.rhash() !== hash) return { ...reply, result: "inconclusive" };
      return reply;
    },
    async getblockheader(reply) {
      if (reply.error) {
        if (reply.error.message === "Block not found") return { ...reply, error: { ...reply.error, code: RPC_INVALID_ADDRESS_OR_KEY } };
        return reply;
      }
      if (reply.result === null || typeof reply.result !== "object") return reply; // non-verbose: raw hex
      const header = { ...(reply.result as Record<string, unknown>) };
      if (typeof header.bits === "number") header.bits = header.bits.toString(16).padStart(8, "0");
      if (header.previousblockhash === null) delete header.previousblockhash;
      if (header.nextblockhash === null) delete header.nextblockhash;
      if (typeof header.height === "number" && typeof header.hash === "string") {
        const mainHash = await node.chain.getHash(header.height);
        if (mainHash === null || revHex(mainHash) !== header.hash) header.confirmations = -1;
        const entry = await node.chain.getEntry(revHex(header.hash));
        if (entry && header.nonce === undefined) header.nonce = entry.nonce;
      }
      return { ...reply, result: header };
    },
    validateaddress(reply, params) {
      if (reply.error || typeof params[0] !== "string") return reply;
      const result = reply.result as { isvalid?: boolean; address?: string; scriptPubKey?: string };
      if (!result.isvalid) return { ...reply, result: { isvalid: false } };
      const addr = bcoin.Address.fromString(params[0], "regtest");
      const isWitness = addr.version >= 0;
      const out: Record<string, unknown> = {
        isvalid: true,
        address: result.address,
        scriptPubKey: result.scriptPubKey,
        // P2SH, or a v0 witness program of 32 bytes (P2WSH); Core reports false for P2TR.
        isscript: addr.type === bcoin.Address.types.SCRIPTHASH || (addr.version === 0 && addr.hash.length === 32),
        iswitness: isWitness,
      };
      if (isWitness) {
        out.witness_version = addr.version;
        out.witness_program = addr.hash.toString("hex");
      }
      return { ...reply, result: out };
    },
    getblockchaininfo(reply) {
      if (reply.error || reply.result === null || typeof reply.result !== "object") return reply;
      return { ...reply, result: { ...(reply.result as object), initialblockdownload: !node.chain.synced } };
    },
  };

  return async ({ method, params, id }) => {
    const args = Array.isArray(params) ? params : [];
    try {
      const reply = await call(method as string, args, id);
      const shim = shims[method as string];
      return shim ? await shim(reply, args) : reply;
    } catch (err) {
      // bcoin's RPC turns handler errors into replies; anything thrown here is a bug in the glue.
      return errorReply(-1, `internal error: ${(err as Error).message}`, id);
    }
  };
}
