/**
 * Error classes of the bitcoin layer (a subclass per failure mode, stable `code`).
 * Programmer errors (wrong Buffer length passed by our own code) stay RangeError/TypeError.
 */
import { TbgError } from "../../util/errors.ts";

/** Codes of {@link AddressError}. */
export type AddressErrorCode = "ADDRESS_INVALID" | "ADDRESS_WRONG_NETWORK" | "ADDRESS_UNSUPPORTED";

/**
 * A payout address was refused.
 * - `ADDRESS_INVALID`: not an address at all (bad checksum, bad characters, bad length, mixed case…).
 * - `ADDRESS_WRONG_NETWORK`: a valid address of another network; the message names both networks.
 * - `ADDRESS_UNSUPPORTED`: well-formed but of a kind we do not pay to (e.g. witness version 2..16).
 */
export class AddressError extends TbgError {
  declare readonly code: AddressErrorCode;
  constructor(code: AddressErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * A consensus value from outside (template, config) is out of range: `NBITS_INVALID` (negative or
 * overflowing compact target), `DIFFICULTY_INVALID` (not a finite positive number),
 * `COINBASE_INVALID` (coinbase cannot be built within consensus limits), `HEIGHT_INVALID`.
 */
export class BitcoinValueError extends TbgError {}
