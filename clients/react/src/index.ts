/**
 * React bindings for `@haws/client`: one `Client` per app in a provider, and
 * hooks for the connection state, a topic's messages and its members. Every
 * hook subscribes in an effect and cleans up after itself; StrictMode's double
 * mount neither duplicates a subscription nor replays history twice.
 */
import {
  type Client,
  type Member,
  type Message,
  Presence,
  type StateChange,
  type SubscribeOptions,
} from "@haws/client";
import {
  type ReactNode,
  createContext,
  createElement,
  useContext,
  useEffect,
  useRef,
  useState,
  useSyncExternalStore,
} from "react";
import { acquire, release } from "./topics.js";

const HawsContext = createContext<Client | null>(null);

export function HawsProvider(props: { client: Client; children?: ReactNode }): ReactNode {
  return createElement(HawsContext.Provider, { value: props.client }, props.children);
}

export function useClient(): Client {
  const client = useContext(HawsContext);
  if (!client) throw new Error("useClient() outside <HawsProvider>");
  return client;
}

/** The last state change (`{state, reason, reconnecting, ...}`), re-rendering on each. */
export function useConnectionState(): Pick<StateChange, "state" | "reason" | "reconnecting" | "error"> {
  const client = useClient();
  const last = useRef<StateChange | null>(null);
  const subscribe = (notify: () => void): (() => void) =>
    client.on("state", (change) => {
      last.current = change;
      notify();
    });
  const state = useSyncExternalStore(subscribe, () => client.state, () => client.state);
  const change = last.current;
  return change && change.state === state ? change : { state, reason: "" };
}

export interface SubscriptionView {
  /** Every message delivered since this component mounted, in order, each once. */
  messages: Message[];
  /** False while a `recovered` with `complete: false` is the latest word on this topic. */
  complete: boolean;
}

/** Subscribe to `topic` while mounted; `limit` keeps the last N messages (default 500). */
export function useSubscription(topic: string, options: SubscribeOptions = {}, limit = 500): SubscriptionView {
  const client = useClient();
  const [view, setView] = useState<SubscriptionView>({ messages: [], complete: true });
  const { since, presence } = options;
  useEffect(() => {
    const opts: SubscribeOptions = {};
    if (since !== undefined) opts.since = since;
    if (presence !== undefined) opts.presence = presence;
    const sub = acquire(client, topic, opts);
    const offs = [
      sub.on("message", (m) =>
        setView((v) => ({ ...v, messages: [...v.messages, m].slice(-limit) })),
      ),
      sub.on("recovered", (r) => setView((v) => ({ ...v, complete: r.complete }))),
    ];
    return () => {
      for (const off of offs) off();
      release(client, topic);
    };
  }, [client, topic, since, presence, limit]);
  return view;
}

/** Who is on `topic` (subscribes with `presence: true` while mounted). */
export function usePresence(topic: string): Member[] {
  const client = useClient();
  const [members, setMembers] = useState<Member[]>([]);
  useEffect(() => {
    const sub = acquire(client, topic, { presence: true });
    const presence = new Presence(sub);
    const off = presence.on("change", setMembers);
    if (client.state === "connected") void presence.sync(); // it may be confirmed already
    return () => {
      off();
      presence.stop();
      release(client, topic);
    };
  }, [client, topic]);
  return members;
}
