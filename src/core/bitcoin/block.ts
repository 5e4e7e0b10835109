/**
 * Block serialisation for `submitblock`: header ‖ CompactSize(tx count) ‖ coinbase ‖ GBT `data`…
 * The coinbase carries its witness (see `coinbaseTxWithWitness`) when the block has a witness
 * commitment; the other transactions are GBT `data` verbatim (already witness-serialised).
 */
import { encodeCompactSize } from "./varint.ts";
import { HEADER_SIZE } from "./header.ts";

export { encodeCompactSize, decodeCompactSize } from "./varint.ts";

/**
 * Hex of the full block. `coinbaseTx` is the coinbase as it must appear in the block (with the
 * witness reserved value if the template had `default_witness_commitment`); `txDataHex` are the
 * template's `transactions[].data` in template order.
 */
export function serializeBlock(header: Buffer, coinbaseTx: Buffer, txDataHex: string[]): string {
  if (header.length !== HEADER_SIZE) throw new RangeError(`header must be ${HEADER_SIZE} bytes`);
  if (coinbaseTx.length === 0) throw new RangeError("empty coinbase transaction");
  const parts: string[] = [
    header.toString("hex"),
    encodeCompactSize(txDataHex.length + 1).toString("hex"),
    coinbaseTx.toString("hex"),
  ];
  for (const data of txDataHex) {
    if (data.length % 2 !== 0) throw new TypeError("transaction data hex has odd length");
    parts.push(data);
  }
  return parts.join("");
}
