// node-media-server 4.x ships no types; this is the part rtmp-ingest.ts uses.
declare module 'node-media-server' {
  import type { Socket } from 'node:net';

  /** A session as NMS passes it to its events (RtmpSession, src/session/rtmp_session.js). */
  export interface NmsSession {
    id: string;
    ip: string;
    protocol: string;
    streamApp: string;
    streamName: string;
    streamPath: string;
    streamQuery: Record<string, unknown>;
    socket: Socket;
    videoCodec: number | string;
    videoWidth: number;
    videoHeight: number;
    videoFramerate: number;
    videoDatarate: number;
    audioCodec: number | string;
    broadcast: NmsBroadcast;
    close(): void;
  }

  /** A subscriber the broadcast writes FLV messages to (src/server/broadcast_server.js). */
  export interface NmsSubscriber {
    id: string;
    ip: string;
    protocol: 'flv';
    endTime: number;
    sendBuffer(buffer: Buffer): void;
  }

  /** One stream path's fan-out. */
  export interface NmsBroadcast {
    publishGraceMs: number;
    postPlay(session: NmsSubscriber): string | null;
    donePlay(session: NmsSubscriber): void;
    donePublish(session: NmsSession): void;
  }

  export default class NodeMediaServer {
    constructor(config: Record<string, unknown>);
    rtmpServer: { handleRequest(socket: Socket): void };
    on(event: 'prePublish' | 'postPublish' | 'donePublish' | 'prePlay' | 'postPlay' | 'donePlay', listener: (session: NmsSession) => void): void;
    stop(): Promise<void>;
  }
}
