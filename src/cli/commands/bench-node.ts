/** `tbg bench-node`: a bitcoind stand-in serving recorded mainnet-size templates, for benchmarks. */
import type { Command } from "../main.ts";
import { intFlag, parseFlags } from "../args.ts";
import { UsageError } from "../../util/errors.ts";
import { BENCH_NODE_DEFAULTS, startBenchNode } from "../../tools/bench-node/bench-node.ts";

const help = `usage: tbg bench-node [--rpc-port P] [--zmq-port Z] [--txs 0|3000] [options]

A small bitcoind-compatible node for benchmarks: JSON-RPC (getblocktemplate, getblockchaininfo [chain
"main"], getbestblockhash, getblockcount, getblockhash, getblockheader, getblock, submitblock [recorded,
answers "rejected"], validateaddress [mainnet], decoderawtransaction, getrawtransaction, getmininginfo,
getnetworkinfo, getmempoolinfo, getrpcinfo, ...; positional or named params; header lines ending in CRLF
or a bare LF, as ckpool sends them) serving a recorded template with 0 or ~3,000 synthetic,
mainnet-shaped transactions and mainnet-era bits (no share is ever a block), plus a ZMQ publisher of
hashblock and rawblock in Bitcoin Core's format (the new blocks are empty: a coinbase only). A new tip is
made by the RPC method bench_newblock (or --block-every). Serves ckpool, public-pool and this engine.

options:
  --host H             interface to bind (default ${BENCH_NODE_DEFAULTS.host})
  --rpc-port P         JSON-RPC port (default: a free port, printed)
  --zmq-port Z         ZMQ hashblock + rawblock port (default: a free port, printed)
  --txs 0|3000         which recorded template to serve (default ${BENCH_NODE_DEFAULTS.txs})
  --user U --pass P    RPC basic-auth credentials (default ${BENCH_NODE_DEFAULTS.user}/${BENCH_NODE_DEFAULTS.pass})
  --block-every S      make a new block every S seconds (default: only on bench_newblock)

Runs until SIGINT/SIGTERM.`;

export const command: Command = {
  summary: "bitcoind stand-in with recorded mainnet-size templates (benchmarks)",
  help,
  async run(argv) {
    const f = parseFlags(argv, {
      host: { type: "string" },
      "rpc-port": { type: "string" },
      "zmq-port": { type: "string" },
      txs: { type: "string" },
      user: { type: "string" },
      pass: { type: "string" },
      "block-every": { type: "string" },
    });
    const txs = intFlag("txs", f.txs, BENCH_NODE_DEFAULTS.txs);
    if (txs !== 0 && txs !== 3000) throw new UsageError("--txs must be 0 or 3000");
    const blockEvery = f["block-every"] === undefined ? 0 : Number(f["block-every"]);
    if (!Number.isFinite(blockEvery) || blockEvery < 0) throw new UsageError("--block-every must be a non-negative number of seconds");
    const node = await startBenchNode({
      host: f.host,
      rpcPort: intFlag("rpc-port", f["rpc-port"], 0),
      zmqPort: intFlag("zmq-port", f["zmq-port"], 0),
      txs,
      user: f.user,
      pass: f.pass,
    });
    console.log(`bench-node: rpc ${node.rpcUrl} (user ${node.user}, pass ${node.pass}), zmq ${node.zmqUrl}, ${txs} transactions, tip ${node.chain.height} ${node.chain.bestBlockHash}`);
    const timer = blockEvery > 0 ? setInterval(() => void node.newBlock().then((h) => console.log(`bench-node: new block ${node.chain.height} ${h}`)), blockEvery * 1000) : undefined;
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    clearInterval(timer);
    await node.close();
    console.log(`bench-node: stopped (getblocktemplate calls ${node.chain.gbtCalls}, submitblock calls ${node.chain.submittedCount})`);
    return 0;
  },
};
