"""Room sources: where each run's Daily room (URL and meeting token) comes from."""
