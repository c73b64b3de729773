import { errnoName, libc as loadLibc, linuxOnce } from './libc.js';

/**
 * Handing descriptors to a process the daemon talks to: a Unix socket pair
 * of packets (SOCK_SEQPACKET: one request is one message, never split nor
 * merged) and sendmsg with SCM_RIGHTS, through koffi (Node's sockets cannot
 * carry descriptors). The sandbox's entry forker (entry-forker.ts) receives
 * each command's pipes this way. Sends never block the event loop
 * (MSG_DONTWAIT): a peer that does not keep up makes a send `busy`.
 */

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
/** struct cmsghdr on LP64: size_t len, int level, int type, then the data (aligned to 8). */
const CMSG_HEADER = 16;

/** What became of a send: `busy` (the peer's queue is full), `closed` (the peer is gone), `too-big` (over the socket's buffer). */
export type SendResult = 'sent' | 'busy' | 'closed' | 'too-big';

export interface FdPassing {
  /** A connected pair, both ends close-on-exec. */
  pair(): { ours: number; theirs: number };
  /** One message of `body` carrying copies of `fds` (the caller keeps and closes its own). */
  send(socket: number, body: Buffer, fds: readonly number[]): SendResult;
}

/** Descriptor passing for this process, or null where koffi or glibc cannot be had. */
export const fdPassing: () => FdPassing | null = linuxOnce(load);

function load(): FdPassing {
  const { koffi, lib } = loadLibc();
  koffi.struct('trl_iovec', { base: 'void *', len: 'size_t' });
  koffi.struct('trl_msghdr', { name: 'void *', namelen: 'uint32_t', iov: 'trl_iovec *', iovlen: 'size_t', control: 'void *', controllen: 'size_t', flags: 'int' });
  const sendmsg = lib.func('long sendmsg(int fd, const trl_msghdr *msg, int flags)') as (fd: number, msg: unknown, flags: number) => number;
  const socketpair = lib.func('int socketpair(int domain, int type, int protocol, _Out_ int *sv)') as (d: number, t: number, p: number, sv: number[]) => number;
  return {
    pair() {
      const sv = [0, 0];
      if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) !== 0) {
        throw new Error(`socketpair: ${errnoName(koffi.errno()) ?? 'EIO'} (is the daemon out of file descriptors?)`);
      }
      const [ours = -1, theirs = -1] = sv;
      return { ours, theirs };
    },
    send(socket, body, fds) {
      const control = Buffer.alloc(CMSG_HEADER + 8 * Math.ceil((4 * fds.length) / 8));
      control.writeBigUInt64LE(BigInt(CMSG_HEADER + 4 * fds.length), 0);
      control.writeInt32LE(SOL_SOCKET, 8);
      control.writeInt32LE(SCM_RIGHTS, 12);
      fds.forEach((fd, i) => control.writeInt32LE(fd, CMSG_HEADER + 4 * i));
      const msg = { name: null, namelen: 0, iov: [{ base: body, len: body.length }], iovlen: 1, control: fds.length > 0 ? control : null, controllen: fds.length > 0 ? control.length : 0, flags: 0 };
      if (sendmsg(socket, msg, MSG_DONTWAIT | MSG_NOSIGNAL) === body.length) return 'sent';
      const code = errnoName(koffi.errno());
      if (code === 'EAGAIN' || code === 'ENOBUFS' || code === 'EINTR') return 'busy';
      if (code === 'EMSGSIZE') return 'too-big';
      return 'closed';
    },
  };
}
