"""Execute a plan: lease rooms, submit runs once, poll them to a final status, journal all."""
