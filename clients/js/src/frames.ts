/**
 * Protocol v1 frames as the SDK sees them, and the JSON codec.
 *
 * The codec is tolerant of batching (several frames in one WebSocket message,
 * newline-separated) because the SDK always asks for it in `hello`: fewer
 * `onmessage` wake-ups when a resume replays history.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Who {
  session: string;
  user?: string;
}

export interface Member extends Who {
  node?: string;
}

/** (haws) The totals of a counts-only (large) topic, which sends these instead of join/leave. */
export interface Counts {
  count: number;
  users: number;
}

/** (haws) A `presence` answer: `sample` says `members` is a bounded sample and `counts` the totals. */
export interface PresenceAnswer {
  members: Member[];
  counts?: Counts | undefined;
}

/** A server frame: `op` plus whatever fields that op carries. */
export interface ServerFrame {
  op: string;
  id?: number;
  topic?: string;
  seq?: number;
  prev?: number;
  ts?: number;
  data?: Json;
  /** `msg`: the publisher's user; `recovered`: the first seq retention lost. */
  from?: string | number;
  to?: number;
  mid?: string;
  session?: string;
  node?: string;
  resumed?: boolean;
  heartbeat?: number;
  ttl?: number;
  dup?: boolean;
  complete?: boolean;
  who?: Who;
  members?: Member[];
  /** (haws) `counts`, and `presence` on a counts-only topic: member sessions, distinct users. */
  count?: number;
  users?: number;
  /** (haws) `presence`: `members` is a bounded sample of a counts-only topic. */
  sample?: boolean;
  /** (haws) `counts`: `members` = back to per-member mode, `members` holds the whole list. */
  mode?: string;
  reason?: string;
  delay?: number;
  code?: string;
  message?: string;
  exp?: number;
  undeliverable?: boolean;
}

export type ClientFrame = { op: string; id?: number } & Record<string, unknown>;

import { HawsError } from "./errors.js";

const encoder = /* @__PURE__ */ new TextEncoder();
const TOPIC = /^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$/;

/** Protocol v1 topics: 1-200 chars of `A-Za-z0-9_:-` in `.`-separated tokens; else `bad_request`. */
export function checkTopic(topic: string): void {
  if (topic.length > 200 || !TOPIC.test(topic)) {
    throw new HawsError("bad_request", `not a topic: ${JSON.stringify(topic)}`, topic);
  }
}

export function encode(frame: ClientFrame): string {
  return JSON.stringify(frame);
}

/** UTF-8 size: what the node's frame limit counts, not JavaScript's UTF-16 length. */
export function byteLength(text: string): number {
  return encoder.encode(text).length;
}

/**
 * Frames in one WebSocket message; throws `SyntaxError` on anything that is not
 * a JSON object with a string `op`, so the caller can close with 4002 like the
 * server does.
 */
export function decode(message: string): ServerFrame[] {
  const frames: ServerFrame[] = [];
  for (const line of message.split("\n")) {
    if (!line.trim()) continue;
    const frame: unknown = JSON.parse(line);
    if (typeof frame !== "object" || frame === null || typeof (frame as ServerFrame).op !== "string") {
      throw new SyntaxError("frame is not an object with an op");
    }
    frames.push(frame as ServerFrame);
  }
  return frames;
}
