/**
 * Typed session events (the pattern of hls.js src/events.ts): an enum, a payload map, and a small
 * emitter whose listeners are added and removed in pairs. No global emitter.
 */

/** What happens to a live stream. */
export enum StreamEvent {
  Started = 'stream.started',
  Ready = 'stream.ready',
  Ended = 'stream.ended',
  Failed = 'stream.failed',
}

/** Payload of each event. */
export interface StreamEventMap {
  [StreamEvent.Started]: { name: string; at: number };
  [StreamEvent.Ready]: { name: string; at: number; msSincePublish: number };
  [StreamEvent.Ended]: { name: string; at: number; reason: string };
  [StreamEvent.Failed]: { name: string; at: number; error: string };
}

type Listener<E extends StreamEvent> = (payload: StreamEventMap[E]) => void;

/** A typed emitter; `on` returns the function that removes the listener. */
export class StreamEvents {
  private readonly listeners = new Map<StreamEvent, Set<Listener<never>>>();

  on<E extends StreamEvent>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set!.delete(listener as Listener<never>);
  }

  emit<E extends StreamEvent>(event: E, payload: StreamEventMap[E]): void {
    for (const l of this.listeners.get(event) ?? []) (l as Listener<E>)(payload);
  }
}
