/**
 * `npm run token -- <stream name> [ttl seconds]`: prints a signed playback URL path for a stream,
 * using ORIGIN_PLAYBACK_SECRET from the environment (the same secret as the server's).
 * Exit 2 with a message on bad input.
 */
import { mintToken, MAX_TOKEN_SECONDS } from '../origin/playback-token.js';
import { STREAM_NAME_PATTERN } from '../config/schema.js';

const [name, ttlText = '3600'] = process.argv.slice(2);
const secret = process.env.ORIGIN_PLAYBACK_SECRET;
const ttl = Number(ttlText);
const fail = (message: string) => {
  process.stderr.write(`mint-token: ${message}\nusage: ORIGIN_PLAYBACK_SECRET=… npm run token -- <stream name> [ttl seconds, default 3600]\n`);
  process.exit(2);
};
if (!secret || secret.length < 16) fail('ORIGIN_PLAYBACK_SECRET must be set (at least 16 characters), as on the server');
if (!name || !new RegExp(STREAM_NAME_PATTERN).test(name)) fail(`the stream name must match ${STREAM_NAME_PATTERN}, got ${JSON.stringify(name ?? '')}`);
if (!Number.isInteger(ttl) || ttl < 10 || ttl > MAX_TOKEN_SECONDS) fail(`the ttl must be a whole number of seconds from 10 to ${MAX_TOKEN_SECONDS}, got ${JSON.stringify(ttlText)}`);
const expiry = Math.floor(Date.now() / 1000) + ttl;
const token = mintToken(secret!, name!, expiry);
process.stdout.write(`${JSON.stringify({ name, token, expiresAt: new Date(expiry * 1000).toISOString(), path: `/live/${name}/t/${token}/master.m3u8`, watch: `/watch/${name}?token=${token}` })}\n`);
