/** Deterministic regtest addresses of all five output types, for end-to-end tests. */
import { address as baddress, networks } from "bitcoinjs-lib";
import { createHash } from "node:crypto";

const h = (s: string, n: number) => createHash("sha256").update(s).digest().subarray(0, n);

export const REGTEST_ADDRESSES = {
  p2pkh: baddress.toBase58Check(h("p2pkh", 20), networks.regtest.pubKeyHash),
  p2sh: baddress.toBase58Check(h("p2sh", 20), networks.regtest.scriptHash),
  p2wpkh: baddress.toBech32(h("p2wpkh", 20), 0, "bcrt"),
  p2wsh: baddress.toBech32(h("p2wsh", 32), 0, "bcrt"),
  // Any 32-byte x-only key is a valid P2TR output for address purposes.
  p2tr: baddress.toBech32(h("p2tr", 32), 1, "bcrt"),
} as const;

export type AddressKind = keyof typeof REGTEST_ADDRESSES;

/** Mainnet addresses (the bench node reports chain "main"). */
export const MAINNET_ADDRESSES = {
  p2wpkh: baddress.toBech32(h("p2wpkh", 20), 0, "bc"),
  p2tr: baddress.toBech32(h("p2tr", 32), 1, "bc"),
  p2pkh: baddress.toBase58Check(h("p2pkh", 20), networks.bitcoin.pubKeyHash),
} as const;
