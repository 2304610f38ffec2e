/**
 * One error class for everything the SDK reports, with a `code` an app can
 * switch on: the protocol's error codes (`bad_request`, `forbidden`, ...) plus
 * the SDK's own (`outbox_full`, `expired`, `origin_refused`, ...).
 */
export class HawsError extends Error {
  readonly code: string;
  readonly topic: string | undefined;

  constructor(code: string, message: string, topic?: string) {
    super(message);
    this.name = "HawsError";
    this.code = code;
    this.topic = topic;
  }
}
