"""A session beyond one connection: its resumable record (keeper and store), one
owner at a time (takeover, the presence link, the fence after a pause)."""
