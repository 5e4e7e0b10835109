/**
 * Payout address → output script, with network checks and typed refusals.
 *
 * Decoding (Base58Check, Bech32/Bech32m checksums, 5→8-bit regrouping with BIP173 padding rules)
 * uses bitcoinjs-lib's `address.fromBase58Check` / `address.fromBech32`. We do not call its
 * `toOutputScript`: its errors are untyped strings, it `console.warn`s on future witness
 * versions, and it cannot tell "wrong network" from "garbage". The scripts are the fixed templates
 * below, so no secp256k1 library is needed (a P2TR output is just `OP_1 <32-byte x-only key>`).
 *
 * Segwit rules from BIP173 + BIP350: witness version 0..16, program 2..40 bytes, v0 exactly 20 or
 * 32 bytes and Bech32, v1+ Bech32m. Signet shares testnet's prefixes (tb1, m/n, 2); regtest uses
 * bcrt1 and testnet's Base58 version bytes.
 */
import { address as bjsAddress } from "bitcoinjs-lib";
import { AddressError } from "./errors.ts";

/** Networks the pool can run on. */
export type BitcoinNetwork = "mainnet" | "testnet" | "signet" | "regtest";

/** Output types the pool pays to. */
export type AddressType = "p2pkh" | "p2sh" | "p2wpkh" | "p2wsh" | "p2tr";

/** A decoded payout address. */
export interface DecodedAddress {
  type: AddressType;
  /** scriptPubKey of an output paying to the address. */
  script: Buffer;
  /**
   * The address in its canonical spelling: Bech32/Bech32m lower-case (BIP173 accepts an all
   * upper-case spelling of the same address), Base58 as given (its case is significant). One payout
   * script, one spelling: the pool's identity of a user.
   */
  canonical: string;
}

interface NetworkPrefixes {
  bech32: string;
  pubKeyHash: number;
  scriptHash: number;
}

const PREFIXES: Record<BitcoinNetwork, NetworkPrefixes> = {
  mainnet: { bech32: "bc", pubKeyHash: 0x00, scriptHash: 0x05 },
  testnet: { bech32: "tb", pubKeyHash: 0x6f, scriptHash: 0xc4 },
  signet: { bech32: "tb", pubKeyHash: 0x6f, scriptHash: 0xc4 },
  regtest: { bech32: "bcrt", pubKeyHash: 0x6f, scriptHash: 0xc4 },
};

const NETWORKS_BY_HRP: Record<string, string> = { bc: "mainnet", tb: "testnet/signet", bcrt: "regtest" };
const NETWORKS_BY_BASE58_VERSION: Record<number, string> = {
  0x00: "mainnet",
  0x05: "mainnet",
  0x6f: "testnet/signet/regtest",
  0xc4: "testnet/signet/regtest",
};

/** Longer strings are refused before decoding (Base58 decoding is quadratic; Bech32 allows 90). */
const MAX_ADDRESS_CHARS = 100;

/**
 * Decode `address` for `network`. Throws `AddressError` with code `ADDRESS_INVALID`,
 * `ADDRESS_WRONG_NETWORK` or `ADDRESS_UNSUPPORTED`.
 */
export function decodeAddress(address: string, network: BitcoinNetwork): DecodedAddress {
  const prefixes = PREFIXES[network];
  if (!prefixes) throw new TypeError(`unknown network: ${String(network)}`);
  if (typeof address !== "string" || address.length === 0 || address.length > MAX_ADDRESS_CHARS) {
    throw new AddressError("ADDRESS_INVALID", `not a Bitcoin address: ${preview(address)}`);
  }

  let base58: { version: number; hash: Uint8Array } | undefined;
  try {
    base58 = bjsAddress.fromBase58Check(address);
  } catch {
    base58 = undefined;
  }
  if (base58) return decodeBase58(address, base58, network, prefixes);

  let bech: { version: number; prefix: string; data: Uint8Array };
  try {
    bech = bjsAddress.fromBech32(address);
  } catch (err) {
    throw new AddressError("ADDRESS_INVALID", `not a valid Bitcoin address (bad checksum or encoding): ${preview(address)}`, {
      cause: err,
    });
  }
  return decodeSegwit(address, bech, network, prefixes);
}

