"""Protocol v1 as both ends speak it: codecs, client frames, error and close codes.

Its own package so the Python SDK can ship it without anything server-side: it
imports the standard library and msgpack (orjson when installed), nothing else.
"""
