"""Reports: the JSON report (the canonical record) and its views."""
