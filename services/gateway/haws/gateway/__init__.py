"""The haws gateway node: WebSocket clients in, JetStream and live fan-out behind."""
