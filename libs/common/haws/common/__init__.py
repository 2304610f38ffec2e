"""What every haws service shares: settings, NATS names and bootstrap, stored messages.

The wire protocol both ends speak (codecs, client frames, error codes) lives in
``haws.protocol``, which the SDK ships alone.
"""
