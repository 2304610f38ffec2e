"""Getting frames to one client's socket: the connection, its bounded send queue,
the node's flush pass (gathered while the loop is behind) and the RFC 6455 bytes
it writes."""
