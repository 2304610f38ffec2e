"""haws api: the server API for application backends, over NATS and over HTTP."""
