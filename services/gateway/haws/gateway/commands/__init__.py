"""Protocol v1 requests after ``hello``: the dispatcher and a connection's
publishes waiting for their acks."""
