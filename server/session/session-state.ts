/**
 * The session's state machine, in one place (pure): the states, the events that move them, and
 * the table of allowed moves. LiveSession changes its state only through `transition`, so a move
 * that is not in the table is a bug that throws where it happens instead of a stream that stays
 * "starting" for good.
 *
 *   starting --playable--> live --publisherLost--> reconnecting --graceOver--> ended
 *       |                   ^                        |   |
 *       |                   '------publisherBack-----'   '--publisherBackUnplayed--> starting
 *       '--publisherLost--> reconnecting
 *   starting | live | reconnecting --stop--> ended,  --giveUp--> failed
 *
 * An ffmpeg crash or stall, or a takeover by another publisher, does not change the state: the
 * playlists go on (after a discontinuity) and viewers keep watching.
 */
import { ERR_SESSION_TRANSITION } from '../errors.js';

/** Where a session is in its life. */
export type SessionState = 'starting' | 'live' | 'reconnecting' | 'ended' | 'failed';

/** What happens to a session. */
export type SessionEvent =
  /** every rendition has an init segment and a first segment: the master playlist exists */
  | 'playable'
  /** the publisher's connection closed (clean end or a drop) */
  | 'publisherLost'
  /** a publisher came back within the grace, and the stream was playable before */
  | 'publisherBack'
  /** a publisher came back within the grace before the stream was ever playable */
  | 'publisherBackUnplayed'
  /** another publisher with the key replaced the current one (takeover policy) */
  | 'publisherReplaced'
  /** nobody came back within the grace */
  | 'graceOver'
  /** kicked, or the server shuts down */
  | 'stop'
  /** ffmpeg failed too often */
  | 'giveUp';

/** Every allowed move: state -> event -> next state. Anything else is a bug. */
export const TRANSITIONS: Readonly<Record<SessionState, Readonly<Partial<Record<SessionEvent, SessionState>>>>> = {
  starting: { playable: 'live', publisherLost: 'reconnecting', publisherReplaced: 'starting', stop: 'ended', giveUp: 'failed' },
  live: { publisherLost: 'reconnecting', publisherReplaced: 'live', stop: 'ended', giveUp: 'failed' },
  reconnecting: { publisherBack: 'live', publisherBackUnplayed: 'starting', graceOver: 'ended', stop: 'ended', giveUp: 'failed' },
  ended: {},
  failed: {},
};

/** The state after `event`; throws ERR_SESSION_TRANSITION for a move the table does not allow. */
export function transition(state: SessionState, event: SessionEvent): SessionState {
  const next = TRANSITIONS[state][event];
  if (next === undefined) throw new ERR_SESSION_TRANSITION(event, state);
  return next;
}

/** True in the states where a publisher is, or may come back, on the stream. */
export function isLiveState(state: SessionState): boolean {
  return state === 'starting' || state === 'live' || state === 'reconnecting';
}
