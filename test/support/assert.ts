/** Assertions shared by test files. */
import assert from "node:assert/strict";
import { TbgError } from "../../src/util/errors.ts";

/** Awaits `promise`, asserts it rejects with a TbgError of `code` (errors are API: codes, not text), returns it. */
export async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<TbgError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof TbgError, `expected a TbgError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected rejection with ${code}`);
}
