/**
 * Shared subscriptions with a reference count, released a task later.
 *
 * React StrictMode mounts every effect, cleans it up and mounts it again at
 * once. Unsubscribing in that cleanup would drop the topic's cursor and, with
 * `since`, replay its history into a component that already has it. So the
 * last release only schedules the unsubscribe; a mount that comes back within
 * the same task takes the subscription over untouched.
 */
import type { Client, SubscribeOptions, Subscription } from "@haws/client";

interface Entry {
  sub: Subscription;
  users: number;
}

const tables = new WeakMap<Client, Map<string, Entry>>();

export function acquire(client: Client, topic: string, options: SubscribeOptions): Subscription {
  let table = tables.get(client);
  if (!table) tables.set(client, (table = new Map()));
  let entry = table.get(topic);
  if (!entry || !entry.sub.active) {
    entry = { sub: client.subscribe(topic, options), users: 0 };
    table.set(topic, entry);
  }
  entry.users++;
  return entry.sub;
}

export function release(client: Client, topic: string): void {
  const table = tables.get(client);
  const entry = table?.get(topic);
  if (!table || !entry) return;
  entry.users--;
  setTimeout(() => {
    if (entry.users > 0 || table.get(topic) !== entry) return;
    table.delete(topic);
    entry.sub.unsubscribe().catch(() => {}); // the node may be gone; the session forgets it anyway
  }, 0);
}
