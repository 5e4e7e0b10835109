/**
 * Safety of the event socket's directory. Whoever can write to the directory holding the socket can
 * unlink it and bind their own in its place, and then receives every event (payout addresses, miner
 * IPs) while the real reader keeps reading a socket nobody sends to. So both ends refuse:
 * - a socket directory owned by another user (root excepted): e.g. `/tmp/ckpool` created first by
 *   someone else;
 * - a socket directory that every user can write, sticky bit or not (`/tmp`, `/dev/shm`: another user
 *   can bind the name first);
 * - a directory above it that every user can write without the sticky bit (with the sticky bit, as
 *   on `/tmp`, only a file's owner may unlink or rename it).
 * Symlinked components are resolved first and the real directories checked.
 * The engine's sink also checks, before each send, that the path is a socket of this user or root.
 * Group write is allowed: a directory shared by the pool's and the collector's users through a group
 * (`/run/tbg` as root:tbg 0770) is the intended deployment. Directories are created 0750 when missing.
 */
import { lstatSync } from "node:fs";
import { lstat, mkdir, realpath } from "node:fs/promises";
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

/**
 * Throws {@link EventSocketDirUnsafeError} naming the directory and what to do, when it is unsafe.
 * Checks the directories the path really resolves to (a symlinked component such as `/var/run` →
 * `/run` is followed, not refused). The socket's own directory must not be writable by every user
 * even with the sticky bit: in a sticky shared directory (`/tmp`, `/dev/shm`) another user can bind
 * the socket name first, before our reader does. The sticky bit is enough on the directories above it.
 */
export async function checkSocketDir(socketPath: string, euid = process.geteuid?.() ?? 0): Promise<void> {
  const dir = await realpath(dirname(resolve(socketPath)));
  const own = await lstat(dir);
  if (own.uid !== euid && own.uid !== 0) {
    throw new EventSocketDirUnsafeError(
      `event socket directory ${dir} is owned by uid ${own.uid}, not by this user (uid ${euid}) or root: another user could replace the socket and read every event; use a directory this user owns (e.g. data_dir, or /run/tbg)`,
    );
  }
  if ((own.mode & 0o002) !== 0) {
    throw new EventSocketDirUnsafeError(
      `event socket directory ${dir} is writable by every user${(own.mode & 0o1000) !== 0 ? " (the sticky bit does not help: another user can bind the socket name first)" : ""}: use a directory of its own that only this user (or its group) can write, e.g. data_dir or /run/tbg`,
    );
  }
  for (let d = dirname(dir); ; d = dirname(d)) {
    const st = await lstat(d);
    if ((st.mode & 0o002) !== 0 && (st.mode & 0o1000) === 0) {
      throw new EventSocketDirUnsafeError(
        `${d} (on the event socket's path) is writable by every user without the sticky bit: another user could replace the socket's directory; chmod o-w ${d} or choose another directory`,
      );
    }
    if (dirname(d) === d) break;
  }
}

/**
 * Why the sink must not send to `socketPath` (null when it may): the path is not a socket, or a socket
 * bound by another user (root excepted), i.e. not the reader we expect. Missing = null (nobody reads;
 * the send itself reports that).
 */
export function socketOwnerProblem(socketPath: string, euid = process.geteuid?.() ?? 0): string | null {
  let st;
  try {
    st = lstatSync(socketPath);
  } catch {
    return null;
  }
  if (!st.isSocket()) return `${socketPath} is not a socket: refusing to send events to it`;
  if (st.uid !== euid && st.uid !== 0) return `${socketPath} is a socket of uid ${st.uid}, not of this user (uid ${euid}) or root: another user may have replaced the reader's socket; refusing to send events to it`;
  return null;
}
