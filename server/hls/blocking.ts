/**
 * Blocking playlist reload rules (pure), RFC 8216bis section 6.2.5.2: a request with
 * `_HLS_msn=N[&_HLS_part=P]` is answered once the playlist holds segment N (or part P of it).
 */

/** Where a rendition is: the segment being built and how many parts it has. */
export interface LiveEdge {
  /** Media sequence number of the segment being built (LAST-MSN). */
  openMsn: number;
  /** Parts the open segment has so far (0 right after a segment closed on its last part). */
  openParts: number;
  /** Parts of the segment before the open one (openMsn − 1), 0 if this window does not hold it. */
  previousParts: number;
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
  if (req.msn < edge.openMsn - 1) return true;
  if (req.msn === edge.openMsn - 1) {
    if (req.part === undefined || req.part < edge.previousParts) return true;
    // A part index past the end of a finished segment means part 0 of the next one (a client asks
    // for "the part after the last one I have"), which may not exist yet: a segment closes on its
    // own last part when the encoder keys the next (segmenter.ts, closeAtBoundary).
    return edge.openParts > 0;
  }
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
