/**
 * Blocking playlist reload rules (pure), RFC 8216bis section 6.2.5.2: a request with
 * `_HLS_msn=N[&_HLS_part=P]` is answered once the playlist holds segment N (or part P of it).
 */

/** Where a rendition is: the segment being built and how many parts it has. */
export interface LiveEdge {
  /** Media sequence number of the segment being built (LAST-MSN). */
  openMsn: number;
  /** Parts the open segment has so far. */
  openParts: number;
  ended: boolean;
}

/** A client's blocking request. */
export interface BlockingRequest {
  msn: number;
  part?: number;
}

/** What to do with a blocking request. */
export type BlockingDecision = { kind: 'answer' } | { kind: 'hold' } | { kind: 'reject'; reason: string };

/** How far ahead of the live edge a request may ask (in segments) before it is a client error. */
export const MAX_MSN_AHEAD = 2;

/** True when the playlist already holds what the request waits for. */
export function satisfies(req: BlockingRequest, edge: LiveEdge): boolean {
  if (edge.ended) return true;
  // A finished segment satisfies any part index of it: a part index past its end means part 0 of
  // the next segment, which exists as soon as the segment is finished.
  if (req.msn < edge.openMsn) return true;
  if (req.msn > edge.openMsn || req.part === undefined) return false;
  return req.part < edge.openParts;
}

/** Answer now, hold, or reject (N more than 2 segments ahead: 400). */
export function decide(req: BlockingRequest, edge: LiveEdge): BlockingDecision {
  if (satisfies(req, edge)) return { kind: 'answer' };
  if (req.msn > edge.openMsn + MAX_MSN_AHEAD) {
    return { kind: 'reject', reason: `_HLS_msn=${req.msn} is more than ${MAX_MSN_AHEAD} segments ahead of the live edge (${edge.openMsn})` };
  }
  return { kind: 'hold' };
}
