/**
 * Every error code the engine, the pipeline and the tools report, with what an operator should do about
 * it. `TbgError` takes only these codes (a new code must be added here, and to docs/errors.md, which a
 * test keeps in step); the CLI prints the hint under the error.
 */
export const ERROR_CATALOGUE = {
  // ---- command line and configuration
  USAGE: { area: "cli", hint: "Fix the command line; `tbg <command> --help` lists the options." },
  CONFIG_READ: { area: "config", hint: "Check that the config file exists, is readable by this user, and is UTF-8 JSON." },
  CONFIG_INVALID: { area: "config", hint: "Fix the named key (docs/configuration.md lists every key, its type and default)." },
  USER_SETTINGS_READ: { area: "config", hint: "Check `user_settings_file`: it must exist and be readable; the previous settings stay in force." },
  USER_SETTINGS_INVALID: { area: "config", hint: "Fix the named entry of `user_settings_file` (docs/operations.md); the previous settings stay in force." },
  START_CANCELLED: { area: "lifecycle", hint: "None: start-up was stopped on purpose (a stop signal or close() during start-up)." },

  // ---- listening sockets (Stratum, /health, the collector's HTTP, the embedded node)
  PORT_IN_USE: { area: "listen", hint: "Another program holds that port: stop it (`ss -ltnp` shows which) or change the setting the message names." },
  LISTEN_DENIED: { area: "listen", hint: "Ports below 1024 need privileges: use a higher port, or grant CAP_NET_BIND_SERVICE to node." },
  LISTEN_ADDRESS: { area: "listen", hint: "That host is not an address of this machine: use 0.0.0.0, 127.0.0.1 or one of its interface addresses." },
  LISTEN_FAILED: { area: "listen", hint: "Read the system error in the message; check the host and port of the setting it names." },

  // ---- bitcoind (JSON-RPC and ZMQ)
  RPC_URL_INVALID: { area: "bitcoind", hint: "Fix the node's `url` in `btcd`: host:port or http://host:port." },
  RPC_TIMEOUT: { area: "bitcoind", hint: "The node is slow or unreachable: check it is synced and not overloaded; the pool tries the next node meanwhile." },
  RPC_CONNECT: { area: "bitcoind", hint: "Nothing answers at the node's address: check bitcoind runs, `rpcbind`/`rpcallowip`, and firewalls." },
  RPC_AUTH: { area: "bitcoind", hint: "The node refused the credentials: check `auth`/`pass` (rpcuser/rpcpassword) or the cookie file path and its permissions." },
  RPC_HTTP: { area: "bitcoind", hint: "The node answered with an HTTP error: check the URL points at bitcoind's RPC port." },
  RPC_BAD_RESPONSE: { area: "bitcoind", hint: "Something other than bitcoind answered: check the URL and port." },
  RPC_REMOTE: { area: "bitcoind", hint: "bitcoind refused the call: read its message (e.g. still in initial block download, or -blocksonly)." },
  NETWORK_UNKNOWN: { area: "bitcoind", hint: "Set `network` in the config (mainnet, testnet, signet, regtest)." },
  NODES_BEHIND: { area: "bitcoind", hint: "Every node that answered is behind the chain the pool mines: let them sync or add a synced node." },
  NODE_STALLED: { area: "bitcoind", hint: "The node stopped answering within the stall limit: check its load and disk; the pool fails over meanwhile." },
  TEMPLATE_INVALID: { area: "bitcoind", hint: "The node sent a block template the pool cannot use: check the node's version and its `-blockmaxweight` settings." },
  ZMQ_ENDPOINT: { area: "bitcoind", hint: "Fix `zmqnotify`: tcp://host:port as in bitcoind's -zmqpubhashblock." },
  ZMQ_CLOSED: { area: "bitcoind", hint: "None: the ZMQ socket was closed during shutdown." },
  ZMQ_BIND: { area: "bitcoind", hint: "The ZMQ port is taken: stop the other process or choose another --node-zmq-port." },
  ZMQ_WAIT_TIMEOUT: { area: "bitcoind", hint: "No subscriber connected in time: check the pool's `zmqnotify` points at this endpoint." },

  // ---- bitcoin values
  ADDRESS_INVALID: { area: "bitcoin", hint: "Use a valid Bitcoin address as the username (ADDRESS.worker) or `btcaddress`." },
  ADDRESS_WRONG_NETWORK: { area: "bitcoin", hint: "Use an address of the pool's network (the message names both networks)." },
  ADDRESS_UNSUPPORTED: { area: "bitcoin", hint: "Use a P2PKH, P2SH, P2WPKH, P2WSH or P2TR address." },
  NBITS_INVALID: { area: "bitcoin", hint: "The node sent an impossible target: check the node." },
  DIFFICULTY_INVALID: { area: "bitcoin", hint: "Use a finite positive difficulty (`mindiff`, `startdiff`, `maxdiff`)." },
  COINBASE_INVALID: { area: "bitcoin", hint: "Shorten `btcsig` or the user signature: the coinbase script is limited to 100 bytes." },
  HEIGHT_INVALID: { area: "bitcoin", hint: "The node sent an impossible height: check the node." },

  // ---- Stratum
  EXTRANONCE_EXHAUSTED: { area: "stratum", hint: "Every extranonce1 value is in use: raise `nonce1length` or lower `maxclients`." },

  // ---- records and storage
  RECORDS_STORE: { area: "records", hint: "Check `data_dir` is writable and the disk has room; records stay in memory and are retried." },
  EVENTS_CONFIG_INVALID: { area: "events", hint: "Fix the named `events.*` key (docs/events.md)." },
  EVENTS_SOCKET_BIND: { area: "events", hint: "Check the socket's directory exists and is writable, and the path is under 108 bytes." },
  EVENTS_SOCKET_DIR_UNSAFE: { area: "events", hint: "The socket's directory is writable by others: use a directory only the pool's user (and the reader's group) can write, e.g. under data_dir or /run/tbg." },
  NATS_OPTIONS_INVALID: { area: "events", hint: "Fix the named NATS option (servers, credentials, TLS files; docs/configuration.md)." },
  EVENTS_SOCKET_IN_USE: { area: "events", hint: "Another reader (a second collector or publisher?) owns that socket: stop it or use another path." },
  MIGRATION_INVALID_FILE: { area: "storage", hint: "A file in migrations/ is misnamed or unreadable: restore it from the release." },
  MIGRATION_CHECKSUM_MISMATCH: { area: "storage", hint: "An applied migration file was edited: restore the original file; never edit applied migrations." },
  MIGRATION_DB_AHEAD: { area: "storage", hint: "The database was migrated by a newer release: run that release (or newer)." },
  MIGRATION_FAILED: { area: "storage", hint: "Read the SQL error in the message; the migration was rolled back, fix the cause and restart." },
  STORE_UNAVAILABLE: { area: "storage", hint: "The database is unreachable: check PostgreSQL runs and the URL; events wait in the batch and are retried." },
  STORE_DATA_REJECTED: { area: "storage", hint: "The database refused a batch's data: read the message; the events are logged and skipped." },
  STORE_CLOSED: { area: "storage", hint: "None: the store was closed during shutdown." },

  // ---- collector and NATS
  COLLECTOR_CONFIG_INVALID: { area: "collector", hint: "Fix the named collector option or config key (docs/collector.md)." },
  COLLECTOR_NO_INPUT: { area: "collector", hint: "Give the collector an input: --socket and/or --nats-url." },
  NATS_CONSUMER_LOST: { area: "collector", hint: "The JetStream consumer was deleted: the collector recreates it; check nobody deletes it by hand." },

  MONITOR_CONFIG_INVALID: { area: "tools", hint: "Fix the named key of the monitor's config (docs/operations.md, `tbg monitor --help`)." },

  STATUS_UNAVAILABLE: { area: "tools", hint: "`tbg status` could not read the pool's /api/status: check the URL, that the pool runs, and `health.status_page`." },

  // ---- tools: embedded node, miner, bench, Stratum client
  EMBEDDED_NODE: { area: "tools", hint: "Read the message; free the ports the embedded node needs or pass others (--node-rpc-port, --node-zmq-port)." },
  EMBEDDED_WALLET: { area: "tools", hint: "The embedded node's wallet failed: restart `tbg node`/`tbg dev` (its chain is in memory)." },
  CLIENT_BAD_URL: { area: "tools", hint: "Use stratum+tcp://host:port." },
  CLIENT_CONNECT_FAILED: { area: "tools", hint: "Nothing answers at the pool URL: check the pool runs and the port." },
  CLIENT_REQUEST_TIMEOUT: { area: "tools", hint: "The pool did not answer in time: check its load and logs." },
  CLIENT_CONNECTION_CLOSED: { area: "tools", hint: "The pool closed the connection: read the pool's log for the reason (ban, limit, shutdown)." },
  CLIENT_PROTOCOL: { area: "tools", hint: "The pool sent something that is not Stratum V1: check the URL." },
  CLIENT_LINE_TOO_LONG: { area: "tools", hint: "The pool sent an over-long line: check the URL points at a Stratum port." },
  CLIENT_SUBSCRIBE_FAILED: { area: "tools", hint: "The pool refused mining.subscribe: read its error message." },
  CLIENT_AUTHORIZE_FAILED: { area: "tools", hint: "The pool refused the username: use ADDRESS.worker with an address of the pool's network." },
  MINER_BAD_PROFILE: { area: "tools", hint: "Use one of the profiles `tbg miner --help` lists." },
  MINER_STOPPED: { area: "tools", hint: "None: the miner was stopped." },
  MINER_WAIT_TIMEOUT: { area: "tools", hint: "The miner saw no work in time: check the pool has a template (its /health)." },
  BENCH_BAD_OPTION: { area: "tools", hint: "Fix the named option (`tbg bench --help`)." },

  // ---- regional relays (docs/relay-protocol.md)
  RELAY_VERSION: { area: "relay", hint: "The relay and the primary speak different relay protocol versions: upgrade the older side (docs/relay-protocol.md)." },
  RELAY_FRAME_TYPE: { area: "relay", hint: "A peer sent a frame type this version does not know: check that what connects to the relay ports is a tbg relay or primary of the same version." },
  RELAY_FRAME_TOO_LARGE: { area: "relay", hint: "A relay frame exceeded the limit (4 KiB before authentication, 16 MiB after) or inflated beyond it: check what connects to the relay ports; a real template is far smaller." },
  RELAY_COMPRESSED_BEFORE_AUTH: { area: "relay", hint: "A peer sent a compressed frame before authenticating; a relay sends its Hello uncompressed: check what connects to the relay ports, or upgrade the relay." },
  RELAY_BAD_PAYLOAD: { area: "relay", hint: "A relay frame's payload did not inflate or was not a JSON object: check what connects to the relay ports (a proxy or scanner, not a tbg peer)." },
  RELAY_PROTOCOL_CLOSED: { area: "relay", hint: "None: a relay connection is closed after a protocol error and reconnects." },
  RELAY_SERVER_LISTEN: { area: "relay", hint: "The relay server could not bind: free the port or change `relay_server.port` / `relay_server.template_push_port`." },
  PRIMARY_UNREACHABLE: { area: "relay", hint: "The relay's control connection to the primary is down: the block went to the local node only; check `primary.host`/`primary.port` and the inter-region link. In a Stratum worker process (`workers`) the block is sent again until the loopback link is back (up to `job_expiry_sec`); still failing: check the primary process's log." },
  VALUE_TOO_DEEP: { area: "events", hint: "An event nests values deeper than the collector walks (64 levels): it is refused as malformed; fix the producer." },
  PRIMARY_TIMEOUT: { area: "relay", hint: "The primary did not answer a block submission in time (a relay waits 10 s, a Stratum worker process 30 s): on a relay the local node's answer decides; check the primary's load and the inter-region link (for a worker, the primary process's log: its nodes may still accept the block)." },
} as const satisfies Record<string, { area: string; hint: string }>;

/** A stable error code; see {@link ERROR_CATALOGUE} and docs/errors.md. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** What the operator should do about `code` (undefined for a code not in the catalogue). */
export function hintFor(code: string): string | undefined {
  return (ERROR_CATALOGUE as Record<string, { hint: string }>)[code]?.hint;
}
