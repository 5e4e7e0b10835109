/**
 * Makes bcoin's regtest behave like Bitcoin Core's regtest where the pool can tell the difference.
 *
 * bcoin 1.0.2's regtest differs from Core's (src/kernel/chainparams.cpp, CRegTestParams) in ways that
 * matter to a pool:
 * 1. Address encoding: bcoin uses bech32 HRP "rb" and base58 prefixes 0x3c/0x26; Core uses "bcrt" and
 *    0x6f/0xc4 (the testnet prefixes). Miners and bitcoinjs-lib use Core's, so we switch bcoin to them.
 * 2. Soft forks: bcoin activates csv and segwit on regtest through BIP9 signalling (window 144,
 *    threshold 108), i.e. segwit is active from height 432 at the earliest. Core has CSVHeight = 1 and
 *    SegwitHeight = 0 (active from genesis). We make both ACTIVE from genesis by answering bcoin's
 *    deployment-state query for them with ACTIVE (per chain instance, see {@link activateSoftforksFromGenesis}).
 * 3. BIP34/65/66: bcoin has heights 100000000/1351/1251 (BIP34 effectively off); Core has 1/1/1. We use 1,
 *    so the coinbase height encoding (BIP34: minimal push, OP_1..OP_16 for 1..16) is enforced, as on Core.
 *
 * (1) and (3) change bcoin's process-wide `regtest` Network object: every bcoin user in this process
 * sees Core-style regtest. That is intended: bcoin is only used here, as the embedded node.
 */
import { loadBcoin, loadThresholdStates, type BcoinChain, type BcoinDeployment } from "./bcoin.ts";

/** Bitcoin Core regtest address/key prefixes (chainparams.cpp CRegTestParams, same as testnet). */
const CORE_REGTEST_ADDRESS_PREFIX = {
  pubkeyhash: 0x6f,
  scripthash: 0xc4,
  // bcoin's pre-BIP173 base58 witness prefixes (unused by Core); the testnet values keep them distinct.
  witnesspubkeyhash: 0x03,
  witnessscripthash: 0x28,
  bech32: "bcrt",
};

const CORE_REGTEST_KEY_PREFIX = {
  privkey: 0xef,
  xpubkey: 0x043587cf,
  xprivkey: 0x04358394,
  xpubkey58: "tpub",
  xprivkey58: "tprv",
  coinType: 1,
};

/** Deployments Bitcoin Core's regtest has active from the start (CSVHeight = 1, SegwitHeight = 0). */
const ACTIVE_FROM_GENESIS = new Set(["csv", "segwit"]);

/** Applies (1) and (3) above to bcoin's regtest Network. Idempotent. */
export function configureRegtestNetwork(): void {
  const network = loadBcoin().Network.get("regtest");
  // Mutate in place: bcoin's Network.by() consults the original networks.js objects, which share these.
  Object.assign(network.addressPrefix, CORE_REGTEST_ADDRESS_PREFIX);
  Object.assign(network.keyPrefix, CORE_REGTEST_KEY_PREFIX);
  network.block.bip34height = 1;
  network.block.bip65height = 1;
  network.block.bip66height = 1;
}

/**
 * Makes csv and segwit ACTIVE from genesis on this chain (must run before `chain.open()`).
 * Every consensus decision in bcoin (block checks, mempool policy, template rules and version bits,
 * getblockchaininfo) goes through `Chain#getState`, so answering it is enough.
 */
export function activateSoftforksFromGenesis(chain: BcoinChain): void {
  const { ACTIVE } = loadThresholdStates();
  const original = chain.getState.bind(chain);
  chain.getState = async (prev, deployment: BcoinDeployment) =>
    ACTIVE_FROM_GENESIS.has(deployment.name) ? ACTIVE : original(prev, deployment);
}
