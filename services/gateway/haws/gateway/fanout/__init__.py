"""Getting each stored message to every local subscriber once and in order: the
hub (connections and topics), a topic's seq/prev chain, subscriptions and their
catch-up, the recovery rules both share, the recent window and shared frames."""
