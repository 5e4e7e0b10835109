/**
 * Safety of the event socket's directory. Whoever can write to the directory holding the socket can
 * unlink it and bind their own in its place, and then receives every event (payout addresses, miner
 * IPs) while the real reader keeps reading a socket nobody sends to. So both ends refuse:
 * - a socket directory owned by another user (root excepted): e.g. `/tmp/ckpool` created first by
 *   someone else;
 * - a directory on the path that every user can write without the sticky bit (with the sticky bit, as
 *   on `/tmp`, only a file's owner may unlink or rename it).
 * Group write is allowed: a directory shared by the pool's and the collector's users through a group
 * (`/run/tbg` as root:tbg 0770) is the intended deployment. Directories are created 0750 when missing.
 */
import { lstat, mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { TbgError } from "../../util/errors.ts";

/** The socket's directory (or one above it) lets another user replace the socket. */
export class EventSocketDirUnsafeError extends TbgError {
  constructor(message: string) {
    super("EVENTS_SOCKET_DIR_UNSAFE", message);
  }
}

/** Creates the socket's directory if missing (0750), then {@link checkSocketDir}. */
export async function prepareSocketDir(socketPath: string): Promise<void> {
  await mkdir(dirname(resolve(socketPath)), { recursive: true, mode: 0o750 });
  await checkSocketDir(socketPath);
}

/** Throws {@link EventSocketDirUnsafeError} naming the directory and what to do, when it is unsafe. */
export async function checkSocketDir(socketPath: string, euid = process.geteuid?.() ?? 0): Promise<void> {
  const dir = dirname(resolve(socketPath));
  const own = await lstat(dir);
  if (own.uid !== euid && own.uid !== 0) {
    throw new EventSocketDirUnsafeError(
      `event socket directory ${dir} is owned by uid ${own.uid}, not by this user (uid ${euid}) or root: another user could replace the socket and read every event; use a directory this user owns (e.g. data_dir, or /run/tbg)`,
    );
  }
  for (let d = dir; ; d = dirname(d)) {
    const st = d === dir ? own : await lstat(d);
    if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) {
      throw new EventSocketDirUnsafeError(
        `${d} (on the event socket's path) is writable by every user without the sticky bit: another user could replace the socket; chmod o-w ${d} or choose another directory`,
      );
    }
    if (dirname(d) === d) break;
  }
}
