"""What the gateway needs from the message broker (store, live feed, history,
presence calls) and its implementations over NATS JetStream."""
