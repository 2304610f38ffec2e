"""The replay service: incremental history pulls from JetStream after a reconnect."""
