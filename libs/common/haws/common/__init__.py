"""What every haws service shares: settings, NATS names and bootstrap, codecs, protocol."""
