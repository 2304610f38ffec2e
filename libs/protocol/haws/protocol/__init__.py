"""Protocol v1 as both ends speak it: codecs, client frames, error and close codes,
and the public NATS names and lifecycle event a backend shares with the server.

Its own package so the Python SDK can ship it without anything server-side (and the
server SDK can depend on that SDK for it): it imports the standard library and
msgpack (orjson when installed), nothing else.
"""
