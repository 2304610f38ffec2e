"""Whether this node still hears the backplane: the canary probe and what a deaf node does."""
