"""The live socket: the session consumer, each worker's hub, frame protocol, presence, serve."""
