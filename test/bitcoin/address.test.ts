import { test } from "node:test";
import assert from "node:assert/strict";
import { address as bjs } from "bitcoinjs-lib";
import {
  addressToOutputScript,
  addressType,
  decodeAddress,
  isValidAddress,
  type BitcoinNetwork,
  type AddressType,
} from "../../src/core/bitcoin/address.ts";
import { AddressError, type AddressErrorCode } from "../../src/core/bitcoin/errors.ts";

const NETWORKS: BitcoinNetwork[] = ["mainnet", "testnet", "signet", "regtest"];

function assertRefused(addr: string, network: BitcoinNetwork, code: AddressErrorCode): AddressError {
  let caught: unknown;
  try {
    addressToOutputScript(addr, network);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AddressError, `${JSON.stringify(addr)} on ${network} should throw AddressError`);
  assert.equal(caught.code, code, `${JSON.stringify(addr)} on ${network}: ${caught.message}`);
  return caught;
}

// BIP173 "Test vectors" and BIP350 "Test vectors for v0-v16 native segregated witness addresses".
// Witness v0 valid vectors (identical in both BIPs) with their scriptPubKeys.
const V0_VALID: Array<[string, BitcoinNetwork, string, AddressType]> = [
  ["BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "mainnet", "0014751e76e8199196d454941c45d1b3a323f1433bd6", "p2wpkh"],
  [
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
    "testnet",
    "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    "p2wsh",
  ],
  [
    "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
    "testnet",
    "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    "p2wsh",
  ],
];

test("BIP173/BIP350 valid witness v0 addresses map to their scriptPubKeys", () => {
  for (const [addr, network, scriptHex, type] of V0_VALID) {
    assert.equal(addressToOutputScript(addr, network).toString("hex"), scriptHex, addr);
    assert.equal(addressType(addr, network), type);
  }
  // Signet shares testnet's tb1 prefix.
  assert.equal(addressType(V0_VALID[1][0], "signet"), "p2wsh");
});

test("BIP350 valid v1 32-byte addresses are P2TR", () => {
  const cases: Array<[string, BitcoinNetwork, string]> = [
    [
      "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
      "testnet",
      "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ],
    [
      "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
      "mainnet",
      "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ],
  ];
  for (const [addr, network, scriptHex] of cases) {
    assert.deepEqual(decodeAddress(addr, network), { type: "p2tr", script: Buffer.from(scriptHex, "hex"), canonical: addr.toLowerCase() });
  }
});

test("BIP350 valid addresses of undefined witness programs are refused as ADDRESS_UNSUPPORTED", () => {
  for (const addr of [
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", // v1, 40 bytes
    "BC1SW50QGDZ25J", // v16, 2 bytes
    "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", // v2, 16 bytes
  ]) {
    assertRefused(addr, "mainnet", "ADDRESS_UNSUPPORTED");
  }
});

test("BIP173's bech32-encoded v1+ addresses are invalid since BIP350 (bech32m required)", () => {
  for (const addr of [
    "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
    "BC1SW50QA3JX3S",
    "bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj",
  ]) {
    assertRefused(addr, "mainnet", "ADDRESS_INVALID");
  }
});

const BIP173_INVALID = [
  "tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", // invalid human-readable part
  "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", // invalid checksum
  "BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", // invalid witness version
  "bc1rw5uspcuh", // invalid program length
  "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90", // invalid program length
  "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", // invalid program length for witness v0
  "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", // mixed case
  "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", // zero padding of more than 4 bits
  "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", // non-zero padding in 8-to-5 conversion
  "bc1gmk9yu", // empty data section
];

const BIP350_INVALID = [
  "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", // invalid human-readable part
  "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", // bech32 instead of bech32m
  "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", // bech32 instead of bech32m
  "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", // bech32 instead of bech32m
  "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", // bech32m instead of bech32
  "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", // bech32m instead of bech32
  "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", // invalid character in checksum
  "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", // invalid witness version
  "bc1pw5dgrnzv", // invalid program length (1 byte)
  "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav", // 41 bytes
  "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", // invalid program length for witness v0
  "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", // mixed case
  "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", // zero padding of more than 4 bits
  "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", // non-zero padding in 8-to-5 conversion
  "bc1gmk9yu", // empty data section
];

// BIP350 "Test vectors for Bech32m": valid Bech32m strings that are not segwit addresses, and invalid strings.
const NOT_ADDRESSES = [
  "A1LQFN3A",
  "a1lqfn3a",
  "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
  "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
  "?1v759aa",
  "\x201xj0phk",
  "\x7f1g6xzxy",
  "\x801vctc34",
  "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
  "qyrz8wqd2c9m",
  "1qyrz8wqd2c9m",
  "y1b0jsk6g",
  "lt1igcx5c0",
  "in1muywd",
  "mm1crxm3i",
  "au1s5cgom",
  "M1VUXWEZ",
  "16plkw9",
  "1p2gdwpf",
];

test("BIP173 and BIP350 invalid addresses and non-address strings are ADDRESS_INVALID on every network", () => {
  for (const addr of [...BIP173_INVALID, ...BIP350_INVALID, ...NOT_ADDRESSES]) {
    for (const network of NETWORKS) assertRefused(addr, network, "ADDRESS_INVALID");
  }
});

// One fixed payload per type, encoded for each network with bitcoinjs-lib's encoders.
const HASH20 = Buffer.from("751e76e8199196d454941c45d1b3a323f1433bd6", "hex");
const HASH32 = Buffer.from("1863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262", "hex");
const XONLY = Buffer.from("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", "hex");
const PARAMS: Record<BitcoinNetwork, { hrp: string; pkh: number; sh: number }> = {
  mainnet: { hrp: "bc", pkh: 0x00, sh: 0x05 },
  testnet: { hrp: "tb", pkh: 0x6f, sh: 0xc4 },
  signet: { hrp: "tb", pkh: 0x6f, sh: 0xc4 },
  regtest: { hrp: "bcrt", pkh: 0x6f, sh: 0xc4 },
};

function addressesFor(network: BitcoinNetwork): Array<[AddressType, string, string]> {
  const p = PARAMS[network];
  return [
    ["p2pkh", bjs.toBase58Check(HASH20, p.pkh), `76a914${HASH20.toString("hex")}88ac`],
    ["p2sh", bjs.toBase58Check(HASH20, p.sh), `a914${HASH20.toString("hex")}87`],
    ["p2wpkh", bjs.toBech32(HASH20, 0, p.hrp), `0014${HASH20.toString("hex")}`],
    ["p2wsh", bjs.toBech32(HASH32, 0, p.hrp), `0020${HASH32.toString("hex")}`],
    ["p2tr", bjs.toBech32(XONLY, 1, p.hrp), `5120${XONLY.toString("hex")}`],
  ];
}

test("each of the five types decodes on each of the four networks", () => {
  for (const network of NETWORKS) {
    for (const [type, addr, scriptHex] of addressesFor(network)) {
      assert.deepEqual(decodeAddress(addr, network), { type, script: Buffer.from(scriptHex, "hex"), canonical: type.startsWith("p2w") || type === "p2tr" ? addr.toLowerCase() : addr }, `${network} ${type}`);
      assert.equal(isValidAddress(addr, network), true);
    }
  }
  // Well-known mainnet addresses: the genesis block's P2PKH payout.
  assert.equal(
    addressToOutputScript("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "mainnet").toString("hex"),
    "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac",
  );
  const prefixes = addressesFor("regtest").map(([, a]) => a.slice(0, 5));
  assert.ok(prefixes.slice(2).every((p) => p === "bcrt1"));
});

test("an address of another network is ADDRESS_WRONG_NETWORK and the message names both networks", () => {
  // Base58 prefixes are shared by testnet, signet and regtest; bech32 hrps differ.
  const compatible = (a: BitcoinNetwork, b: BitcoinNetwork, type: AddressType): boolean =>
    a === b ||
    (a !== "mainnet" && b !== "mainnet" && (type === "p2pkh" || type === "p2sh")) ||
    (PARAMS[a].hrp === PARAMS[b].hrp);
  for (const from of NETWORKS) {
    for (const [type, addr] of addressesFor(from)) {
      for (const to of NETWORKS) {
        if (compatible(from, to, type)) {
          assert.equal(addressType(addr, to), type, `${from} ${type} on ${to}`);
          continue;
        }
        const err = assertRefused(addr, to, "ADDRESS_WRONG_NETWORK");
        assert.match(err.message, new RegExp(to));
        assert.match(err.message, new RegExp(from === "signet" ? "testnet/signet" : from));
      }
    }
  }
});

test("bad checksums and garbage are ADDRESS_INVALID", () => {
  const bad = [
    "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", // Base58Check checksum
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", // bech32 checksum
    "",
    "hello",
    "0x751e76e8199196d454941c45d1b3a323f1433bd6",
    " 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    "1".repeat(500),
    bjs.toBase58Check(HASH20, 0x30), // valid Base58Check, unknown version byte (Litecoin)
    "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ", // WIF private key, not an address
  ];
  for (const addr of bad) assertRefused(addr, "mainnet", "ADDRESS_INVALID");
  assert.equal(isValidAddress("hello", "mainnet"), false);
});

test("the canonical spelling of a bech32 address is lower-case (an upper-case one is the same address); Base58 keeps its case", () => {
  const lower = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
  const upper = decodeAddress(lower.toUpperCase(), "mainnet");
  assert.equal(upper.canonical, lower);
  assert.deepEqual(upper.script, decodeAddress(lower, "mainnet").script);
  assert.equal(decodeAddress("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "mainnet").canonical, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2");
});
