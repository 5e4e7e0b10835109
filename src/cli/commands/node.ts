/**
 * `tbg node`: the embedded regtest node (bcoin) on its own, for pointing a separately started
 * `tbg pool` (or any bitcoind client) at it. Composition root for src/tools/regtest-node.
 */
import type { Command } from "../main.ts";
import { intFlag, parseFlags } from "../args.ts";
import { UsageError } from "../../util/errors.ts";
import { startEmbeddedNode, type EmbeddedNodeOptions } from "../../tools/regtest-node/embedded-node.ts";
import { untilStopSignal } from "../signals.ts";

const LOG_LEVELS = ["none", "error", "warning", "info", "debug"] as const;

const help = `usage: tbg node [options]

Runs the embedded regtest node standalone: bcoin in memory (csv and segwit active from genesis,
Bitcoin Core's regtest address prefixes), bitcoind-compatible JSON-RPC over HTTP with basic auth,
and a ZMQ socket publishing hashblock in Bitcoin Core's format. Ctrl-C (SIGINT) or SIGTERM stops it.

options:
  --rpc-port N       JSON-RPC port (default 18443; 0 = any free port)
  --zmq-port N       ZMQ hashblock port (default 28332; 0 = any free port)
  --user U           RPC user (default tbg)
  --pass P           RPC password (default: random, printed)
  --host H           interface for RPC, ZMQ and P2P (default 127.0.0.1)
  --data-dir DIR     keep the chain on disk in DIR instead of memory
  --listen           accept P2P connections (from another tbg node with --peer)
  --p2p-port N       P2P listen port (implies --listen; default: a free port)
  --peer HOST:PORT   connect to this P2P peer (repeatable)
  --mine N           mine N blocks to the node's own address at start (e.g. 101 for spendable coins)
  --log-level L      bcoin's console log: none (default), error, warning, info, debug`;

export const command: Command = {
  summary: "run the embedded regtest node (bcoin) with bitcoind-style RPC and ZMQ",
  help,
  async run(argv) {
    const f = parseFlags(argv, {
      "rpc-port": { type: "string" },
      "zmq-port": { type: "string" },
      user: { type: "string" },
      pass: { type: "string" },
      host: { type: "string" },
      "data-dir": { type: "string" },
      listen: { type: "boolean" },
      "p2p-port": { type: "string" },
      peer: { type: "string", multiple: true },
      mine: { type: "string" },
      "log-level": { type: "string" },
    });
    const logLevel = (f["log-level"] as string | undefined) ?? "none";
    if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}`);
    const p2pPortFlag = f["p2p-port"] as string | undefined;
    const opts: EmbeddedNodeOptions = {
      rpcPort: intFlag("rpc-port", f["rpc-port"] as string | undefined, 18443),
      zmqPort: intFlag("zmq-port", f["zmq-port"] as string | undefined, 28332),
      user: (f.user as string | undefined) ?? "tbg",
      pass: f.pass as string | undefined,
      rpcHost: (f.host as string | undefined) ?? "127.0.0.1",
      dataDir: f["data-dir"] as string | undefined,
      listen: Boolean(f.listen) || p2pPortFlag !== undefined,
      p2pPort: p2pPortFlag === undefined ? undefined : intFlag("p2p-port", p2pPortFlag, 0),
      peers: (f.peer as string[] | undefined) ?? [],
      logLevel: logLevel as EmbeddedNodeOptions["logLevel"],
      onError: (err) => console.error(`tbg node: ${err.message}`),
    };
    const premine = intFlag("mine", f.mine as string | undefined, 0);

    const node = await startEmbeddedNode(opts);
    try {
      if (premine > 0) await node.mine(premine);
    } catch (err) {
      await node.close();
      throw err;
    }
    const u = new URL(node.rpcUrl);
    console.log(
      [
        "embedded regtest node (bcoin) running",
        `  RPC:    ${node.rpcUrl}   user=${node.rpcUser} pass=${node.rpcPass}`,
        `  ZMQ:    ${node.zmqUrl}   (hashblock)`,
        node.p2pPort !== null ? `  P2P:    ${u.hostname}:${node.p2pPort}   (tbg node --peer ${u.hostname}:${node.p2pPort})` : "  P2P:    not listening",
        `  height: ${node.height()}   tip: ${node.tipHash()}`,
        `  coins:  ${node.address} (the node's own key; mined blocks pay it)`,
        "",
        "pool config (btcd entry):",
        `  {"url": "${u.hostname}:${u.port}", "auth": "${node.rpcUser}", "pass": "${node.rpcPass}", "zmqnotify": "${node.zmqUrl}"}`,
        "",
        "Ctrl-C to stop.",
      ].join("\n"),
    );

    await untilStopSignal();
    console.log("stopping the embedded node");
    await node.close();
    return 0;
  },
};
