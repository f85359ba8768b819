"""Security middleware: rate limiting, IP reputation and brute-force detection on Redis."""
