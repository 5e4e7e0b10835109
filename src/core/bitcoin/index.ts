/** Pure Bitcoin consensus code: hashes, merkle trees, coinbase, header, targets, addresses, blocks. */
export * from "./hash.ts";
export * from "./merkle.ts";
export * from "./script-number.ts";
export * from "./varint.ts";
export * from "./coinbase.ts";
export * from "./header.ts";
export * from "./difficulty.ts";
export * from "./address.ts";
export { serializeBlock } from "./block.ts";
export * from "./errors.ts";
