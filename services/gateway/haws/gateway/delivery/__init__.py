"""Getting frames to one client's socket: the connection, its bounded send queue,
the node's flush pass and the RFC 6455 bytes it writes."""