function decodeBase58(
  address: string,
  decoded: { version: number; hash: Uint8Array },
  network: BitcoinNetwork,
  prefixes: NetworkPrefixes,
): DecodedAddress {
  const hash = Buffer.from(decoded.hash);
  if (decoded.version === prefixes.pubKeyHash) {
    return { type: "p2pkh", script: Buffer.concat([Buffer.from([0x76, 0xa9, 0x14]), hash, Buffer.from([0x88, 0xac])]), canonical: address };
  }
  if (decoded.version === prefixes.scriptHash) {
    return { type: "p2sh", script: Buffer.concat([Buffer.from([0xa9, 0x14]), hash, Buffer.from([0x87])]), canonical: address };
  }
  const other = NETWORKS_BY_BASE58_VERSION[decoded.version];
  if (other) {
    throw new AddressError("ADDRESS_WRONG_NETWORK", `${address} is a ${other} address; this pool runs on ${network}`);
  }
  throw new AddressError("ADDRESS_INVALID", `${address} has an unknown Base58 version byte ${decoded.version}`);
}

function decodeSegwit(
  address: string,
  decoded: { version: number; prefix: string; data: Uint8Array },
  network: BitcoinNetwork,
  prefixes: NetworkPrefixes,
): DecodedAddress {
  const { version, prefix } = decoded;
  const program = Buffer.from(decoded.data);
  // BIP350 decode(): these make the string "not a segwit address" at all.
  if (!Number.isInteger(version) || version < 0 || version > 16) {
    throw new AddressError("ADDRESS_INVALID", `${address} has an invalid witness version`);
  }
  if (program.length < 2 || program.length > 40) {
    throw new AddressError("ADDRESS_INVALID", `${address} has an invalid witness program length ${program.length}`);
  }
  if (version === 0 && program.length !== 20 && program.length !== 32) {
    throw new AddressError("ADDRESS_INVALID", `${address}: witness v0 program must be 20 or 32 bytes (BIP141)`);
  }
  const other = NETWORKS_BY_HRP[prefix];
  if (!other) throw new AddressError("ADDRESS_INVALID", `${address} has an unknown prefix "${prefix}"`);
  if (prefix !== prefixes.bech32) {
    throw new AddressError("ADDRESS_WRONG_NETWORK", `${address} is a ${other} address; this pool runs on ${network}`);
  }
  const script = Buffer.concat([Buffer.from([version === 0 ? 0x00 : 0x50 + version, program.length]), program]);
  const canonical = address.toLowerCase();
  if (version === 0) return { type: program.length === 20 ? "p2wpkh" : "p2wsh", script, canonical };
  if (version === 1 && program.length === 32) return { type: "p2tr", script, canonical };
  // Valid per BIP350 but undefined on the network: coins sent there could be lost.
  throw new AddressError(
    "ADDRESS_UNSUPPORTED",
    `${address} is a witness v${version} address with a ${program.length}-byte program, which the pool does not pay to`,
  );
}

/** scriptPubKey paying to `address` on `network` (P2PKH, P2SH, P2WPKH, P2WSH, P2TR). Throws `AddressError`. */
export function addressToOutputScript(address: string, network: BitcoinNetwork): Buffer {
  return decodeAddress(address, network).script;
}

/** The output type of `address` on `network`. Throws `AddressError`. */
export function addressType(address: string, network: BitcoinNetwork): AddressType {
  return decodeAddress(address, network).type;
}

/** True when `address` decodes for `network` to a supported type. */
export function isValidAddress(address: string, network: BitcoinNetwork): boolean {
  try {
    decodeAddress(address, network);
    return true;
  } catch (err) {
    if (err instanceof AddressError) return false;
    throw err;
  }
}

function preview(s: unknown): string {
  const text = typeof s === "string" ? s : String(s);
  return JSON.stringify(text.length > 100 ? text.slice(0, 100) + "…" : text);
}
