// Who sent an API request, for the audit log: over the Unix socket, the
// client's uid and pid as the kernel recorded them at connect(2)
// (SO_PEERCRED, through the product addon's "peer" part,
// dataplane/io/peer_napi.cc); over TCP, the client's address and port. The
// string is what every log line of a request says in `peer`.
import type net from 'node:net';
import { native } from '../native.js';

export interface PeerCredentials { pid: number; uid: number; gid: number }

/** The typed wrapper of peer.credentials(fd): null if fd is not a connected Unix socket. */
export function peerCredentials(fd: number): PeerCredentials | null {
  return native.peer.credentials(fd) as PeerCredentials | null;
}

// Per connection: the credentials are those of connect(2), whatever the
// client does later, so one system call serves all its requests.
const known = new WeakMap<net.Socket, string>();

/** "unix uid=U pid=P" for a client of the API socket ("unix" if the kernel does not say). */
export function unixPeer(socket: net.Socket): string {
  let peer = known.get(socket);
  if (peer === undefined) {
    // libuv's stream handle knows its descriptor; Node.js has no public accessor.
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const cred = typeof fd === 'number' && fd >= 0 ? peerCredentials(fd) : null;
    peer = cred ? `unix uid=${cred.uid} pid=${cred.pid}` : 'unix';
    known.set(socket, peer);
  }
  return peer;
}
