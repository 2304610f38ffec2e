/**
 * The protocol's close-code table, as decisions: should the SDK reconnect, and
 * with the same session? Unknown codes (1006 abnormal closure, a proxy's 1001)
 * are network trouble: reconnect and resume.
 */

export interface CloseRule {
  /** Reconnecting makes sense (possibly after a new token). */
  reconnect: boolean;
  /** The session is still ours to resume. */
  resume: boolean;
  /** Prefer another node next time. */
  move: boolean;
}

const RULES: Record<number, CloseRule> = {
  4000: { reconnect: true, resume: true, move: true },
  4001: { reconnect: false, resume: true, move: false },
  4002: { reconnect: true, resume: true, move: false },
  4008: { reconnect: true, resume: true, move: false },
  4009: { reconnect: false, resume: false, move: false },
  1009: { reconnect: true, resume: true, move: false },
  1013: { reconnect: true, resume: true, move: true },
};

const NETWORK: CloseRule = { reconnect: true, resume: true, move: true };

export function closeRule(code: number): CloseRule {
  return RULES[code] ?? NETWORK;
}
